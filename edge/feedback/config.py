"""Feedback settings: one backend per ``type``.

TOML example (``/etc/hadir/edge.toml``)::

    [feedback]
    type = "gpio"
    green_pin = 17      # BCM numbers
    red_pin = 27
    buzzer_pin = 22
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from edge.config_base import StrictModel

_Pin = Annotated[int, Field(ge=0, le=27)]


class GPIOFeedbackConfig(StrictModel):
    """LEDs and a buzzer on the Raspberry Pi's GPIO header, driven by gpiozero."""

    type: Literal["gpio"] = Field("gpio", description="Feedback backend.")
    green_pin: _Pin | None = Field(None, description="BCM pin of the green LED.")
    red_pin: _Pin | None = Field(None, description="BCM pin of the red LED.")
    rgb_pins: tuple[_Pin, _Pin, _Pin] | None = Field(
        None,
        description="BCM pins [red, green, blue] of an RGB LED, instead of green_pin/red_pin.",
    )
    buzzer_pin: _Pin | None = Field(None, description="BCM pin of the (active) buzzer.")
    led_active_high: bool = Field(
        True,
        description="false when an LED lights with its pin low (LED wired to 3V3, "
        "common-anode RGB LED).",
    )
    buzzer_active_high: bool = Field(
        True, description="false when the buzzer sounds with its pin low (most relay boards)."
    )
    rgb_pwm: bool = Field(
        False,
        description="Drive the RGB LED with software PWM, which makes rgb_brightness work; "
        "plain on/off otherwise.",
    )
    rgb_brightness: float = Field(
        1.0, gt=0, le=1, description="RGB LED brightness 0..1 (only with rgb_pwm)."
    )
    time_scale: float = Field(
        1.0,
        ge=0,
        le=10,
        description="Multiplies every pattern duration; 0 plays patterns instantly (tests).",
    )

    @model_validator(mode="after")
    def _wiring(self) -> Self:
        if self.rgb_pins is not None and (self.green_pin is not None or self.red_pin is not None):
            raise ValueError("set rgb_pins or green_pin/red_pin, not both")
        pins = [p for p in (self.green_pin, self.red_pin, self.buzzer_pin) if p is not None]
        pins += list(self.rgb_pins or ())
        if not pins:
            raise ValueError('no pins set; use type = "log" or "none" for a terminal without GPIO')
        if len(pins) != len(set(pins)):
            raise ValueError(f"a pin is used twice: {sorted(pins)}")
        return self


class LogFeedbackConfig(StrictModel):
    """Log each outcome instead of driving hardware (machines without GPIO, development)."""

    type: Literal["log"] = Field("log", description="Feedback backend.")


class NoFeedbackConfig(StrictModel):
    """No feedback at all."""

    type: Literal["none"] = Field("none", description="Feedback backend.")


FeedbackConfig = Annotated[
    GPIOFeedbackConfig | LogFeedbackConfig | NoFeedbackConfig,
    Field(discriminator="type"),
]
