"""``harness`` / ``python -m harness``: tools around the test harness.

- ``doctor``: what this machine can provide for each resource, and what to install.
- ``up``: start the project's servers for development, print their environment, stop on Ctrl-C.
- ``down``: stop the servers a ``--reuse`` run left running for this project.
- ``reap``: stop the servers of runs that were killed before they could stop them.
- ``build-ferretdb``: build and cache the FerretDB server (``make setup`` calls it).

Each command reads the project's pytest configuration (the ini file pytest would read:
``pytest.ini``, ``pyproject.toml``, ``tox.ini`` or ``setup.cfg``; ``HARNESS_*`` variables) and
takes the same ``--harness-*`` flags.
It imports the project's root ``conftest.py``, as pytest does, so the kinds of server it
registers are known too.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path

from ._cli import (
    add_config_options,
    add_resources_option,
    check_resources,
    config_from_args,
    configured_resources,
    load_project_kinds,
    project_rootdir,
)
from ._config import OPTIONS, HarnessConfig
from ._exceptions import HarnessError, describe
from ._redact import ScrubbingWriter, scrub_exception

__all__ = ["main"]

ONLY_STATE_DIR = tuple(opt.name for opt in OPTIONS if opt.name != "state_dir")
"""``down`` and ``reap`` only look at run records: other options would be noise in their help."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command. Its output goes through :func:`~harness._redact.scrub`: no password is
    shown, except in the environment ``harness up`` prints because the user asked for it."""
    stdout, stderr = sys.stdout, ScrubbingWriter(sys.stderr)
    with contextlib.redirect_stderr(stderr):
        parser = _parser()
        args = parser.parse_args(argv)
        out = stdout if args.run is _up else ScrubbingWriter(stdout)
        try:
            config = _project_config(args) if hasattr(args, "rootdir") else None
            with contextlib.redirect_stdout(out):
                status: int = args.run(args, config)
        except HarnessError as exc:
            print(f"harness: {describe(exc)}", file=sys.stderr)
            return 1
        except BaseException as exc:  # a bug or a driver's error: its traceback, scrubbed
            scrub_exception(exc)
            raise
    return status


def _project_config(args: argparse.Namespace) -> HarnessConfig:
    """The project's config, checked against the kinds its root conftest.py registers (loaded
    first, as pytest does); a value that cannot be used is a usage error (exit 2)."""
    try:
        load_project_kinds(project_rootdir(args))
        config = config_from_args(args)
        check_resources(getattr(args, "selected", None))
    except ValueError as exc:
        args.parser.error(str(exc))
    return config


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness",
        description="Tools around the test harness: check this machine, run the test servers "
        "for development, clean up after killed runs. Every command reads the project's pytest "
        "configuration (its ini file, HARNESS_* variables).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    doctor = commands.add_parser(
        "doctor", help="show which backend each resource would use, versions, what is missing"
    )
    add_resources_option(doctor)
    add_config_options(doctor)
    doctor.set_defaults(run=_doctor, parser=doctor)

    up = commands.add_parser("up", help="start the servers, print their environment, wait")
    add_resources_option(up)
    up.add_argument(
        "--env-file",
        dest="output",
        type=Path,
        default=None,
        metavar="PATH",
        help="write the .env block to PATH (mode 0600) instead of printing it",
    )
    up.add_argument(
        "--with-test-env",
        action="store_true",
        help="include the static variables of harness_env_file (.env.test) in the environment",
    )
    add_config_options(up)
    up.set_defaults(run=_up, parser=up)

    down = commands.add_parser("down", help="stop this project's reused servers")
    down.add_argument(
        "--force", action="store_true", help="stop them even while a run still uses them"
    )
    add_config_options(down, skip=ONLY_STATE_DIR)
    down.set_defaults(run=_down, parser=down)

    reap = commands.add_parser("reap", help="stop the servers of killed runs now")
    add_config_options(reap, skip=ONLY_STATE_DIR)
    reap.set_defaults(run=_reap, parser=reap)

    build = commands.add_parser(
        "build-ferretdb", help="build FerretDB into the cache (skipped when cached)"
    )
    build.add_argument("--force", action="store_true", help="rebuild even when cached")
    build.set_defaults(run=_build_ferretdb)
    return parser


def _doctor(args: argparse.Namespace, config: HarnessConfig) -> int:
    from ._doctor import diagnose, render

    diagnosis = diagnose(config, configured_resources(config, args.selected))
    print("\n".join(render(diagnosis)))
    return 0 if diagnosis.ok else 1


def _up(args: argparse.Namespace, config: HarnessConfig) -> int:
    import anyio

    from ._env import load_env_file
    from ._up import UpOptions, up

    if config.env_file is not None and config.env_file.is_file():
        load_env_file(config.env_file)  # as the plugin does: migrations may read it
    options = UpOptions(
        resources=configured_resources(config, args.selected),
        env_file=args.output,
        with_test_env=args.with_test_env,
    )
    return anyio.run(up, config, options, sys.stdout, sys.stderr)  # stdout: the environment


def _down(args: argparse.Namespace, config: HarnessConfig) -> int:
    from ._up import down

    stopped = down(config, force=args.force)
    for what in stopped:
        print(f"harness down: stopped {what}")
    if not stopped:
        print("harness down: no reused servers are running for this project")
    return 0


def _reap(args: argparse.Namespace, config: HarnessConfig) -> int:
    from ._infra import reap

    reaped = reap(config)
    for what in reaped:
        print(f"harness reap: stopped {what}")
    if not reaped:
        print("harness reap: no orphaned runs")
    return 0


def _build_ferretdb(args: argparse.Namespace, config: None) -> int:
    from ._ferretdb_build import build_ferretdb

    path, built = build_ferretdb(force=args.force)
    print(f"setup: FerretDB {'built' if built else 'already cached'}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
