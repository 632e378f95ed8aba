"""Migration 0002 backfills effective_us exactly; site zone and HRMS secret settings; offsets."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from edge.config import load_config
from edge.errors import ConfigError
from sync_server.app import settings_json
from sync_server.config import ServerConfig, resolve_hrms_secret
from sync_server.db import Database, epoch_us, events, migrate
from sync_server.reports import DAY_US, Offsets, day_number


def test_migration_backfills_effective_time(db_url: str) -> None:
    db = Database.from_url(db_url)
    try:
        migrate(db, "0001")
        times = [
            datetime(2026, 3, 29, 0, 59, 59, 999_999, tzinfo=UTC),
            datetime(2026, 10, 25, 1, 0, 0, 1, tzinfo=UTC),
            datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
        ]
        with db.write() as conn:
            for at in times:
                # 0001's columns only (the table object already knows effective_us).
                conn.execute(
                    sa.insert(events).values(
                        id=uuid.uuid4(),
                        device_id="d",
                        person_id="p",
                        kind="in",
                        wall_time=at,
                        clock_synced=True,
                        monotonic=1.0,
                        boot_id="b",
                        distance=0.1,
                        margin=0.1,
                        corrected_time=at,
                        time_source="terminal",
                        received_at=at,
                        person_known=True,
                    )
                )
        migrate(db)
        with db.read() as conn:
            rows = conn.execute(sa.select(events.c.corrected_time, events.c.effective_us)).all()
        assert sorted(r.effective_us for r in rows) == sorted(epoch_us(t) for t in times)
        assert all(r.effective_us == epoch_us(r.corrected_time) for r in rows)
    finally:
        db.dispose()


def test_epoch_us_is_exact() -> None:
    assert epoch_us(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    at = datetime(2026, 11, 25, 7, 59, 58, 123_456, tzinfo=UTC)
    assert epoch_us(at) == int(at.timestamp()) * 1_000_000 + 123_456
    assert epoch_us(at.astimezone(ZoneInfo("Asia/Kolkata"))) == epoch_us(at)


def test_site_timezone_is_validated(tmp_path: Path) -> None:
    path = tmp_path / "server.toml"
    path.write_text('site_timezone = "Africa/Cairo"\n')
    assert load_config(ServerConfig, path, environ={}).site_timezone == "Africa/Cairo"
    for bad in ("Mars/Olympus", "Europe", "", "../etc/passwd"):
        path.write_text(f'site_timezone = "{bad}"\n')
        with pytest.raises(ConfigError, match="site_timezone"):
            load_config(ServerConfig, path, environ={})
    config = load_config(ServerConfig, None, environ={"HADIR_SITE_TIMEZONE": "Asia/Riyadh"})
    assert config.site_timezone == "Asia/Riyadh"
    assert ServerConfig().site_timezone == "UTC"


def test_hrms_secret_sources(tmp_path: Path) -> None:
    config = load_config(ServerConfig, None, environ={"HADIR_HRMS__API_SECRET": "s3cret"})
    assert resolve_hrms_secret(config.hrms, {}) == "s3cret"
    assert "s3cret" not in config.model_dump_json()
    # Worker processes get the settings as JSON: the secret must survive that.
    assert json.loads(settings_json(config))["hrms"]["api_secret"] == "s3cret"

    path = tmp_path / "hrms_secret"
    path.write_text("from-file\n")
    config = ServerConfig.model_validate({"hrms": {"api_secret_file": str(path)}})
    assert resolve_hrms_secret(config.hrms, {}) == "from-file"

    credentials = tmp_path / "creds"
    credentials.mkdir()
    (credentials / "hrms_api_secret").write_text("from-systemd")
    environ = {"CREDENTIALS_DIRECTORY": str(credentials)}
    assert resolve_hrms_secret(ServerConfig().hrms, environ) == "from-systemd"
    assert resolve_hrms_secret(ServerConfig().hrms, {}) is None
    missing = ServerConfig.model_validate({"hrms": {"api_secret_file": str(tmp_path / "no")}})
    with pytest.raises(ConfigError, match="HRMS API secret"):
        resolve_hrms_secret(missing.hrms, {})
    with pytest.raises(ConfigError, match=r"hrms\.url"):
        load_config(ServerConfig, None, environ={"HADIR_HRMS__URL": "ftp://x"})


def test_offsets_find_the_transitions() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    first = day_number(datetime(2026, 1, 1).date())
    last = day_number(datetime(2026, 12, 31).date())
    offsets = Offsets.over(berlin, first * DAY_US, last * DAY_US)
    hour = 3_600_000_000
    assert offsets.values == (hour, 2 * hour, hour)
    assert offsets.starts[1:] == (
        epoch_us(datetime(2026, 3, 29, 1, tzinfo=UTC)),
        epoch_us(datetime(2026, 10, 25, 1, tzinfo=UTC)),
    )
    # Spring forward: 02:30 never happens; the first instant at or after it is 03:00 CEST.
    gap = offsets.first_at_or_after(epoch_us(datetime(2026, 3, 29, 2, 30, tzinfo=UTC)))
    assert gap == epoch_us(datetime(2026, 3, 29, 1, tzinfo=UTC))
    # Fall back: 02:30 happens twice; the first pass is 00:30 UTC.
    fold = offsets.first_at_or_after(epoch_us(datetime(2026, 10, 25, 2, 30, tzinfo=UTC)))
    assert fold == epoch_us(datetime(2026, 10, 25, 0, 30, tzinfo=UTC))
    summer = epoch_us(datetime(2026, 7, 1, 12, tzinfo=UTC))
    assert offsets.local(summer) == datetime(2026, 7, 1, 14, tzinfo=berlin)
    assert offsets.local(summer).utcoffset() == timedelta(hours=2)


def test_offsets_of_a_zone_without_transitions() -> None:
    offsets = Offsets.over(ZoneInfo("Asia/Riyadh"), 0, 400 * DAY_US)
    assert offsets.values == (3 * 3_600_000_000,)
