"""The checks the guide asks of a migration chain, for a project's own tests: one head, and a
round trip through every ``downgrade()``. Alembic runs in a subprocess, as for the template."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ._migrations import alembic_config, migration_env, placeholder_urls, run_alembic
from ._session import current
from .resources import REGISTRY

__all__ = ["assert_round_trip", "assert_single_head"]


def assert_single_head(ini: Path | str) -> str:
    """The guide's rule, as a check: the chain has exactly one head; returns it.

    Runs alembic in a subprocess, so the revision files are imported there, not in the tests.

    :raises MigrationError: naming every head when there are several.
    """
    path = Path(ini)
    if not path.is_file():
        alembic_config(path)  # raises the MigrationError that names the file
    return run_alembic(path, "heads", url=None, env={}).get("head", "")


def assert_round_trip(
    ini: Path | str, url: str, *, url_variables: Sequence[str] | None = None
) -> None:
    """Upgrade to head, downgrade to base, upgrade to head again: every ``downgrade()`` works.

    Run it against an empty database of its own: it drops everything the migrations made.
    Alembic runs in a subprocess with *url_variables* pointing at *url*; by default, every
    variable of ``harness_env_map`` is set as for the template: those fed from ``postgres``
    from *url*, the others to addresses that never resolve.

    :raises MigrationError: naming the step that failed, with alembic's message.
    """
    path = Path(ini)
    if not path.is_file():
        alembic_config(path)
    if url_variables is not None:
        env = dict.fromkeys(url_variables, url)
    else:
        session = current()
        env_map = session.config.env_map if session is not None else {}
        placeholders = placeholder_urls((r.name, r.url_scheme) for r in REGISTRY.values())
        env = migration_env(env_map, url, placeholders)
    run_alembic(path, "round_trip", url=url, env=env)
