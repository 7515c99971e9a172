"""Shared fixtures: real settings on free ports, a trained model, a real index, a real stack."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT, Settings
from bot.runtime.local_stack import free_port

os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def make_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a test stack: the repo's models, a private var/ and free ports."""
    rasa_port = free_port()
    env = {
        "PATENTDESK_HOME": str(PROJECT_ROOT),
        "PATENTDESK_VAR_DIR": str(var_dir),
        "PATENTDESK_MODEL_DIR": str(PROJECT_ROOT / "models"),
        "RASA_PORT": str(rasa_port),
        "RASA_URL": f"http://127.0.0.1:{rasa_port}",
        "ACTIONS_PORT": str(free_port()),
        "EMBEDDED_REDIS_PORT": str(free_port()),
        "GATEWAY_PORT": str(free_port()),
        "WECHAT_SIM_PORT": str(free_port()),
        "REDIS_URL": "",
        # one vector memory for every test var/ (and `make run`'s): an index build in a test
        # encodes only texts no earlier build has seen
        "PATENTDESK_VECTOR_MEMORY": os.environ.get("PATENTDESK_VECTOR_MEMORY") or str(PROJECT_ROOT / "var" / "index"),
    }
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("var")


@pytest.fixture(scope="session")
def settings(var_dir: Path) -> Settings:
    return Settings.from_env(make_env(var_dir))


# Fixtures that need the built index or the trained model (directly or through others)
BUILT = frozenset({"index", "model", "rasa_url", "rasa_auth_token"})
_PREBUILD = pytest.StashKey[bool]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Test files that need neither the index nor the model run first, while the prebuild
    child builds them (file order kept otherwise, so module fixtures are set up once)."""
    heavy_modules = {item.module.__name__ for item in items
                     if isinstance(item, pytest.Function) and BUILT & set(item.fixturenames)}
    items.sort(key=lambda item: isinstance(item, pytest.Function) and item.module.__name__ in heavy_modules)
    config.stash[_PREBUILD] = bool(heavy_modules)


@pytest.fixture(scope="session", autouse=True)
def prebuild(request: pytest.FixtureRequest, settings: Settings):
    """The index build and model training, started at once in a low-priority child when any
    collected test needs them (None otherwise)."""
    import subprocess
    import sys

    if not request.config.stash.get(_PREBUILD, False):
        yield None
        return
    log_path = settings.var_dir / "logs" / "prebuild.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        child = subprocess.Popen([sys.executable, "-m", "tests.prebuild"], cwd=PROJECT_ROOT, env=child_env(settings.child_env()),
                                 stdout=log, stderr=subprocess.STDOUT, preexec_fn=lambda: os.nice(10))
    yield child
    if child.poll() is None:
        child.kill()
        child.wait()


def wait_for_prebuild(prebuild) -> None:
    """Let the child finish (what it built is then loaded; if it failed, the fixture builds)."""
    if prebuild is not None:
        prebuild.wait()


@pytest.fixture(scope="session")
def model(settings: Settings, prebuild) -> Path:
    """The model for the current training data (trained once if missing, as `make run` does)."""
    from bot.runtime.training import train

    wait_for_prebuild(prebuild)
    return train(settings)


@pytest.fixture(scope="session")
def index(settings: Settings, prebuild):
    """The real knowledge base under the default encoder, built and calibrated once."""
    from bot.knowledge.service import load_or_build

    wait_for_prebuild(prebuild)
    return load_or_build(settings)


@pytest.fixture(scope="session")
async def rasa_url(settings: Settings, model: Path, index) -> AsyncIterator[str]:
    """A real Rasa server and action server on free ports, shared by the session."""
    from bot.runtime.local_stack import rasa_endpoint

    async with rasa_endpoint(settings, log_path=settings.var_dir / "logs" / "stack.log") as url:
        yield url


def child_env(env: dict[str, str]) -> dict[str, str]:
    full = dict(os.environ)
    full.update(env)
    full["PYTHONWARNINGS"] = "ignore"
    return full


class RedisServer:
    """A private redis-server on a free port (tests may stop and restart it)."""

    def __init__(self, workdir: Path, appendonly: bool = False) -> None:
        from bot.runtime.services import redis_server_binary

        found = redis_server_binary()
        assert found, "no redis-server: install Debian's redis-server or run `make env`"
        self.binary = str(found)
        self.port = free_port()
        self.workdir = workdir
        self.appendonly = appendonly
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import subprocess
        import time

        import redis

        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes" if self.appendonly else "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def rasa_auth_token(settings: Settings) -> str:
    """The token of the session's Rasa server (gateways need it to pause and resume)."""
    from bot.runtime.services import rasa_token

    return rasa_token(settings)


@pytest.fixture(scope="session")
def small_base(tmp_path_factory: pytest.TempPathFactory):
    """A small real knowledge base (tests/knowledge_kit.py) and a var/ with its index built
    and calibrated once: (home, var). Tests copy the index into their own var/."""
    from bot.knowledge.service import load_or_build
    from tests.knowledge_kit import small_home, small_settings

    root = tmp_path_factory.mktemp("small-base")
    home = small_home(root)
    settings = small_settings(root, home)
    load_or_build(settings)
    return home, settings.var_dir


@pytest.fixture
def keep_event_loop_policy():
    """Importing rasa.server (or rasa's processor) imports Sanic, which installs uvloop's loop
    policy for the whole process; later tests that start subprocesses with asyncio need the
    default one back."""
    policy = asyncio.get_event_loop_policy()
    yield
    asyncio.set_event_loop_policy(policy)
