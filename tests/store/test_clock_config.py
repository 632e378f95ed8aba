"""Clock helpers, UUIDv7, and the [store] config section."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from edge.clock import utc_now
from edge.config import StrictModel
from edge.store import ClockSyncStatus, StoreConfig, kernel_clock_synced, read_boot_id, uuid7


def test_uuid7_layout_and_time() -> None:
    at = datetime(2026, 11, 23, 7, 0, 0, 123000, tzinfo=UTC)
    value = uuid7(at)
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert value.int >> 80 == int(at.timestamp() * 1000)
    assert uuid7(at) != value  # random bits


def test_uuid7_sorts_by_time_across_milliseconds() -> None:
    earlier = uuid7(datetime(2026, 1, 1, tzinfo=UTC))
    later = uuid7(datetime(2026, 1, 1, 0, 0, 0, 1000, tzinfo=UTC))
    assert str(earlier) < str(later)


def test_uuid7_with_a_clock_before_1970_or_none() -> None:
    assert uuid7(datetime(1960, 1, 1, tzinfo=UTC)).int >> 80 == 0
    assert uuid7().version == 7


def test_read_boot_id(tmp_path: Path) -> None:
    source = tmp_path / "boot_id"
    source.write_text("7b3fb0f3-4ddf-4bb0-bd2b-7f8557c12109\n")
    assert read_boot_id(source) == "7b3fb0f3-4ddf-4bb0-bd2b-7f8557c12109"
    missing = read_boot_id(tmp_path / "missing")
    assert missing.startswith("process-")
    assert read_boot_id(tmp_path / "missing") == missing  # stable within a process
    assert read_boot_id()  # the real one, or the fallback


def test_kernel_clock_synced_answers_a_bool() -> None:
    assert isinstance(kernel_clock_synced(), bool)


def test_clock_sync_status_is_cached() -> None:
    calls: list[int] = []
    now = [0.0]
    answers = iter([True, False])

    def probe() -> bool:
        calls.append(1)
        return next(answers)

    status = ClockSyncStatus(probe, ttl_s=5, monotonic=lambda: now[0])
    assert status() is True
    now[0] = 4.9
    assert status() is True
    assert len(calls) == 1
    now[0] = 5.0
    assert status() is False
    assert len(calls) == 2
    assert "ttl_s=5" in repr(status)


def test_a_failing_probe_means_not_synchronised() -> None:
    def probe() -> bool:
        raise OSError("no adjtimex here")

    assert ClockSyncStatus(probe)() is False


def test_utc_now_is_aware() -> None:
    assert utc_now().utcoffset() is not None


def test_store_config_defaults() -> None:
    config = StoreConfig()
    assert isinstance(config, StrictModel)
    assert config.cooldown_s == 300
    assert config.kind_mode == "auto"
    assert config.retention_days == 90
    assert config.synchronous == "full"
    assert config.resolve_path(Path("data")) == Path("data") / config.path
    absolute = Path("/").joinpath("var", "lib", "hadir.sqlite3")
    assert StoreConfig(path=absolute).resolve_path(Path("data")) == absolute


def test_store_config_documents_every_field() -> None:
    for name, info in StoreConfig.model_fields.items():
        assert info.description, name


@pytest.mark.parametrize(
    "bad",
    [
        {"cooldown_s": -1},
        {"kind_mode": "sideways"},
        {"retention_days": 0},
        {"synchronous": "off"},
        {"unknown": 1},
    ],
)
def test_store_config_rejects_bad_values(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        StoreConfig.model_validate(bad)
