"""Server settings: the admin token's sources and validation, HADIR_* overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from edge.config import load_config
from edge.errors import ConfigError
from sync_server.app import create_app_from_environment, settings_json
from sync_server.config import ServerConfig, resolve_admin_token

TOKEN = "a-long-enough-admin-token"


def test_token_from_environment_variable() -> None:
    config = load_config(ServerConfig, None, environ={"HADIR_ADMIN_TOKEN": TOKEN})
    assert resolve_admin_token(config, {}) == TOKEN
    # Never printed with the rest of the config.
    assert TOKEN not in repr(config)
    assert TOKEN not in config.model_dump_json()


def test_token_from_file(tmp_path: Path) -> None:
    path = tmp_path / "admin_token"
    path.write_text(TOKEN + "\n")
    config = ServerConfig(admin_token_file=path)
    assert resolve_admin_token(config, {}) == TOKEN


def test_token_from_systemd_credentials(tmp_path: Path) -> None:
    (tmp_path / "admin_token").write_text(TOKEN)
    assert resolve_admin_token(ServerConfig(), {"CREDENTIALS_DIRECTORY": str(tmp_path)}) == TOKEN
    # An explicit setting wins over the credential.
    config = ServerConfig(admin_token="another-long-admin-token")
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    assert resolve_admin_token(config, env) == "another-long-admin-token"


def test_no_token_anywhere() -> None:
    assert resolve_admin_token(ServerConfig(), {}) is None


def test_short_or_unreadable_token_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least 16"):
        resolve_admin_token(ServerConfig(admin_token="short"), {})
    with pytest.raises(ConfigError, match="cannot read"):
        resolve_admin_token(ServerConfig(admin_token_file=tmp_path / "missing"), {})


def test_env_overrides_and_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "server.toml"
    path.write_text('database_url = "sqlite:///x.db"\n[listen]\nport = 9000\n')
    config = load_config(
        ServerConfig, path, environ={"HADIR_LISTEN__WORKERS": "2", "HADIR_AUTH__MAX_FAILURES": "3"}
    )
    assert (config.listen.port, config.listen.workers, config.auth.max_failures) == (9000, 2, 3)
    path.write_text("[listen]\nportt = 1\n")
    with pytest.raises(ConfigError, match=r"listen\.portt: unknown key"):
        load_config(ServerConfig, path, environ={})


def test_every_setting_is_described() -> None:
    def walk(model: type[BaseModel]) -> None:
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name}"
            annotation = field.annotation
            if (
                isinstance(annotation, type)
                and issubclass(annotation, BaseModel)
                and annotation.__module__.startswith("sync_server")
            ):
                walk(annotation)

    walk(ServerConfig)


def test_worker_settings_round_trip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = ServerConfig(
        admin_token=TOKEN,
        database_url=f"sqlite:///{tmp_path / 'w.db'}",
    )
    monkeypatch.setenv("_HADIR_SERVER_SETTINGS_JSON", settings_json(config))
    app = create_app_from_environment()
    assert app.state.services.settings == config


def test_bad_database_url(tmp_path: Path) -> None:
    from sync_server.app import create_app

    with pytest.raises(ConfigError, match="not supported"):
        create_app(ServerConfig(database_url="mysql://x/y"), environ={})
    with pytest.raises(ConfigError, match="needs a file"):
        create_app(ServerConfig(database_url="sqlite://"), environ={})
