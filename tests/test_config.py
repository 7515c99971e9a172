from pathlib import Path

import pytest

from bot.config import VARIABLES, ConfigError, Settings


def test_defaults_are_local_and_embedded(tmp_path: Path) -> None:
    s = Settings.from_env({"PATENTDESK_HOME": str(tmp_path)})
    assert s.var_dir == tmp_path / "var"
    assert s.rasa_url == "http://127.0.0.1:5005"
    assert s.embedded_redis and s.effective_redis_url == "redis://127.0.0.1:6391/0"
    assert s.embedded_redis_port != 6379, "the system Redis holds 6379"
    assert s.database_url == f"sqlite:///{tmp_path / 'var' / 'patentdesk.db'}"
    assert s.actions_url == "http://127.0.0.1:5055/webhook"


def test_environment_overrides(tmp_path: Path) -> None:
    s = Settings.from_env({"PATENTDESK_HOME": str(tmp_path), "RASA_PORT": "6000", "REDIS_URL": "redis://h:1/2",
                           "PATENTDESK_ENCODER": "st:/models/bge"})
    assert s.rasa_url == "http://127.0.0.1:6000"
    assert not s.embedded_redis and s.effective_redis_url == "redis://h:1/2"
    assert s.encoder == "st:/models/bge"
    assert s.child_env()["ACTION_ENDPOINT_URL"] == s.actions_url


def test_bad_number_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="RASA_PORT must be an integer"):
        Settings.from_env({"PATENTDESK_HOME": str(tmp_path), "RASA_PORT": "fifty"})


def test_readme_documents_every_variable() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    for variable in VARIABLES:
        assert f"`{variable.name}`" in readme, variable.name


def test_retrieval_threads_default_to_the_usable_cores_and_reject_zero(tmp_path: Path) -> None:
    import os

    home = {"PATENTDESK_HOME": str(tmp_path)}
    assert Settings.from_env(home).retrieval_threads == len(os.sched_getaffinity(0))
    assert Settings.from_env({**home, "RETRIEVAL_THREADS": "1"}).retrieval_threads == 1
    with pytest.raises(ConfigError, match="RETRIEVAL_THREADS must be at least 1"):
        Settings.from_env({**home, "RETRIEVAL_THREADS": "0"})
