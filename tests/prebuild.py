"""Build the test session's knowledge index and train its Rasa model, in a child process.

conftest starts this at low priority as soon as the session begins, so the ten minutes a
fresh checkout spends encoding and fitting overlap the tests that need neither (they run
first); the `index` and `model` fixtures wait for it and then load what it wrote. A
separate process keeps the build's BLAS and OpenMP threads apart from the tests' own limits.
"""

from __future__ import annotations

import logging

from bot.config import Settings
from bot.knowledge.service import load_or_build
from bot.runtime.training import train


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = Settings.from_env()
    load_or_build(settings)
    train(settings)


if __name__ == "__main__":
    main()
