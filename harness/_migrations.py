"""Alembic migrations: applied once per run into a template database that every session/worker
database is cloned from, plus the checks the guide asks for (one head, round trip).

The services' ``env.py`` reads the database URL from the variable that the env mapping feeds from
``postgres`` (``POSTGRES-SUPABASE-URL``); the harness points it at the template while migrating.
"""

from __future__ import annotations

import configparser
import hashlib
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from ._env import override_env
from ._exceptions import MigrationError
from .resources._urls import with_path

if TYPE_CHECKING:
    from alembic.config import Config

    from ._config import HarnessConfig
    from .resources import Server
    from .resources.postgres import PostgresResource

__all__ = [
    "alembic_config",
    "assert_round_trip",
    "assert_single_head",
    "ensure_template",
    "single_head",
]


def alembic_config(ini: Path, url: str | None = None) -> Config:
    """An alembic Config for *ini*; with *url*, ``sqlalchemy.url`` points there.

    ``configure_logger = False`` tells an ``env.py`` that honours it (ours does) not to call
    ``fileConfig``, which would silence pytest's loggers.
    """
    from alembic.config import Config

    if not ini.is_file():
        raise MigrationError(
            f"alembic config {ini} does not exist: fix `harness_alembic_ini` in pyproject.toml "
            "(or set it empty to run without migrations)."
        )
    config = Config(str(ini))
    config.attributes["configure_logger"] = False
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def single_head(ini: Path) -> str:
    """The one head revision of the chain.

    :raises MigrationError: naming every head when the chain is not linear.
    """
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(ini))
    heads = script.get_heads()
    if len(heads) != 1:
        listed = ", ".join(sorted(heads)) or "none"
        raise MigrationError(
            f"the migration chain in {script.dir} has {len(heads)} heads ({listed}): keep the chain "
            "linear, every revision must have exactly one parent. Re-parent the newer revision "
            "onto the other (edit its down_revision), or merge them with `alembic merge heads`."
        )
    return heads[0]


def assert_single_head(ini: Path | str) -> str:
    """The guide's rule, as a check: the chain has exactly one head; returns it.

    :raises MigrationError: naming every head when there are several.
    """
    return single_head(Path(ini))


def _versions_hash(ini: Path) -> str:
    """A hash of the migration project: the ini and every Python file of its script location
    (env.py, the versions). Read with configparser, without importing alembic, so an unchanged,
    already migrated template costs no alembic import at all."""
    digest = hashlib.sha256(ini.read_bytes())
    scripts = _script_location(ini)
    for path in sorted(scripts.rglob("*.py")):
        digest.update(str(path.relative_to(scripts)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def _script_location(ini: Path) -> Path:
    parser = configparser.ConfigParser(defaults={"here": str(ini.parent)})
    parser.read(ini, encoding="utf-8")
    location = parser.get("alembic", "script_location", fallback="")
    for candidate in (ini.parent / location, Path(location)):
        if location and ":" not in location and candidate.is_dir():
            return candidate
    return ini.parent  # a package resource ("pkg:migrations") or unset: the ini's folder


def _url_variables(config: HarnessConfig) -> dict[str, str | None]:
    return {var: None for var, source in config.env_map.items() if source == "postgres"}


def upgrade(ini: Path, url: str, variables: dict[str, str | None], revision: str = "head") -> None:
    """``alembic upgrade`` to *revision* against *url*, with the mapped variables pointing there."""
    from alembic import command

    with override_env(dict.fromkeys(variables, url)):
        command.upgrade(alembic_config(ini, url), revision)


def downgrade(
    ini: Path, url: str, variables: dict[str, str | None], revision: str = "base"
) -> None:
    """``alembic downgrade`` to *revision* against *url*."""
    from alembic import command

    with override_env(dict.fromkeys(variables, url)):
        command.downgrade(alembic_config(ini, url), revision)


def assert_round_trip(
    ini: Path | str, url: str, *, url_variables: Sequence[str] = ("POSTGRES-SUPABASE-URL",)
) -> None:
    """Upgrade to head, downgrade to base, upgrade to head again: every ``downgrade()`` works.

    Run it against an empty database of its own: it drops everything the migrations made.
    *url_variables* are the variables ``env.py`` may read the URL from; they point at *url*
    during the check.

    :raises MigrationError: naming the step that failed, with alembic's message.
    """
    path = Path(ini)
    variables: dict[str, str | None] = dict.fromkeys(url_variables)
    for name, step in (
        ("upgrade head", upgrade),
        ("downgrade base", downgrade),
        ("upgrade head again", upgrade),
    ):
        try:
            step(path, url, variables)
        except Exception as exc:
            raise MigrationError(
                f"migration round trip failed at `{name}`: {type(exc).__name__}: {exc}"
            ) from exc


async def ensure_template(
    resource: PostgresResource, server: Server, config: HarnessConfig, *, private: bool = False
) -> str:
    """Create the migrated template database unless this server already has it; return its name.

    The name carries a hash of the migration scripts, so an edited migration rebuilds it (this
    matters with reuse) and an unchanged one is never applied twice.

    With *private* (a server the harness does not own, which concurrent runs share), the name
    also carries a random token: the template is this run's alone, created without dropping
    anything first, and the caller drops it when the run ends.

    :raises MigrationError: for two heads or a failing migration, with alembic's message.
    """
    assert config.alembic_ini is not None
    ini = config.alembic_ini
    if not ini.is_file():
        alembic_config(ini)  # raises the MigrationError that names the setting
    name = f"harness_tpl_{_versions_hash(ini)}"
    known = server.extra.get("template", "")
    if known == name or (private and known.startswith(f"{name}_")):
        return known  # migrated already, from these very files
    head = await anyio.to_thread.run_sync(single_head, ini)
    if private:
        name = f"{name}_{secrets.token_hex(4)}"
        await resource.create_database(server, name)  # never over an existing one
    else:
        await resource.admin_execute(
            server.url,
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
            f'CREATE DATABASE "{name}"',
        )
    url = with_path(server.url, name)
    try:
        await anyio.to_thread.run_sync(upgrade, ini, url, _url_variables(config))
    except Exception as exc:
        await resource.admin_execute(server.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        raise MigrationError(
            f"`alembic upgrade head` (to {head}) failed with {type(exc).__name__}: {exc}\n"
            f"Fix the migration, then rerun; check it alone with `alembic -c {ini} upgrade head`."
        ) from exc
    return name
