"""`python -m bot.gateway`: the gateway process `patentdesk run` supervises."""

from __future__ import annotations

import argparse
import dataclasses
import logging

from aiohttp import web

from bot.config import Settings
from bot.gateway.account import AccountFileError, load_account
from bot.gateway.app import create_app
from bot.secrets import with_secrets


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.gateway")
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    settings = with_secrets(Settings.from_env())
    if args.port:  # the app names its stream consumers after host and port
        settings = dataclasses.replace(settings, gateway_port=args.port)
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    try:
        load_account(settings.wechat_account_file or None)  # refuse to start on a broken account file
    except AccountFileError as exc:
        raise SystemExit(f"configuration error: {exc} (WECHAT_ACCOUNT_FILE)") from exc
    web.run_app(create_app(settings), host=settings.host, port=settings.gateway_port, print=None,
                access_log=None, shutdown_timeout=15)


if __name__ == "__main__":
    main()
