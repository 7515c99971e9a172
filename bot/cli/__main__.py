"""`python -m bot.cli ...`: the same as the `patentdesk` command."""

from __future__ import annotations

import sys

from bot.cli.commands import main

sys.exit(main())
