"""Run a command while every core is kept busy, to show that tests hold on a loaded machine.

    python scripts/under_load.py [--busy N] [--nice N] [--repeat K] -- python -m pytest tests/...

Starts N busy loops (default: one per core) at normal priority, runs the command K times, stops
the loops by their PIDs, and prints each run's exit status and duration. Exits non-zero if any
run failed. Busy loops, not sleeps: the tests under it get a fraction of a core, as in a CI job
that shares its machine; ``--nice 19`` makes that fraction small (a starved CI runner).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import time


def _spin() -> None:
    while True:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--busy", type=int, default=os.cpu_count() or 2, help="busy loops")
    parser.add_argument("--nice", type=int, default=0, help="run the command at this niceness")
    parser.add_argument("--repeat", type=int, default=1, help="how many times to run it")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    loops = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(args.busy)]
    for loop in loops:
        loop.start()
    failed = 0
    try:
        for run in range(1, args.repeat + 1):
            started = time.monotonic()
            status = subprocess.run(
                ["nice", "-n", str(args.nice), *command], check=False
            ).returncode
            failed += status != 0
            print(
                f"under_load: run {run}/{args.repeat}: exit {status} in "
                f"{time.monotonic() - started:.1f} s with {args.busy} busy loops, nice {args.nice}; "
                f"load average {os.getloadavg()[0]:.1f}",
                file=sys.stderr,
                flush=True,
            )
    finally:
        for loop in loops:
            loop.kill()
            loop.join(timeout=10)
    print(f"under_load: {args.repeat - failed}/{args.repeat} runs passed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
