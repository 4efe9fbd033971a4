"""What every ``harness`` command shares: the project's config from the command line, and which
resources the project uses.

The commands read the same configuration as the pytest plugin (``[tool.pytest.ini_options]``,
``HARNESS_*`` variables, ``--harness-*`` flags), so ``harness up`` starts exactly what ``pytest``
would and ``harness doctor`` judges exactly that.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._config import OPTIONS, HarnessConfig, config_from_project
from ._exceptions import HarnessError
from ._ini import find_ini, read_ini
from .resources import REGISTRY

__all__ = [
    "add_config_options",
    "add_resources_option",
    "check_resources",
    "config_from_args",
    "configured_resources",
    "find_rootdir",
    "load_project_kinds",
    "project_rootdir",
]

SHORT_FLAGS = {"backend": "--backend", "reuse": "--reuse"}
"""Options common enough on the command line to deserve a short spelling too."""


def add_config_options(parser: argparse.ArgumentParser, *, skip: Sequence[str] = ()) -> None:
    """Every harness option as its pytest flag (``--harness-backend``...), plus ``--rootdir``."""
    parser.add_argument(
        "--rootdir",
        type=Path,
        default=None,
        help="project root (default: the directory pytest would take: the nearest one at or above the current dir with pytest.ini, pyproject.toml, tox.ini or setup.cfg)",
    )
    group = parser.add_argument_group("harness options (the same as pytest's --harness-* flags)")
    for opt in OPTIONS:
        if opt.name in skip:
            continue
        flags = [f for f in (SHORT_FLAGS.get(opt.name), opt.flag) if f]
        if opt.kind == "bool":
            group.add_argument(
                *flags, dest=opt.name, action="store_const", const=True, help=opt.help
            )
        elif opt.kind == "linelist":
            group.add_argument(
                *flags, dest=opt.name, action="append", metavar=opt.metavar, help=opt.help
            )
        else:
            group.add_argument(*flags, dest=opt.name, default=None, help=opt.help)


def add_resources_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--resources",
        dest="selected",  # not `resources`: that is harness_resources (--harness-resources)
        type=_resource_list,
        default=None,
        metavar="NAME,...",
        help=f"which resources ({', '.join(REGISTRY)}, and those the project's root "
        "conftest.py registers); default: those harness_env_map uses, else all",
    )


def _resource_list(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"no resource named: choose from {', '.join(REGISTRY)}")
    return names


def check_resources(names: Sequence[str] | None) -> None:
    """Check ``--resources`` once the project's own kinds are registered.

    :raises ValueError: naming the unknown ones and the known ones.
    """
    unknown = [name for name in names or () if name not in REGISTRY]
    if unknown:
        raise ValueError(
            f"argument --resources: unknown resource {', '.join(unknown)}: choose from "
            f"{', '.join(REGISTRY)}"
        )


def load_project_kinds(rootdir: Path) -> None:
    """Import the project's root ``conftest.py`` as pytest would (its directory and the ini's
    ``pythonpath`` first on ``sys.path``), so that the kinds of server it registers exist for
    the command too: ``harness doctor`` judges them, ``up`` starts them, ``reap`` drops their
    namespaces on external servers.

    :raises HarnessError: when it cannot be imported, with the error and the fix.
    """
    conftest = rootdir / "conftest.py"
    if not conftest.is_file() or sys.modules.get("conftest") is not None:
        return
    for entry in reversed([rootdir, *_ini_pythonpath(rootdir)]):
        if str(entry) not in sys.path:
            sys.path.insert(0, str(entry))
    spec = importlib.util.spec_from_file_location("conftest", conftest)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["conftest"] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules["conftest"]
        raise HarnessError(
            f"could not import {conftest} ({type(exc).__name__}: {exc}). The harness command "
            "imports the project's root conftest.py, as pytest does, to know the kinds of server "
            "it registers: fix the error (`pytest --collect-only` shows it in full)."
        ) from exc


def _ini_pythonpath(rootdir: Path) -> list[Path]:
    """The ``pythonpath`` entries of the project's ini file, as pytest resolves them."""
    ini = read_ini(rootdir)
    entries = ini.options.get("pythonpath", []) if ini is not None else []
    entries = entries.split() if isinstance(entries, str) else entries
    return [rootdir / entry for entry in entries]


def find_rootdir(start: Path | None = None) -> Path:
    """The rootdir pytest would take when started in *start*: the nearest directory at or above
    it with an ini file (``pytest.ini``, ``pyproject.toml``...), else *start* itself."""
    return find_ini(start)[0]


def project_rootdir(args: argparse.Namespace) -> Path:
    """``--rootdir``, else the directory pytest would take as its rootdir here."""
    return Path(args.rootdir).resolve() if args.rootdir else find_rootdir()


def config_from_args(args: argparse.Namespace) -> HarnessConfig:
    """The config pytest would build in this project, with the command line's flags on top.

    :raises ValueError: for an option value that cannot be used (the message names the fix).
    """
    rootdir = project_rootdir(args)
    overrides: dict[str, Any] = {
        opt.name: getattr(args, opt.name)
        for opt in OPTIONS
        if getattr(args, opt.name, None) is not None
    }
    return config_from_project(rootdir, overrides, resources=list(REGISTRY))


def configured_resources(config: HarnessConfig, explicit: Sequence[str] | None = None) -> list[str]:
    """The resources this project uses, in start order: *explicit* if given, else the sources of
    ``harness_env_map``, else every registered resource."""
    if explicit:
        wanted = set(explicit)
    else:
        wanted = {source.partition(".")[0] for source in config.env_map.values()} & REGISTRY.keys()
    return [name for name in REGISTRY if not wanted or name in wanted]
