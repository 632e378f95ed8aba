"""[sync] config: validation, and where the terminal token comes from."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs

from edge.backoff import BackoffConfig
from edge.capture import ReconnectConfig
from edge.config import load_edge_config
from edge.errors import ConfigError
from edge.recognize.matcher import Matcher
from edge.store import EdgeStore
from edge.sync import CREDENTIAL_NAME, SyncClient, SyncConfig, attach_sync, resolve_token


def test_defaults_disable_sync() -> None:
    config = SyncConfig()
    assert not config.enabled
    assert config.batch_size == 500
    assert config.backoff.initial_delay <= config.backoff.max_delay


def test_every_field_is_described() -> None:
    missing = [n for n, f in SyncConfig.model_fields.items() if not f.description]
    assert missing == []


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"server_url": "ftp://server"}, "http"),
        ({"server_url": "http://"}, "host"),
        ({"server_url": "http://server/?a=1"}, "query"),
        ({"batch_size": 501}, "less than or equal to 500"),
        ({"batch_size": 0}, "greater than or equal to 1"),
        ({"timeout_s": 0}, "greater than 0"),
        ({"backoff": {"jitter": 1.5}}, "less than or equal to 1"),
        ({"jitter": 1.5}, "less than or equal to 1"),
        ({"backoff": {"initial_delay": 90, "max_delay": 60}}, "less than initial_delay"),
        ({"backoff_initial_s": 90, "backoff_max_s": 60}, "less than initial_delay"),
        ({"backoff_max_s": 90, "backoff": {"max_delay": 60}}, "set only backoff.max_delay"),
        ({"push_every": 3}, "Extra inputs are not permitted"),
    ],
)
def test_bad_values_are_refused(values: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        SyncConfig.model_validate(values)


def test_backoff_has_the_keys_of_capture_reconnect() -> None:
    """One backoff formula, one set of key names: [sync.backoff] is [capture.reconnect]
    without max_failures (the sync jobs never give up)."""
    assert set(BackoffConfig.model_fields) == set(ReconnectConfig.model_fields) - {
        "max_failures"
    }
    assert SyncConfig().backoff == BackoffConfig(
        initial_delay=1.0, max_delay=60.0, multiplier=2.0, jitter=0.2
    )


def test_old_backoff_key_names_are_still_accepted_and_logged_once(tmp_path: Path) -> None:
    old = tmp_path / "old.toml"
    old.write_text(
        '[device]\nid = "door-1"\n[sync]\nserver_url = "http://s"\ntoken = "t"\n'
        "backoff_initial_s = 2\nbackoff_max_s = 120\n"
    )
    new = tmp_path / "new.toml"
    new.write_text(
        '[device]\nid = "door-1"\n[sync]\nserver_url = "http://s"\ntoken = "t"\n'
        "[sync.backoff]\ninitial_delay = 2\nmax_delay = 120\njitter = 0.3\n"
    )
    from_old = load_edge_config(old, environ={"HADIR_SYNC__JITTER": "0.3"})
    from_new = load_edge_config(new, environ={})
    assert from_old.sync.backoff == from_new.sync.backoff
    assert from_old.sync.backoff == BackoffConfig(initial_delay=2, max_delay=120, jitter=0.3)
    assert from_new.sync.renamed_keys == ()

    for config, expected in (
        (
            from_old,
            [
                ("warning", "sync.backoff_initial_s", "sync.backoff.initial_delay"),
                ("warning", "sync.backoff_max_s", "sync.backoff.max_delay"),
                ("warning", "sync.jitter", "sync.backoff.jitter"),
            ],
        ),
        (from_new, []),
    ):
        with EdgeStore.open(":memory:", device_id="door-1") as store, capture_logs() as logs:
            service = attach_sync(store, Matcher(), config.sync)
            assert service is not None
            service.client.close()
        lines = [e for e in logs if e["event"] == "config_key_renamed"]
        assert [(e["log_level"], e["old"], e["new"]) for e in lines] == expected


def test_server_url_is_normalised() -> None:
    config = SyncConfig(server_url=" https://hadir.example.com:8600/ ")
    assert config.server_url == "https://hadir.example.com:8600"
    assert config.enabled


def test_token_sources_in_order(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file\nsecond line ignored\n")
    credentials = tmp_path / "creds"
    credentials.mkdir()
    (credentials / CREDENTIAL_NAME).write_text("from-systemd\n")
    environ = {"CREDENTIALS_DIRECTORY": str(credentials)}

    both = SyncConfig(token="inline", token_file=token_file)
    assert resolve_token(both, environ) == "inline"
    assert resolve_token(SyncConfig(token_file=token_file), environ) == "from-file"
    assert resolve_token(SyncConfig(), environ) == "from-systemd"
    assert resolve_token(SyncConfig(), {}) is None
    # A credentials directory without our credential is not an error.
    assert resolve_token(SyncConfig(), {"CREDENTIALS_DIRECTORY": str(tmp_path)}) is None


def test_token_is_never_shown() -> None:
    config = SyncConfig(server_url="http://s", token="very-secret-token")
    assert "very-secret-token" not in repr(config)
    assert "very-secret-token" not in config.model_dump_json()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [("", "empty"), ("\n", "empty"), ("two words\n", "spaces"), ("tökén\n", "non-ASCII")],
)
def test_bad_token_files(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "token"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=fragment):
        resolve_token(SyncConfig(token_file=path), {})


def test_unreadable_token_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        resolve_token(SyncConfig(token_file=tmp_path / "missing"), {})


def test_client_from_config_needs_url_and_token(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="server_url"):
        SyncClient.from_config(SyncConfig(), environ={})
    with pytest.raises(ConfigError, match="token_file"):
        SyncClient.from_config(SyncConfig(server_url="http://s"), environ={})
    with pytest.raises(ConfigError, match="ca_file"):
        SyncClient.from_config(
            SyncConfig(server_url="https://s", token="t", ca_file=tmp_path / "nope.pem"),
            environ={},
        )
    with SyncClient.from_config(
        SyncConfig(server_url="http://s:1/", token="t", timeout_s=3), environ={}
    ) as client:
        assert client.base_url == "http://s:1"
        assert client.timeout == 3
