"""A private Rasa + action server on free ports, for `ask` and `shell` when none is running.

The same model, rules, actions and index as the served bot; Redis is not needed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
from collections.abc import AsyncIterator
from pathlib import Path

from bot.config import Settings
from bot.rasa_client import RasaClient
from bot.runtime.services import actions_spec, rasa_spec
from bot.runtime.supervisor import Supervisor
from bot.runtime.training import model_path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


async def _server_alive(settings: Settings) -> bool:
    async with RasaClient(settings.rasa_url) as client:
        return await client.alive()


def _require_model(settings: Settings) -> Path:
    model = model_path(settings)
    if not model.exists():
        raise FileNotFoundError(f"no trained model for the current data ({model.name}); run `patentdesk train`")
    return model


async def check_endpoint(settings: Settings) -> None:
    """Raises FileNotFoundError (saying what to run) when `rasa_endpoint` could not serve:
    no server is up and no model is trained. A command checks this before its slow work."""
    if not await _server_alive(settings):
        _require_model(settings)


@contextlib.asynccontextmanager
async def rasa_endpoint(settings: Settings, log_path: Path | None = None) -> AsyncIterator[str]:
    """Yields a Rasa base URL: the configured server if it is up, else a private stack."""
    if await _server_alive(settings):
        yield settings.rasa_url
        return
    model = _require_model(settings)
    port_rasa, port_actions = free_port(settings.host), free_port(settings.host)
    private = dataclasses.replace(settings, rasa_port=port_rasa, actions_port=port_actions,
                                  rasa_url=f"http://{settings.host}:{port_rasa}")
    log_path = log_path or settings.var_dir / "logs" / "local-stack.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as log_file:
        supervisor = Supervisor(out=log_file, colour=False)
        try:
            await supervisor.start_all([actions_spec(private), rasa_spec(private, model)], settings.ready_timeout)
            yield private.rasa_url
        finally:
            await supervisor.stop_all()
