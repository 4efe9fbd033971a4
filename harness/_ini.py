"""pytest's ini options of a project, found the way pytest finds them, for the ``harness`` command.

pytest reads the first of ``pytest.toml`` and ``.pytest.toml`` (``[pytest]``), ``pytest.ini``
and ``.pytest.ini``, ``pyproject.toml`` (its ``[tool.pytest]`` or ``[tool.pytest.ini_options]``
table), ``tox.ini`` (``[pytest]``) and ``setup.cfg`` (``[tool:pytest]``) that holds its section,
in the directory it starts from or the nearest one above; that directory is the rootdir. ``harness up`` and ``harness doctor`` must see the same
``harness_*`` values as the pytest run they prepare for.
"""

from __future__ import annotations

import configparser
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["IniFile", "find_ini", "read_ini"]


@dataclass(frozen=True)
class IniFile:
    """The ini file pytest would use, and its options (values as written: strings from an
    ini-style file, TOML types from ``pyproject.toml``)."""

    path: Path | None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name if self.path is not None else "the ini file"


def read_ini(directory: Path) -> IniFile | None:
    """The ini file in *directory* that pytest would take, or ``None`` when it has none."""
    for name in ("pytest.toml", ".pytest.toml"):
        path = directory / name
        if path.is_file():
            return IniFile(path, dict(_toml(path).get("pytest", {})))
    for name in ("pytest.ini", ".pytest.ini"):
        path = directory / name
        if path.is_file():  # pytest takes these even without a [pytest] section
            return IniFile(path, _ini_section(path, "pytest") or {})
    path = directory / "pyproject.toml"
    if path.is_file():
        tool = dict(_toml(path).get("tool", {}).get("pytest", {}))
        table = tool.pop("ini_options", None)
        if tool:  # [tool.pytest] itself: pytest 9's native TOML options
            return IniFile(path, tool)
        if table is not None:
            return IniFile(path, dict(table))
    for name, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        path = directory / name
        options = _ini_section(path, section) if path.is_file() else None
        if options is not None:
            return IniFile(path, options)
    return None


def find_ini(start: Path | None = None) -> tuple[Path, IniFile]:
    """The rootdir and ini file pytest would use when started in *start* (default: the current
    directory): the nearest directory at or above it with an ini file; else the nearest one with
    a ``pyproject.toml``, else *start* itself, with no options."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        ini = read_ini(directory)
        if ini is not None:
            return directory, ini
    for directory in (here, *here.parents):
        if (directory / "pyproject.toml").is_file():
            return directory, IniFile(directory / "pyproject.toml")
    return here, IniFile(None)


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"cannot read {path}: {exc}. Fix the file: pytest reads it too.") from None


def _ini_section(path: Path, section: str) -> dict[str, Any] | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        raise ValueError(f"cannot read {path}: {exc}. Fix the file: pytest reads it too.") from None
    if not parser.has_section(section):
        return None
    return {key: value.strip() for key, value in parser.items(section)}
