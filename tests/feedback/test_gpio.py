"""Pin sequences of each outcome on gpiozero's MockFactory."""

from __future__ import annotations

import pytest
from gpiozero.pins.mock import MockFactory

from edge.feedback import (
    DEFAULT_PATTERNS,
    Feedback,
    FeedbackError,
    GPIOFeedbackConfig,
    Signal,
    Step,
    create_feedback,
)
from edge.feedback.gpio import GPIOFeedback
from tests.feedback.conftest import BUZZER, GREEN, RED, RGB, states
from tests.support.wait import wait_until

F, T = False, True


def leds(factory: MockFactory, **options: object) -> GPIOFeedback:
    config = GPIOFeedbackConfig.model_validate(
        {"green_pin": GREEN, "red_pin": RED, "buzzer_pin": BUZZER, "time_scale": 0, **options}
    )
    feedback = create_feedback(config, pin_factory=factory)
    assert isinstance(feedback, GPIOFeedback)
    return feedback


def play(feedback: Feedback, outcome: Signal) -> None:
    feedback.signal(outcome)
    assert feedback.wait_idle(timeout=20)


@pytest.mark.parametrize(
    ("outcome", "green", "red", "buzzer"),
    [
        (Signal.ACCEPTED, [F, T, F], [F], [F, T, F]),
        (Signal.ALREADY_RECORDED, [F, T, F], [F], [F, T, F, T, F]),
        (Signal.UNKNOWN, [F], [F, T, F], [F, T, F]),
        (Signal.ERROR, [F], [F, T, F] * 6, [F, T, F] * 3),
        (Signal.REFUSED, [F], [F, T, F], [F, T, F, T, F]),
    ],
)
def test_outcome_patterns(
    factory: MockFactory,
    outcome: Signal,
    green: list[bool],
    red: list[bool],
    buzzer: list[bool],
) -> None:
    with leds(factory) as feedback:
        play(feedback, outcome)
        assert states(factory, GREEN) == compress(green)
        assert states(factory, RED) == compress(red)
        assert states(factory, BUZZER) == compress(buzzer)


def compress(levels: list[bool]) -> list[bool]:
    """MockPin records changes only: [F, T, F, F, T] is recorded as [F, T, F, T]."""
    out: list[bool] = []
    for level in levels:
        if not out or out[-1] != level:
            out.append(level)
    return out


def test_beep_lengths_tell_the_outcomes_apart() -> None:
    def beeps(outcome: Signal) -> list[float]:
        return [s.seconds for s in DEFAULT_PATTERNS[outcome] if s.buzzer]

    assert len(beeps(Signal.ACCEPTED)) == 1
    assert len(beeps(Signal.ALREADY_RECORDED)) == 2
    assert len(beeps(Signal.ERROR)) == 3
    assert beeps(Signal.UNKNOWN)[0] > 3 * beeps(Signal.ACCEPTED)[0]
    # Refused: two beeps like "already recorded", but each far longer, and with red, not green.
    refused = beeps(Signal.REFUSED)
    assert len(refused) == 2
    assert min(refused) > 3 * max(beeps(Signal.ALREADY_RECORDED))


def test_every_outcome_has_a_pattern_of_its_own(factory: MockFactory) -> None:
    """Played on the pins, no two outcomes look and sound the same; refused is one of them."""
    assert set(DEFAULT_PATTERNS) == set(Signal)
    seen: dict[tuple[tuple[object, ...], ...], Signal] = {}
    for outcome in Signal:
        pins = MockFactory()
        try:
            with leds(pins) as feedback:
                play(feedback, outcome)
                # Pin levels alone cannot tell a long beep from a short one: add the lengths.
                trace = (
                    tuple(states(pins, GREEN)),
                    tuple(states(pins, RED)),
                    tuple(states(pins, BUZZER)),
                    tuple(s.seconds for s in DEFAULT_PATTERNS[outcome] if s.buzzer),
                )
        finally:
            pins.reset()
        assert trace not in seen, f"{outcome} plays like {seen.get(trace)}"
        seen[trace] = outcome
    assert Signal.REFUSED in seen.values()


def test_active_low_wiring_inverts_the_pins(factory: MockFactory) -> None:
    with leds(factory, led_active_high=False, buzzer_active_high=False) as feedback:
        # Off at start means pins driven high.
        assert states(factory, GREEN) == [F, T]
        play(feedback, Signal.ACCEPTED)
        assert states(factory, GREEN) == [F, T, F, T]
        assert states(factory, BUZZER) == [F, T, F, T]
        assert states(factory, RED) == [F, T]


