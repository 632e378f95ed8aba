"""Config: TOML + HADIR_* overrides, one clear line per problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import EdgeConfig, load_config, load_edge_config
from edge.errors import ConfigError
from edge.recognize.config import CnnDetectorConfig
from sync_server.config import ServerConfig


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(text)
    return path


def test_defaults_without_file() -> None:
    config = load_edge_config(environ={})
    assert config.recognition.matching.threshold == 0.55
    assert config.recognition.detector.type == "hog"


def test_file_values_and_discriminated_detector(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[device]\nid = "door-1"\n[recognition.detector]\ntype = "cnn"\nmax_side = 640\n',
    )
    config = load_edge_config(path, environ={})
    assert config.device.id == "door-1"
    assert isinstance(config.recognition.detector, CnnDetectorConfig)
    assert config.recognition.detector.max_side == 640


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[recognition.matching]\nthreshold = 0.5\n")
    env = {
        "HADIR_RECOGNITION__MATCHING__THRESHOLD": "0.45",
        "HADIR_DEVICE__ID": "gate",
        "HADIR_DATABASE_URL": "sqlite:///x.db",  # a server key: not the edge's business
        "HADIR_FACES_DIR": "/elsewhere",  # reserved, not a key
    }
    config = load_edge_config(path, environ=env)
    assert config.recognition.matching.threshold == 0.45
    assert config.device.id == "gate"


def test_unknown_key_names_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "[recognition.matching]\nthreshhold = 0.5\n")
    with pytest.raises(ConfigError) as err:
        load_edge_config(path, environ={})
    assert str(err.value) == f"{path}: recognition.matching.threshhold: unknown key"


def test_invalid_value_names_key_problem_and_value(tmp_path: Path) -> None:
    path = write(tmp_path, "[recognition.matching]\nthreshold = 7\n")
    with pytest.raises(ConfigError) as err:
        load_edge_config(path, environ={})
    message = str(err.value)
    assert "recognition.matching.threshold" in message
    assert "less than 2" in message
    assert "(got 7)" in message
    assert "\n" not in message


def test_invalid_env_value_is_attributed_to_environment() -> None:
    with pytest.raises(
        ConfigError, match=r"HADIR_\* environment: recognition\.matching\.threshold"
    ):
        load_edge_config(environ={"HADIR_RECOGNITION__MATCHING__THRESHOLD": "lots"})


def test_unknown_detector_type(tmp_path: Path) -> None:
    path = write(tmp_path, '[recognition.detector]\ntype = "yolo"\n')
    with pytest.raises(ConfigError, match=r"recognition\.detector"):
        load_edge_config(path, environ={})


@pytest.mark.parametrize(
    ("content", "message"),
    [("threshold = = 1\n", "invalid TOML"), (None, "config file not found")],
)
def test_unreadable_files(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "edge.toml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_edge_config(path, environ={})


def test_server_config_loads(tmp_path: Path) -> None:
    path = tmp_path / "server.toml"
    path.write_text('database_url = "sqlite:///srv.db"\n[listen]\nport = 9000\n')
    config = load_config(ServerConfig, path, environ={"HADIR_LISTEN__HOST": "0.0.0.0"})
    assert config.listen.port == 9000
    assert config.listen.host == "0.0.0.0"


def test_every_config_field_has_a_description() -> None:
    from pydantic import BaseModel

    seen: set[type[BaseModel]] = set()
    missing: list[str] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, field in model.model_fields.items():
            if not field.description:
                missing.append(f"{prefix}{name}")
            for arg in _models_in(field.annotation):
                walk(arg, f"{prefix}{name}.")

    walk(EdgeConfig, "edge.")
    walk(ServerConfig, "server.")
    assert missing == []


def _models_in(annotation: object) -> list[type]:
    from typing import get_args

    from pydantic import BaseModel

    found = []
    stack = [annotation]
    while stack:
        item = stack.pop()
        if isinstance(item, type) and issubclass(item, BaseModel):
            found.append(item)
        stack.extend(get_args(item))
    return found
