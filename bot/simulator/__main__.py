"""`python -m bot.simulator` (and `patentdesk wechat-sim`): serve the simulator on its configured port."""

from __future__ import annotations

import argparse
import logging
import sys

from aiohttp import web

from bot.config import ConfigError, Settings
from bot.secrets import with_secrets

log = logging.getLogger("bot.simulator")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="patentdesk wechat-sim",
                                     description="Local stand-in for the WeChat official-account platform.")
    parser.add_argument("--port", type=int, default=None, help="port (default: WECHAT_SIM_PORT)")
    parser.add_argument("--gateway-url", default=None, help="where to post messages (default: GATEWAY_PUBLIC_URL/wechat)")
    args = parser.parse_args(argv)
    try:
        settings = with_secrets(Settings.from_env())
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from bot.simulator.app import create_app

    try:
        app = create_app(settings, gateway_url=args.gateway_url)
    except ValueError as exc:
        log.error("cannot start the simulator: %s", exc)
        return 2
    port = args.port or settings.wechat_sim_port
    log.info("WeChat simulator: chat page http://%s:%d/  API http://%s:%d/cgi-bin/  (Ctrl-C stops)",
             settings.host, port, settings.host, port)
    try:
        web.run_app(app, host=settings.host, port=port, print=None, access_log=None, handle_signals=True)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", settings.host, port, exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
