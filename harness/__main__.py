"""``harness`` / ``python -m harness``: tools around the test harness.

- ``build-ferretdb``: build and cache the FerretDB server (``make setup`` calls it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ._exceptions import HarnessError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="harness", description=__doc__.splitlines()[0] if __doc__ else None
    )
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser(
        "build-ferretdb", help="build FerretDB into the cache (skipped when cached)"
    )
    build.add_argument("--force", action="store_true", help="rebuild even when cached")
    args = parser.parse_args(argv)
    try:
        if args.command == "build-ferretdb":
            return _build_ferretdb(force=args.force)
    except HarnessError as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return 1
    return 2


def _build_ferretdb(*, force: bool) -> int:
    from ._ferretdb_build import build_ferretdb

    path, built = build_ferretdb(force=force)
    print(f"setup: FerretDB {'built' if built else 'already cached'}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
