"""PostgreSQL: a database per session/worker, cloned from a template that alembic migrated once."""

from __future__ import annotations

import glob
import shutil
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import asyncpg

from .._exceptions import HarnessError, ServerStartError
from .._process import chown_to
from ._base import Client, LaunchSpec, Resource, Server, testcontainers_class
from ._urls import address, with_path

if TYPE_CHECKING:
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
    install_hint = "apt-get install postgresql  (or set HARNESS_POSTGRES_URL)"
    url_scheme = "postgresql"

    def find_binaries(self) -> dict[str, str] | None:
        for directory in [None, *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]:
            found = {b: shutil.which(b, path=directory) for b in ("initdb", "postgres")}
            if all(found.values()):
                return {k: v for k, v in found.items() if v}
        return None

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
        conn = await asyncpg.connect(url, timeout=5)
        try:
            version: str = await conn.fetchval("SHOW server_version")
        finally:
            await conn.close()
        return f"PostgreSQL {version.split()[0]}"

    async def prepare_server(self, server: Server, config: HarnessConfig) -> None:
        """Build the migrated template. On an external server it is the run's own
        (``harness_tpl_<hash>_<token>``), so concurrent runs never drop each other's; it goes
        in :meth:`release_server`."""
        if config.alembic_ini is None:
            return
        from .._migrations import ensure_template

        private = server.backend == "external"
        previous = server.extra.get("template")
        server.extra["template"] = await ensure_template(self, server, config, private=private)
        if private and previous and previous != server.extra["template"]:
            await self.admin_execute(server.url, _drop(previous))  # a reused run's older one

    async def release_server(self, server: Server) -> None:
        """Drop the run's own template from an external server."""
        template = server.extra.get("template")
        if server.backend == "external" and template:
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
        conn = await asyncpg.connect(url, timeout=10)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    async def connect(self, url: str) -> Client:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=10)
        return pool, pool.close


def _drop(database: str) -> str:
    return f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'
