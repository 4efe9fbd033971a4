"""docs/cli.md against the ``harness`` command itself: the options table is the argument parser,
command by command, and every service the page tells ``uvicorn`` to run exists."""

from __future__ import annotations

import argparse
import importlib
import re
from collections import defaultdict
from pathlib import Path

from harness.__main__ import _parser

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "cli.md"


def documented_options() -> dict[str, set[str]]:
    """Command -> the flags the page's options table gives it."""
    section = PAGE.read_text(encoding="utf-8").split("\n## Options\n", 1)[1].split("\n## ", 1)[0]
    options: dict[str, set[str]] = defaultdict(set)
    rows = [line for line in section.splitlines() if line.startswith("| `--")]
    assert rows, "docs/cli.md has no options table under ## Options"
    for row in rows:
        flags, commands = (cell.strip() for cell in row.strip("|").split("|")[:2])
        for command in commands.split(", "):
            options[command] |= set(re.findall(r"`(--[a-z][\w-]*)`", flags))
    return dict(options)


def parser_options() -> dict[str, set[str]]:
    """Command -> the flags its parser accepts (``--help`` aside)."""
    [commands] = [
        action for action in _parser()._actions if isinstance(action, argparse._SubParsersAction)
    ]
    return {
        name: {
            flag
            for action in command._actions
            for flag in action.option_strings
            if flag.startswith("--") and flag != "--help"
        }
        for name, command in commands.choices.items()
    }


def test_the_options_table_is_the_parser_command_by_command() -> None:
    documented, real = documented_options(), parser_options()
    assert set(documented) == set(real), "the table's commands are not the harness's commands"
    for command, flags in real.items():
        assert documented[command] == flags, (
            f"harness {command}: the table says {sorted(documented[command])}, "
            f"the parser takes {sorted(flags)}"
        )


def test_every_uvicorn_target_on_the_pages_exists() -> None:
    targets = {
        target
        for page in (ROOT / "docs").glob("*.md")
        for target in re.findall(r"uvicorn ((?:services|shared)[\w.]*:\w+)", page.read_text())
    }
    assert targets, "no uvicorn command found in the docs"
    for target in targets:
        module, _, attribute = target.partition(":")
        assert hasattr(importlib.import_module(module), attribute), f"uvicorn {target}"
