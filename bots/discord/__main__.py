"""``python -m bots.discord [--config FILE]``: run the instance; the discord bot starts when configured."""

import sys

from bots.cli.main import main

raise SystemExit(main([*sys.argv[1:], "run"]))
