"""Run one atheris harness: ``python -m tests.fuzz.run NAME [--runs N] [--seconds S] [--corpus DIR]``.

Seeds are written to the corpus folder (a temp folder unless ``--corpus`` names one, which
then keeps what the fuzzer finds for the next run). A crash leaves its input as
``crash-*`` in ``--artifacts`` (the current folder by default) and exits non-zero;
``python -m tests.fuzz.run NAME --replay FILE`` runs that input again with a traceback.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import atheris

from tests.fuzz.harnesses import HARNESSES, seeds


def main(argv: list[str]) -> None:
    """Parse the options and hand over to libFuzzer (which exits the process)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", choices=sorted(HARNESSES))
    parser.add_argument("--runs", type=int, default=0, help="inputs to try (0: no limit)")
    parser.add_argument("--seconds", type=int, default=0, help="time limit (0: none)")
    parser.add_argument("--corpus", type=Path, default=None)
    parser.add_argument("--artifacts", type=Path, default=Path("."))
    parser.add_argument("--replay", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=1, help="libFuzzer's random seed (0: random)")
    args = parser.parse_args(argv)
    harness = HARNESSES[args.name]
    if args.replay is not None:
        harness(args.replay.read_bytes())
        print(f"{args.replay}: no failure")
        return
    corpus = args.corpus or Path(tempfile.mkdtemp(prefix=f"fuzz-{args.name}-"))
    corpus.mkdir(parents=True, exist_ok=True)
    for index, seed in enumerate(seeds(args.name)):
        (corpus / f"seed-{index}").write_bytes(seed)
    args.artifacts.mkdir(parents=True, exist_ok=True)
    flags = [
        sys.argv[0],
        f"-artifact_prefix={args.artifacts}/",
        f"-seed={args.seed}",
        "-max_len=8192",
        "-print_final_stats=1",
    ]
    if args.runs:
        flags.append(f"-runs={args.runs}")
    if args.seconds:
        flags.append(f"-max_total_time={args.seconds}")
    atheris.Setup([*flags, str(corpus)], harness)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv[1:])
