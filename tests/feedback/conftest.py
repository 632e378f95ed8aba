"""gpiozero's MockFactory, passed explicitly so no test touches the global pin factory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

GREEN, RED, BUZZER = 17, 27, 22
RGB = (5, 6, 13)


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    pins = MockFactory()
    yield pins
    pins.reset()


@pytest.fixture
def pwm_factory() -> Iterator[MockFactory]:
    pins = MockFactory(pin_class=MockPWMPin)
    yield pins
    pins.reset()


def states(factory: MockFactory, pin: int) -> list[object]:
    """Every level the pin went through, from its initial one (changes only)."""
    return [entry.state for entry in factory.pin(pin).states]
