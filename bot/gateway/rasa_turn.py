"""One turn of Rasa for a user's text: the reply's texts and its machine-readable payload,
or the polite apology when no Rasa server can be reached."""

from __future__ import annotations

import logging

from bot import replies
from bot.gateway.messages import Handled, Inbound
from bot.rasa_client import RasaClient, RasaUnavailable

log = logging.getLogger("patentdesk.gateway")


class RasaTurn:
    def __init__(self, rasa: RasaClient) -> None:
        self.rasa = rasa
        self.runs = 0  # turns asked of Rasa (GET /status: bot_runs; tests count them)

    async def ask(self, inbound: Inbound) -> Handled:
        assert inbound.to_bot is not None
        self.runs += 1
        metadata = {"channel": inbound.channel, "user_id": inbound.user_id, "msg_type": inbound.msg_type}
        try:
            reply = await self.rasa.send(f"{inbound.channel}:{inbound.user_id}", inbound.to_bot, metadata)
        except RasaUnavailable as exc:
            log.error("assistant unavailable for %s: %s", inbound.msg_key, exc)
            return Handled([replies.ASSISTANT_UNAVAILABLE], {"decision": "unavailable"})
        return Handled(reply.texts, dict(reply.info))
