"""Alembic migrations: applied once per run into a template database that every session/worker
database is cloned from (the checks the guide asks for are in :mod:`harness._migration_checks`).

Alembic runs the project's ``env.py``, which usually reads the database URL through the app's
own cached settings. Run inside the test process, that cache would keep the template's URL and
the app under test would then talk to the template. So alembic always runs in a subprocess
(:mod:`harness._alembic_worker`), with every variable of the env mapping set
(:func:`migration_env`): those fed from ``postgres`` point at the database being migrated, the
others at addresses that never resolve. Nothing the test process imports or caches is touched.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import re
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from ._env import resolve_env_map
from ._exceptions import MigrationError
from ._redact import scrub_exception
from ._urls import with_path

if TYPE_CHECKING:
    from alembic.config import Config

    from ._config import HarnessConfig

__all__ = [
    "alembic_config",
    "ensure_template",
    "migration_env",
    "placeholder_urls",
    "run_alembic",
    "single_head",
    "template_name",
]

MIGRATION_TIMEOUT = 600.0
"""Seconds one alembic subprocess may run (a whole chain on an empty database)."""

AdminExecute = Callable[..., Awaitable[None]]
"""``admin_execute(url, *statements)``: runs statements on the server's maintenance database."""


def alembic_config(ini: Path, url: str | None = None) -> Config:
    """An alembic Config for *ini*; with *url*, ``sqlalchemy.url`` points there.

    ``configure_logger = False`` tells an ``env.py`` that honours it (ours does) not to call
    ``fileConfig``, which would silence pytest's loggers.
    """
    from alembic.config import Config

    if not ini.is_file():
        raise MigrationError(
            f"alembic config {ini} does not exist: point `harness_alembic_ini` (or the path "
            "given to the function) at the project's alembic.ini, or leave the option out to run "
            "without migrations."
        )
    config = Config(str(ini))
    config.attributes["configure_logger"] = False
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def single_head(ini: Path) -> str:
    """The one head revision of the chain, in this process (``harness doctor``, the worker).

    :raises MigrationError: naming every head when the chain is not linear, or a revision file
        whose name does not follow the ``file_template`` the ini sets.
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
    template = _file_template(ini)
    misnamed = _misnamed_revisions(template, script) if template else []
    if misnamed:
        raise MigrationError(
            f"revision file(s) {', '.join(misnamed)} in {script.dir} do not follow the "
            f"file_template of {ini.name} ({template}): create revisions with "
            "`alembic revision -m ...` so the chain reads in order, or rename the file(s) to "
            "the template (the revision id inside stays the same)."
        )
    return heads[0]


def _file_template(ini: Path) -> str:
    """The ini's ``file_template`` (``""`` when it keeps alembic's default, which is not checked)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ini, encoding="utf-8")
    return parser.get("alembic", "file_template", fallback="").replace("%%", "%")


def template_pattern(template: str) -> re.Pattern[str]:
    """A regex matching the file names (without ``.py``) alembic makes from *template*:
    ``%(year)d`` is digits, ``%(month).2d`` two digits, ``%(rev)s`` / ``%(slug)s`` a word."""
    parts = re.split(r"(%\(\w+\)(?:\.\d+)?[ds])", template)
    pattern = ""
    for part in parts:
        token = re.fullmatch(r"%\((\w+)\)(?:\.(\d+))?([ds])", part)
        if token is None:
            pattern += re.escape(part)
        elif token.group(3) == "d":
            pattern += rf"\d{{{token.group(2)}}}" if token.group(2) else r"\d+"
        else:
            pattern += r"\w+?" if token.group(1) == "rev" else r"\w*"
    return re.compile(pattern)


def _misnamed_revisions(template: str, script: object) -> list[str]:
    pattern = template_pattern(template)
    names = []
    for revision in script.walk_revisions():  # type: ignore[attr-defined]
        stem = Path(revision.path).stem
        if not pattern.fullmatch(stem) or revision.revision not in stem:
            names.append(Path(revision.path).name)
    return sorted(names)


