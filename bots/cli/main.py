"""``wavepool``: run the instance, ingest, show, check the pool, call any declared command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bots.cli.parser import changes_state, parse_args, read_only
from config import ConfigInvalid, Settings, load_settings
from core.errors import UsageError, WavepoolError

log = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``wavepool`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigInvalid as err:
        print(f"wavepool: config: {err}", file=sys.stderr)
        return 2
    from bots.logging_setup import setup_logging

    quiet = args.command != "run"
    setup_logging("WARNING" if quiet else settings.instance.log_level, settings.instance.log_format)
    try:
        return asyncio.run(_dispatch(args, _without_config(argv), settings))
    except WavepoolError as err:
        from core.replies import Dialect, localize_text

        print(f"wavepool: {localize_text(str(err), Dialect('wavepool cmd '))}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `wavepool export | head -1`: the reader had enough
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130


def missing_chat_secret(settings: Settings) -> None:
    """``wavepool run`` only: a configured chat bot needs its secret, named by its variable."""
    matrix = settings.matrix
    if matrix.homeserver and not (matrix.access_token or matrix.password):
        raise UsageError(
            "matrix: the homeserver is set but no credentials: export WAVEPOOL_MATRIX_ACCESS_TOKEN "
            "(or WAVEPOOL_MATRIX_PASSWORD), or set matrix.access_token in the config"
        )


def _without_config(argv: list[str]) -> list[str]:
    """The arguments to forward to the running instance (which has its own config)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--config":
            skip = True
        elif not arg.startswith("--config="):
            out.append(arg)
    return out


async def _dispatch(args: argparse.Namespace, argv: list[str], settings: Settings) -> int:
    if args.command == "run":
        from bots.runtime import run_instance

        missing_chat_secret(settings)
        await run_instance(settings)
        return 0
    from bots.control.client import send

    answer = await send(settings.data_dir, argv, Path.cwd())
    if answer is not None:
        sys.stdout.write(str(answer.get("stdout") or ""))
        sys.stdout.flush()
        sys.stderr.write(str(answer.get("stderr") or ""))
        if changes_state(args):
            sys.stderr.write("wavepool: done by the running instance\n")
        return int(answer.get("rc") or 0)
    from bots.cli.output import Output
    from bots.cli.subcommands import run_subcommand
    from bots.runtime import open_instance

    if read_only(args) and not settings.data_dir.exists():  # answer from an empty instance, create nothing
        with tempfile.TemporaryDirectory(prefix="wavepool-") as empty:
            scratch = dataclasses.replace(
                settings, instance=dataclasses.replace(settings.instance, data_dir=Path(empty))
            )
            async with open_instance(scratch) as instance:
                return await run_subcommand(args, instance, Output())
    async with open_instance(settings) as instance:
        rc = await run_subcommand(args, instance, Output())
    if changes_state(args):
        sys.stderr.write(
            f"wavepool: no instance is running on {settings.data_dir}: done here; its posts and "
            "federation follow at the next `wavepool run`\n"
        )
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
