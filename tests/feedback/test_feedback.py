"""Backends without hardware, the pattern player, config and imports."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
import structlog
from pydantic import TypeAdapter, ValidationError

from edge.feedback import (
    DEFAULT_PATTERNS,
    OFF,
    FeedbackConfig,
    GPIOFeedbackConfig,
    LogFeedback,
    LogFeedbackConfig,
    NoFeedback,
    NoFeedbackConfig,
    PatternPlayer,
    Signal,
    Step,
    create_feedback,
)

ROOT = Path(__file__).resolve().parents[2]
FEEDBACK = TypeAdapter[Any](FeedbackConfig)


def test_log_backend_logs_one_line_per_outcome() -> None:
    feedback = create_feedback(LogFeedbackConfig())
    assert isinstance(feedback, LogFeedback)
    with structlog.testing.capture_logs() as logs, feedback:
        for outcome in Signal:
            feedback.signal(outcome)
    assert [(e["event"], e["outcome"]) for e in logs] == [
        ("feedback", "accepted"),
        ("feedback", "already_recorded"),
        ("feedback", "unknown"),
        ("feedback", "error"),
        ("feedback", "refused"),
    ]
    assert feedback.wait_idle(0)


def test_none_backend_still_tells_observers() -> None:
    feedback = create_feedback(NoFeedbackConfig())
    assert isinstance(feedback, NoFeedback)
    seen: list[Signal] = []
    feedback.when_signalled = seen.append
    feedback.signal(Signal.ERROR)
    feedback.close()
    feedback.signal(Signal.ACCEPTED)
    assert seen == [Signal.ERROR]
    assert "closed" in repr(feedback)


def test_a_failing_observer_does_not_break_signal() -> None:
    def explode(outcome: Signal) -> None:
        raise RuntimeError("observer bug")

    feedback = NoFeedback()
    feedback.when_signalled = explode
    feedback.signal(Signal.ACCEPTED)


class Recorder:
    def __init__(self, fail_first: int = 0) -> None:
        self.steps: list[Step] = []
        self.fail_first = fail_first
        self.lock = threading.Lock()

    def __call__(self, step: Step) -> None:
        with self.lock:
            if self.fail_first:
                self.fail_first -= 1
                raise OSError("pin gone")
            self.steps.append(step)


def test_player_plays_steps_then_turns_off() -> None:
    recorder = Recorder()
    player = PatternPlayer(recorder, time_scale=0)
    player.play(DEFAULT_PATTERNS[Signal.ACCEPTED])
    assert player.wait_idle(20)
    player.close()
    assert recorder.steps == [*DEFAULT_PATTERNS[Signal.ACCEPTED], OFF, OFF]


def test_player_survives_output_errors() -> None:
    recorder = Recorder(fail_first=2)
    player = PatternPlayer(recorder, time_scale=0)
    player.play((Step(0, green=True), Step(0, red=True), Step(0, buzzer=True)))
    assert player.wait_idle(20)
    player.play((Step(0, green=True),))
    assert player.wait_idle(20)
    player.close()
    assert recorder.steps == [Step(0, buzzer=True), OFF, Step(0, green=True), OFF, OFF]


def test_player_refuses_negative_scale_and_steps() -> None:
    with pytest.raises(ValueError, match="time_scale"):
        PatternPlayer(Recorder(), time_scale=-1)
    with pytest.raises(ValueError, match="duration"):
        Step(-0.1)


def test_patterns_can_be_overridden_per_outcome(factory: Any) -> None:
    from edge.feedback.gpio import GPIOFeedback

    custom = {Signal.ACCEPTED: (Step(0, red=True),)}
    config = GPIOFeedbackConfig(green_pin=17, red_pin=27, time_scale=0)
    with GPIOFeedback(config, pin_factory=factory, patterns=custom) as feedback:
        assert feedback.patterns[Signal.UNKNOWN] == DEFAULT_PATTERNS[Signal.UNKNOWN]
        feedback.signal(Signal.ACCEPTED)
        assert feedback.wait_idle(20)
    assert [s.state for s in factory.pin(27).states] == [False, True, False]


# -- config ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "model"),
    [
        ({"type": "gpio", "green_pin": 17, "red_pin": 27, "buzzer_pin": 22}, GPIOFeedbackConfig),
        ({"type": "gpio", "rgb_pins": [5, 6, 13]}, GPIOFeedbackConfig),
        ({"type": "log"}, LogFeedbackConfig),
        ({"type": "none"}, NoFeedbackConfig),
    ],
)
def test_type_selects_the_backend(data: dict[str, Any], model: type) -> None:
    assert isinstance(FEEDBACK.validate_python(data), model)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "gpio"}, "no pins set"),
        ({"type": "gpio", "green_pin": 17, "red_pin": 17}, "used twice"),
        ({"type": "gpio", "green_pin": 17, "rgb_pins": [5, 6, 13]}, "not both"),
        ({"type": "gpio", "green_pin": 40}, "less than or equal to 27"),
        ({"type": "gpio", "buzzer_pin": 22, "volume": 3}, "Extra inputs"),
        ({"type": "beeper"}, "does not match any of the expected tags"),
    ],
)
def test_invalid_config_is_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FEEDBACK.validate_python(data)


def test_every_field_is_described() -> None:
    for model in (GPIOFeedbackConfig, LogFeedbackConfig, NoFeedbackConfig):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


def test_factory_refuses_unknown_configs() -> None:
    with pytest.raises(TypeError):
        create_feedback(object())  # type: ignore[arg-type]


def test_import_does_not_load_gpiozero() -> None:
    code = """
        import sys
        import edge.feedback
        from edge.feedback import LogFeedbackConfig, create_feedback
        create_feedback(LogFeedbackConfig()).signal("accepted")
        assert "gpiozero" not in sys.modules, "gpiozero imported without a gpio backend"
    """
    subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, check=True, timeout=120)
