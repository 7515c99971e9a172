"""Typed keys of the console sub-app's own objects (shared ones come from the gateway's
AppKeys through `request.config_dict`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from bot.console.canned import CannedLoader
from bot.console.live import Hub

HUB = web.AppKey("console_hub", Hub)
CANNED = web.AppKey("console_canned", CannedLoader)
# "now" for the service report (which quiet enquiries count as finished, which tickets are
# overdue): the real time, pinned by tests that check hand-computed figures
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("console_clock")

__all__ = ["CANNED", "CLOCK", "HUB"]
