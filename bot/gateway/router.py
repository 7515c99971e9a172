"""The one place that decides who answers a user's message.

Per message: channel events and types Rasa cannot read get the gateway's canned reply
without any state; otherwise the user's conversation state is read once (one HGETALL,
`bot.gateway.state`), the handler of its holder is called (`bot.gateway.handlers`), a
handler that passes the message on hands it to the handler of the state that follows,
and the resulting state change, if any, is written once. Redis trouble never costs the
user a reply: an unreadable state lets the bot answer, an unwritten one is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from redis.exceptions import RedisError

from bot.gateway.handlers import Handler, PassOn
from bot.gateway.messages import Handled, Inbound
from bot.gateway.scenes import SceneGreeter
from bot.gateway.state import Change, ConvState, StateStore
from bot.handoff import HandoffUnavailable

log = logging.getLogger("patentdesk.gateway")

MAX_PASSES = 4  # rating -> feedback -> bot is the longest chain


class Router:
    def __init__(self, store: StateStore, handlers: Mapping[str, Handler], conv_id_for: Callable[[str, str], str],
                 clock: Callable[[], float], scenes: SceneGreeter | None = None) -> None:
        self.store = store
        self.scenes = scenes
        self.handlers = handlers
        self.conv_id_for = conv_id_for
        self.clock = clock

    async def route(self, inbound: Inbound) -> Handled:
        if inbound.to_bot is None:
            texts = list(inbound.canned)
            if inbound.scene and self.scenes is not None:  # a QR code's scan: its welcome, the first time
                conv_id = self.conv_id_for(inbound.channel, inbound.user_id)
                texts = await self.scenes.greet(conv_id, inbound.scene, texts)
            return Handled(texts, {"decision": "channel"})
        conv_id = self.conv_id_for(inbound.channel, inbound.user_id)
        try:
            state = await self.store.read(conv_id, self.clock())
        except (RedisError, OSError) as exc:
            log.warning("conversation state of %s unknown (%s); the bot answers", conv_id, exc)
            state = ConvState.unknown(conv_id)
        change: Change | None = None
        for _ in range(MAX_PASSES):
            try:
                result = await self.handlers[state.holder].handle(inbound, state)
            except (HandoffUnavailable, RedisError, OSError) as exc:
                if state.holder == "bot":
                    raise
                # the queue went away under a waiting user: the bot answers
                log.warning("%s handler of %s failed (%s); the bot answers", state.holder, conv_id, exc)
                state = ConvState.unknown(conv_id)
                continue
            change = change.then(result.change) if change else result.change
            if not isinstance(result, PassOn):
                break
            state = result.state
        else:
            raise RuntimeError(f"no handler took the message of {conv_id}")
        if change is not None and state.known:
            try:
                await self.store.write(conv_id, change, self.clock())
            except (RedisError, OSError) as exc:
                log.warning("conversation state of %s not kept: %s", conv_id, exc)
        return result.handled
