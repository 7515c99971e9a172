"""The handoff's background round in each gateway: sweep dead leases, move the waiting
users of removed teams to the default team (every minute), assign waiting conversations
round-robin, send queue notices and left-message offers.

Every gateway runs the loop; a short Redis lock inside `HandoffFlow.tick` lets one of
them do each round. A Redis outage pauses the rounds, it does not end them.
"""

from __future__ import annotations

import asyncio
import logging

from redis.exceptions import RedisError

from bot.gateway.handoff_flow import HandoffFlow
from bot.handoff import HandoffError

log = logging.getLogger("patentdesk.handoff")


class HandoffUpkeep:
    def __init__(self, flow: HandoffFlow, interval: float = 1.0) -> None:
        self.flow = flow
        self.interval = interval
        self.stopping = False

    def stop(self) -> None:
        self.stopping = True

    async def run(self) -> None:
        failing = False
        while not self.stopping:
            try:
                await self.flow.tick()
                if failing:
                    log.info("handoff upkeep running again")
                failing = False
            except (HandoffError, RedisError, OSError) as exc:
                if not failing:
                    log.warning("handoff upkeep paused: %s", exc)
                failing = True
            except Exception:  # one bad round must not end the upkeep
                log.exception("handoff upkeep round failed")
            await asyncio.sleep(self.interval)
