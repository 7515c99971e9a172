"""The agent console: people taking over from the bot (issue 5).

Login with scrypt-hashed passwords (`patentdesk agents add|list|disable`), server-side
sessions in Redis, CSRF and Origin checks, rate-limited logins; a live page (WebSocket)
with the queue, conversations, transcripts, replies, canned answers from the knowledge
base, transfer, hand back, close with outcome and complaint grade, presence and
left-message tickets; for supervisors, the service report of `patentdesk report` with its
charts (/console/report, issue 6). `bot.console.app.create_console(settings)` is the
aiohttp sub-app the gateway mounts at /console.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_console"]


def __getattr__(name: str) -> Any:
    # lazily, so `patentdesk agents ...` does not import the gateway
    if name == "create_console":
        from bot.console.app import create_console

        return create_console
    raise AttributeError(name)