def _versions_hash(ini: Path) -> str:
    """A hash of everything alembic reads: the ini and every file of its script location (env.py,
    script.py.mako, the versions), names included. Read with configparser, without importing
    alembic, so an unchanged, already migrated template costs no alembic at all."""
    digest = hashlib.sha256(ini.read_bytes())
    for folder in _script_folders(ini):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path != ini:
                digest.update(str(path.relative_to(folder)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def _script_folders(ini: Path) -> list[Path]:
    """The script location, then each ``version_locations`` folder outside it."""
    parser = configparser.ConfigParser(defaults={"here": str(ini.parent)})
    parser.read(ini, encoding="utf-8")
    scripts = _folder(ini, parser.get("alembic", "script_location", fallback="")) or ini.parent
    folders = [scripts]  # a package resource ("pkg:migrations") or unset: the ini's folder
    for location in re.split(r"[\s,;:]+", parser.get("alembic", "version_locations", fallback="")):
        found = _folder(ini, location)
        if found is not None and not found.resolve().is_relative_to(scripts.resolve()):
            folders.append(found)
    return folders


def _folder(ini: Path, location: str) -> Path | None:
    for candidate in (ini.parent / location, Path(location)):
        if location and ":" not in location and candidate.is_dir():
            return candidate
    return None


def placeholder_urls(resources: Iterable[tuple[str, str]]) -> dict[str, str]:
    """For each ``(name, url_scheme)``, a URL of that kind whose host never resolves (RFC 6761's
    ``.invalid``): what the variables of a resource other than PostgreSQL hold while alembic runs.
    Migrations use PostgreSQL alone, and the other servers may still be starting."""
    return {
        name: f"{scheme}://harness:not-started@{name}.harness-migrations.invalid:1/0"
        for name, scheme in resources
    }


def migration_env(
    env_map: Mapping[str, str], url: str, placeholders: Mapping[str, str]
) -> dict[str, str]:
    """Every variable of *env_map* as alembic's ``env.py`` sees it: those fed from ``postgres``
    (its URL or a part of it) from *url*, the database being migrated; the others from
    *placeholders*. So a settings class that requires every variable validates there too."""
    return resolve_env_map(env_map, {**placeholders, "postgres": url})


def run_alembic(
    ini: Path,
    task: str,
    *,
    url: str | None,
    env: Mapping[str, str],
    cwd: Path | None = None,
) -> dict[str, str]:
    """Run an alembic *task* of :mod:`harness._alembic_worker` (``heads``, ``template``,
    ``round_trip``) in a subprocess, with the variables *env* set; return what it reports.

    :raises MigrationError: with the worker's message when a step fails, or it runs too long.
    """
    import subprocess

    request = {"ini": str(ini), "task": task, "url": url}
    variables = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p or os.getcwd() for p in sys.path),
        **env,
    }
    try:
        result = subprocess.run(
            [sys.executable, "-m", "harness._alembic_worker", json.dumps(request)],
            env=variables,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=MIGRATION_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise MigrationError(
            f"alembic ({task}) did not finish within "
            f"{MIGRATION_TIMEOUT:.0f} s; run it alone with `alembic -c {ini} upgrade head` to "
            "see where it waits (a lock held by another connection?)."
        ) from scrub_exception(exc)  # its command line holds the URL
    report = _last_json(result.stdout)
    if result.returncode != 0 or "error" in report:
        output = _tail(result.stderr)
        message = report.get("error") or (
            f"the alembic subprocess exited with {result.returncode}:\n{output or '(no output)'}"
        )
        error = MigrationError(message)
        if output and "error" in report:
            error.add_note(f"alembic's output:\n{output}")
        raise error
    return report


def _tail(output: str, limit: int = 2000) -> str:
    """The end of *output*, at most *limit* characters, from the start of a line."""
    output = output.strip()
    if len(output) <= limit:
        return output
    return output[-limit:].partition("\n")[2]


def _last_json(stdout: str) -> dict[str, str]:
    for line in reversed(stdout.strip().splitlines()):
        try:
            found = json.loads(line)
        except ValueError:
            continue
        if isinstance(found, dict):
            return {str(k): str(v) for k, v in found.items()}
    return {}


def template_name(config: HarnessConfig) -> str:
    """The template database's name: it carries a hash of the migration scripts, so an edited
    migration rebuilds it (this matters with reuse) and an unchanged one is never applied twice."""
    assert config.alembic_ini is not None
    if not config.alembic_ini.is_file():
        alembic_config(config.alembic_ini)  # raises the MigrationError that names the setting
    return f"harness_tpl_{_versions_hash(config.alembic_ini)}"


async def ensure_template(
    url: str,
    name: str,
    config: HarnessConfig,
    admin_execute: AdminExecute,
    placeholders: Mapping[str, str],
) -> None:
    """Migrate the empty database *name* on the server at *url* into the template (dropped
    again when the migration fails). *placeholders*: see :func:`migration_env`.

    :raises MigrationError: for two heads or a failing migration, with alembic's message.
    """
    assert config.alembic_ini is not None
    ini = config.alembic_ini
    template = with_path(url, name)
    try:
        await anyio.to_thread.run_sync(
            lambda: run_alembic(
                ini,
                "template",
                url=template,
                env=migration_env(config.env_map, template, placeholders),
                cwd=config.rootdir,
            )
        )
    except BaseException:
        with anyio.CancelScope(shield=True):
            await admin_execute(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        raise
