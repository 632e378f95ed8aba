"""gpiozero backend: LEDs (or one RGB LED) and a buzzer on BCM pins.

gpiozero is imported when the backend is built, not when this module is, so
nothing imports GPIO libraries on a machine that uses the log backend. Tests pass
gpiozero's ``MockFactory`` as ``pin_factory``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from edge.feedback.base import PatternFeedback
from edge.feedback.config import GPIOFeedbackConfig
from edge.feedback.errors import FeedbackError
from edge.feedback.patterns import Pattern, Signal, Step

log = structlog.get_logger(__name__)

NO_GPIO_HINT = (
    'on a machine without GPIO set [feedback] type = "log" '
    "(or GPIOZERO_PIN_FACTORY=mock for a dry run)"
)


class GPIOFeedback(PatternFeedback):
    """Plays the outcome patterns on gpiozero ``LED``/``RGBLED``/``Buzzer`` devices."""

    def __init__(
        self,
        config: GPIOFeedbackConfig,
        *,
        pin_factory: Any | None = None,
        patterns: Mapping[Signal, Pattern] | None = None,
    ) -> None:
        self.config = config
        self._devices: list[Any] = []
        self._green: Any | None = None
        self._red: Any | None = None
        self._rgb: Any | None = None
        self._buzzer: Any | None = None
        try:
            self._open_devices(pin_factory)
        except BaseException:
            self._close_devices()
            raise
        # The worker starts only once every device exists.
        super().__init__(time_scale=config.time_scale, patterns=patterns)
        log.info("feedback_ready", backend="gpio", pins=self.pins)

    @property
    def pins(self) -> dict[str, int]:
        cfg = self.config
        named = {"green": cfg.green_pin, "red": cfg.red_pin, "buzzer": cfg.buzzer_pin}
        if cfg.rgb_pins is not None:
            named |= dict(zip(("rgb_red", "rgb_green", "rgb_blue"), cfg.rgb_pins, strict=True))
        return {name: pin for name, pin in named.items() if pin is not None}

    def _open_devices(self, pin_factory: Any | None) -> None:
        try:
            import gpiozero
        except ImportError as exc:  # pragma: no cover - gpiozero is a dependency
            raise FeedbackError(f"gpiozero is not installed; {NO_GPIO_HINT}") from exc
        cfg = self.config

        def make(kind: str, pin: object, build: Any) -> Any:
            try:
                device = build()
            except Exception as exc:
                raise FeedbackError(
                    f"cannot drive the {kind} on pin {pin}: {exc}; {NO_GPIO_HINT}"
                ) from exc
            self._devices.append(device)
            return device

        if cfg.green_pin is not None:
            self._green = make(
                "green LED",
                cfg.green_pin,
                lambda: gpiozero.LED(
                    cfg.green_pin, active_high=cfg.led_active_high, pin_factory=pin_factory
                ),
            )
        if cfg.red_pin is not None:
            self._red = make(
                "red LED",
                cfg.red_pin,
                lambda: gpiozero.LED(
                    cfg.red_pin, active_high=cfg.led_active_high, pin_factory=pin_factory
                ),
            )
        if cfg.rgb_pins is not None:
            red, green, blue = cfg.rgb_pins
            self._rgb = make(
                "RGB LED",
                list(cfg.rgb_pins),
                lambda: gpiozero.RGBLED(
                    red,
                    green,
                    blue,
                    active_high=cfg.led_active_high,
                    pwm=cfg.rgb_pwm,
                    pin_factory=pin_factory,
                ),
            )
        if cfg.buzzer_pin is not None:
            self._buzzer = make(
                "buzzer",
                cfg.buzzer_pin,
                lambda: gpiozero.Buzzer(
                    cfg.buzzer_pin, active_high=cfg.buzzer_active_high, pin_factory=pin_factory
                ),
            )

    def _apply(self, step: Step) -> None:
        for device, on in ((self._green, step.green), (self._red, step.red)):
            if device is not None:
                device.value = on
        if self._rgb is not None:
            level = self.config.rgb_brightness if self.config.rgb_pwm else 1
            self._rgb.value = (level * step.red, level * step.green, 0)
        if self._buzzer is not None:
            self._buzzer.value = step.buzzer

    def _release(self) -> None:
        self._close_devices()

    def _close_devices(self) -> None:
        devices, self._devices = self._devices, []
        for device in devices:
            try:
                device.close()
            except Exception as exc:
                log.warning("feedback_close_error", device=repr(device), error=str(exc))
