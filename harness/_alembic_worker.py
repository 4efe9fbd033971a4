"""Runs alembic for the harness in a process of its own (``python -m harness._alembic_worker``).

The test process never imports the project's ``env.py`` or revision files, so a settings cache
they fill cannot keep the template's URL (see :mod:`harness._migrations`). The request is one
JSON argument; the last line on stdout is a JSON report: ``{"head": ...}`` or ``{"error": ...}``
with the message the harness raises as a :class:`~harness.MigrationError`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from ._exceptions import MigrationError
from ._migrations import alembic_config, single_head

__all__ = ["main"]


def _step(ini: Path, url: str, action: str, revision: str) -> None:
    from alembic import command

    run: Callable[..., None] = command.upgrade if action == "upgrade" else command.downgrade
    run(alembic_config(ini, url), revision)


def _template(ini: Path, url: str) -> dict[str, str]:
    head = single_head(ini)
    try:
        _step(ini, url, "upgrade", "head")
    except Exception as exc:
        raise MigrationError(
            f"`alembic upgrade head` (to {head}) failed with {type(exc).__name__}: {exc}\n"
            f"Fix the migration, then rerun; check it alone with `alembic -c {ini} upgrade head`."
        ) from exc
    return {"head": head}


def _round_trip(ini: Path, url: str) -> dict[str, str]:
    for name, action, revision in (
        ("upgrade head", "upgrade", "head"),
        ("downgrade base", "downgrade", "base"),
        ("upgrade head again", "upgrade", "head"),
    ):
        try:
            _step(ini, url, action, revision)
        except Exception as exc:
            raise MigrationError(
                f"migration round trip failed at `{name}`: {type(exc).__name__}: {exc}"
            ) from exc
    return {}


def main(argv: list[str]) -> int:
    request = json.loads(argv[0])
    ini, url, task = Path(request["ini"]), request.get("url") or "", request["task"]
    try:
        if task == "heads":
            report = {"head": single_head(ini)}
        elif task == "template":
            report = _template(ini, url)
        else:
            report = _round_trip(ini, url)
    except MigrationError as exc:
        import traceback

        traceback.print_exc()  # to stderr: the harness attaches it as a note
        print(json.dumps({"error": str(exc)}))
        return 1
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
