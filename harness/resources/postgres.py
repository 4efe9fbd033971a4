"""PostgreSQL: a database per session/worker, cloned from a template that alembic migrated once."""

from __future__ import annotations

import secrets
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from .._binaries import HOMEBREW, install_hint, search_dirs, which_all
from .._exceptions import HarnessError, ServerStartError
from .._process import chown_to, first_line
from .._urls import address, with_path
from ._base import Client, LaunchSpec, LeakCounter, Resource, Server, testcontainers_class

if TYPE_CHECKING:
    import asyncpg
    from testcontainers.core.container import DockerContainer

    from .._config import HarnessConfig

__all__ = ["PostgresResource"]

USER = "harness"

# Durability off, nothing a test run needs: a crash loses the data, and the run is over anyway.
TEST_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
    "shared_buffers": "64MB",
    "autovacuum": "off",
    "log_min_messages": "warning",
    "jit": "off",
}


class PostgresResource(Resource):
    name = "postgres"
    title = "PostgreSQL"
    image = "postgres:17.4-alpine"
    install_hint = install_hint(
        apt="apt-get install postgresql",
        brew="brew install postgresql@17",
        url_env="HARNESS_POSTGRES_URL",
    )
    url_scheme = "postgresql"
    refuses_root = True
    leak_units = ("table", "row")

    def find_binaries(self) -> dict[str, str] | None:
        dirs = search_dirs(
            "/usr/lib/postgresql/*/bin",  # Debian, Ubuntu: the server is not on PATH
            *(f"{prefix}/opt/postgresql@*/bin" for prefix in HOMEBREW),
            *(f"{prefix}/opt/postgresql/bin" for prefix in HOMEBREW),
            "/Applications/Postgres.app/Contents/Versions/latest/bin",
        )
        return which_all(("initdb", "postgres"), dirs)

    def version_of(self, binaries: Mapping[str, str]) -> str:
        return first_line([binaries["postgres"], "--version"])

    async def prepare_local(
        self, binaries: Mapping[str, str], workdir: Path, port: int, secret: str, user: str | None
    ) -> LaunchSpec:
        data = workdir / "data"
        pwfile = workdir / "pwfile"
        pwfile.write_text(secret, encoding="utf-8")
        pwfile.chmod(0o600)
        chown_to(pwfile, user)
        argv = [binaries["initdb"], "-D", str(data), "-U", USER, f"--pwfile={pwfile}"]
        argv += [
            "--auth=scram-sha-256",
            "--no-sync",
            "--no-instructions",
            "-E",
            "UTF8",
            "--no-locale",
        ]
        result = await anyio.to_thread.run_sync(
            lambda: subprocess.run(argv, capture_output=True, text=True, user=user, cwd=workdir)
        )
        pwfile.unlink()
        if result.returncode != 0:
            raise ServerStartError(f"initdb failed ({result.returncode}):\n{result.stderr.strip()}")
        settings = {**TEST_SETTINGS, "port": str(port), "unix_socket_directories": str(workdir)}
        server = [binaries["postgres"], "-D", str(data)]
        for key, value in settings.items():
            server += ["-c", f"{key}={value}"]
        return LaunchSpec(
            argv=server,
            url=f"postgresql://{USER}:{secret}@127.0.0.1:{port}/postgres",
            stop_signal=signal.SIGINT,  # "fast" shutdown: SIGTERM would wait for clients
        )

    def container(self, image: str, secret: str, **options: Any) -> DockerContainer:
        postgres_container = testcontainers_class("postgres", "PostgresContainer")
        container = postgres_container(
            image, **options, username=USER, password=secret, dbname="postgres", driver=None
        )
        return container.with_command(
            "postgres "
            + " ".join(f"-c {k}={v}" for k, v in TEST_SETTINGS.items() if k != "listen_addresses")
        )

    def container_url(self, container: DockerContainer, secret: str) -> str:
        host = container.get_container_host_ip()
        return f"postgresql://{USER}:{secret}@{host}:{container.get_exposed_port(5432)}/postgres"

    async def probe(self, url: str) -> str:
        import asyncpg

        conn = await asyncpg.connect(url, timeout=5)
        try:
            version: str = await conn.fetchval("SHOW server_version")
        finally:
            await conn.close()
        return f"PostgreSQL {version.split()[0]}"

    async def prepare_server(self, server: Server, config: HarnessConfig) -> None:
        """Build the migrated template. On a server the harness does not own it is the run's
        own (``harness_tpl_<hash>_<token>``), so concurrent runs never drop each other's; it goes
        in :meth:`release_server`."""
        if config.alembic_ini is None:
            return
        from .._migrations import ensure_template, placeholder_urls, template_name
        from ._registry import REGISTRY

        name, previous = template_name(config), server.extra.get("template", "")
        if previous == name or (not server.owned and previous.startswith(f"{name}_")):
            return  # migrated already, from these very files
        if server.owned:
            await self.admin_execute(server.url, _drop(name))
        else:
            name = f"{name}_{secrets.token_hex(4)}"
        await self.create_database(server, name)  # never over an existing one
        placeholders = placeholder_urls((r.name, r.url_scheme) for r in REGISTRY.values())
        await ensure_template(server.url, name, config, self.admin_execute, placeholders)
        server.extra["template"] = name
        if not server.owned and previous:
            await self.admin_execute(server.url, _drop(previous))  # a reused run's older one

    async def release_server(self, server: Server) -> None:
        """Drop the run's own template from a server the harness does not own."""
        template = server.extra.get("template")
        if not server.owned and template:
            await self.admin_execute(server.url, _drop(template))

    async def create_namespace(self, server: Server, name: str) -> str:
        """Create database *name* (from the template): never over an existing one."""
        await self.create_database(server, name, template=server.extra.get("template"))
        return with_path(server.url, name)

    async def drop_namespace(self, server: Server, name: str) -> None:
        await self.admin_execute(server.url, _drop(name))

    async def create_database(self, server: Server, name: str, template: str | None = None) -> None:
        """``CREATE DATABASE`` *name*; if it exists already, an error that changes nothing.

        :raises HarnessError: naming the database and the fix.
        """
        import asyncpg

        sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
        try:
            await self.admin_execute(server.url, sql)
        except asyncpg.DuplicateDatabaseError as exc:
            raise HarnessError(
                f"PostgreSQL database {name} already exists on {address(server.url)}: the harness "
                "creates a database of its own per session and never drops or changes what it "
                "did not create. If it is a leftover of a killed run, `python -m harness reap` "
                "drops it (or drop it yourself); otherwise rerun, the next name is random."
            ) from exc

    async def admin_execute(self, url: str, *statements: str) -> None:
        """Run statements outside a transaction on the server's maintenance database."""
        import asyncpg

        conn = await asyncpg.connect(url, timeout=10)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    async def connect(self, url: str, config: HarnessConfig) -> Client:
        import asyncpg

        pool = await asyncpg.create_pool(url, min_size=1, max_size=10, reset=_keep_session)
        return pool, pool.close

    async def open_leak_counter(self, url: str, client: Any) -> LeakCounter:
        import asyncpg

        # Its own connection: a pool acquire + release (with its reset round trip) costs
        # several times the count itself (bench/leak_check_cost.py).
        connection = await asyncpg.connect(url, timeout=10)
        try:
            fresh = await _new_oids_are_highest(connection)
        except BaseException:
            await connection.close()
            raise
        return RowCounter(connection, _HIGHEST_OID if fresh else _FINGERPRINT)


