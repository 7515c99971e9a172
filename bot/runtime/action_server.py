"""Entry point of the action server: rasa_sdk's app, with the retrieval index loaded first.

Loading (or rebuilding) the index before the port opens means the first user never waits
for it, and a broken knowledge base stops the server with a clear message at start.
"""

from __future__ import annotations

import argparse
import logging
import sys

from bot.config import Settings
from bot.knowledge.encoders import EncoderError
from bot.knowledge.entries import KnowledgeError

log = logging.getLogger("patentdesk.actions")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="patentdesk-actions")
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")

    from actions import knowledge_holder

    try:
        index = knowledge_holder.get_index()
    except (KnowledgeError, EncoderError) as exc:
        log.error("cannot serve the knowledge base: %s", exc)
        return 2
    log.info("knowledge index ready: %d entries, encoder %s, thresholds %s",
             len(index.kb), index.encoder.name, index.thresholds.to_dict())
    # One thread per search from here on (the index was built, if it had to be, with all):
    # under load, BLAS and OpenMP threads only spin against each other and against Rasa; a
    # search took 40 ms of CPU with 2 threads, 27 ms with one.
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    knowledge_holder.watch(settings)  # console publications: background rebuild and swap

    from rasa_sdk.endpoint import create_app

    app = create_app("actions", cors_origins=None)
    app.run(settings.host, args.port or settings.actions_port, workers=1, access_log=False,
            motd=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
