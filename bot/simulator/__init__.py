"""A local stand-in for the WeChat official-account platform.

It posts users' messages to the gateway exactly as the platform would (signed, sealed in
safe mode, 5-second timeout, 3 tries of the same MsgId), judges the answers the way WeChat
does, serves the platform's token and customer-service API with its real rules and error
codes, and gives each browser tab a phone-style chat as its own WeChat user.
"""

from bot.simulator.app import create_app
from bot.simulator.delivery import Deliverer, UserAction
from bot.simulator.platform import NOTICE, Platform, PlatformError, SimClock
from bot.simulator.routes import DELIVERER, PLATFORM

__all__ = ["DELIVERER", "NOTICE", "PLATFORM", "Deliverer", "Platform", "PlatformError", "SimClock", "UserAction",
           "create_app"]