async def _keep_session(connection: asyncpg.Connection) -> None:
    """How the harness's pool resets a connection it gets back: as SQLAlchemy's pool does, by
    rolling back a transaction left open (asyncpg does that before calling this), and nothing
    more. asyncpg's default also runs ``RESET ALL``, ``UNLISTEN *``, ``CLOSE ALL`` and
    ``pg_advisory_unlock_all()``: a round trip on every release, that is on every
    ``postgres().execute(...)``, for session state seeds and assertions do not make (a ``SET``
    done on a connection of this pool stays on it: use ``SET LOCAL`` in a transaction)."""


_USER_TABLES = r"""
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname <> 'alembic_version'
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
"""
# Changes when a user table is created or dropped (a rename is caught by the statement failing).
_FINGERPRINT = (
    "SELECT coalesce(hashtext(string_agg(c.oid::text, ',' ORDER BY c.oid)), 0)::bigint"
    + _USER_TABLES
)
# Grows when any relation is created, as long as new OIDs are the highest (see below): an index
# lookup, where the exact fingerprint scans pg_class (about half the count's server time).
_HIGHEST_OID = "SELECT max(oid)::bigint FROM pg_class"
_BUILD_COUNTS = (
    "SELECT string_agg(format("
    "'SELECT %L AS name, count(*) AS n FROM %I.%I', "
    "format('%I.%I', n.nspname, c.relname), n.nspname, c.relname), ' UNION ALL ') AS counts"
    + _USER_TABLES
)
_PROBE = "harness_oid_probe"


async def _new_oids_are_highest(connection: asyncpg.Connection) -> bool:
    """Whether a relation created now gets a higher OID than every relation there is: true until
    the server's OID counter wraps around (after about four billion objects), so always on the
    servers the harness starts. Asked by creating a temporary table (dropped at once); ``False``
    where that is not allowed."""
    import asyncpg

    try:
        await connection.execute(f"CREATE TEMP TABLE {_PROBE} ()")
        try:
            probe, highest = await connection.fetchrow(
                f"SELECT '{_PROBE}'::regclass::oid::bigint, "
                f"(SELECT max(oid)::bigint FROM pg_class WHERE relname <> '{_PROBE}')"
            )
        finally:
            await connection.execute(f"DROP TABLE {_PROBE}")
    except asyncpg.PostgresError:
        return False
    return bool(probe > highest)


class RowCounter(LeakCounter):
    """Exact rows per user table (``alembic_version`` excluded) in one round trip: one
    ``count(*)`` per table in a single ``UNION ALL`` statement, which also reads a fingerprint
    of the set of tables (*fingerprint*, a query returning one ``bigint``) and is rebuilt when
    that changes."""

    def __init__(self, connection: asyncpg.Connection, fingerprint: str = _FINGERPRINT) -> None:
        self._connection = connection
        self._fingerprint = fingerprint
        self._statement: tuple[int, str] | None = None
        """(fingerprint of the tables, the statement that counts them)."""

    async def count(self) -> dict[str, int]:
        from asyncpg.exceptions import UndefinedTableError

        rows: dict[str, int] = {}
        for _ in range(2):
            if self._statement is None:
                fingerprint, built = await self._connection.fetchrow(
                    f"SELECT ({self._fingerprint}), ({_BUILD_COUNTS})"
                )
                counts = f" UNION ALL {built}" if built else ""
                statement = f"SELECT '' AS name, ({self._fingerprint}) AS n{counts}"
                self._statement = (fingerprint, statement)
            fingerprint, statement = self._statement
            try:
                rows = {row["name"]: row["n"] for row in await self._connection.fetch(statement)}
            except UndefinedTableError:  # a table was renamed or dropped since it was built
                rows = {}
            if rows.pop("", None) == fingerprint:
                break
            self._statement = None  # the tables changed: build the statement again
        return rows

    async def aclose(self) -> None:
        await self._connection.close()


def _drop(database: str) -> str:
    return f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'