def test_rgb_led_without_pwm(factory: MockFactory) -> None:
    config = GPIOFeedbackConfig(rgb_pins=RGB, buzzer_pin=BUZZER, time_scale=0)
    with create_feedback(config, pin_factory=factory) as feedback:
        play(feedback, Signal.ACCEPTED)
        play(feedback, Signal.UNKNOWN)
    red, green, blue = RGB
    assert states(factory, green) == [F, T, F]
    assert states(factory, red) == [F, T, F]
    assert states(factory, blue) == [F]


def test_rgb_led_with_pwm_and_brightness(pwm_factory: MockFactory) -> None:
    config = GPIOFeedbackConfig(rgb_pins=RGB, rgb_pwm=True, rgb_brightness=0.25, time_scale=0)
    with create_feedback(config, pin_factory=pwm_factory) as feedback:
        play(feedback, Signal.ALREADY_RECORDED)
    red, green, blue = RGB
    assert states(pwm_factory, green)[1:] == [0.25, 0.0]
    assert states(pwm_factory, red)[1:] == []
    assert states(pwm_factory, blue)[1:] == []


def test_buzzer_only(factory: MockFactory) -> None:
    with create_feedback(
        GPIOFeedbackConfig(buzzer_pin=BUZZER, time_scale=0), pin_factory=factory
    ) as feedback:
        play(feedback, Signal.ERROR)
    assert states(factory, BUZZER) == [F, T, F, T, F, T, F]


LONG = {
    Signal.ERROR: (Step(600, red=True),),
    Signal.ACCEPTED: (Step(0.01, green=True, buzzer=True),),
}


def test_signal_returns_at_once_and_a_newer_outcome_preempts(factory: MockFactory) -> None:
    config = GPIOFeedbackConfig(green_pin=GREEN, red_pin=RED, buzzer_pin=BUZZER)
    with GPIOFeedback(config, pin_factory=factory, patterns=LONG) as feedback:
        feedback.signal(Signal.ERROR)  # a 10-minute pattern: signal() must not wait for it
        assert not feedback.wait_idle(timeout=0)
        wait_until(lambda: factory.pin(RED).state)
        feedback.signal(Signal.ACCEPTED)
        assert feedback.wait_idle(timeout=20)  # far less than the 600 s it pre-empted
    assert states(factory, RED) == [F, T, F]
    assert states(factory, GREEN) == [F, T, F]
    assert states(factory, BUZZER) == [F, T, F]


def test_close_turns_everything_off_mid_pattern(factory: MockFactory) -> None:
    config = GPIOFeedbackConfig(green_pin=GREEN, red_pin=RED, buzzer_pin=BUZZER)
    feedback = GPIOFeedback(config, pin_factory=factory, patterns=LONG)
    feedback.signal(Signal.ERROR)
    wait_until(lambda: factory.pin(RED).state)
    feedback.close()
    feedback.close()
    assert feedback.closed
    assert states(factory, RED) == [F, T, F]
    assert factory.pin(RED).function == "input"  # released
    feedback.signal(Signal.ACCEPTED)  # ignored after close, no error
    assert states(factory, GREEN) == [F]
    # The pins are free again for a new backend.
    leds(factory).close()


def test_when_signalled_sees_every_outcome(factory: MockFactory) -> None:
    seen: list[Signal] = []
    with leds(factory) as feedback:
        feedback.when_signalled = seen.append
        feedback.signal("unknown")
        feedback.signal(Signal.ACCEPTED)
        assert feedback.wait_idle(timeout=20)
        with pytest.raises(ValueError, match="'maybe'"):
            feedback.signal("maybe")
    assert seen == [Signal.UNKNOWN, Signal.ACCEPTED]


def test_pin_in_use_is_a_feedback_error(factory: MockFactory) -> None:
    first = leds(factory)
    try:
        with pytest.raises(FeedbackError, match="pin 17") as info:
            leds(factory)
        assert isinstance(info.value, OSError)
    finally:
        first.close()
    # The half-built second backend released the pins it had taken.
    leds(factory).close()


@pytest.mark.filterwarnings("ignore::gpiozero.PinFactoryFallback")
def test_no_gpio_on_this_machine_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    from gpiozero import Device

    if Device.pin_factory is not None:
        pytest.skip("a global pin factory is set in this process")
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    try:
        feedback = create_feedback(GPIOFeedbackConfig(green_pin=GREEN))
    except FeedbackError as exc:
        message = str(exc)
    else:
        feedback.close()
        pytest.skip("this machine has GPIO")
    finally:
        Device.pin_factory = None
    assert 'type = "log"' in message
    assert "pin 17" in message
