"""MongoDB: a database per session/worker. Locally a real ``mongod`` when one is on PATH, else
FerretDB v1 (MongoDB wire protocol on SQLite, telemetry off, state in the temp dir)."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from motor.motor_asyncio import AsyncIOMotorClient

from .._ferretdb_build import ferretdb_binary
from ._base import Client, LaunchSpec, Resource, Server, testcontainers_class
from ._urls import with_path

if TYPE_CHECKING:
    from testcontainers.core.container import DockerContainer

__all__ = ["MongoResource"]

USER = "harness"


class MongoResource(Resource):
    name = "mongo"
    title = "MongoDB"
    image = "mongo:7"
    install_hint = (
        "make setup  (builds FerretDB with Go), or put mongod on PATH, or set HARNESS_MONGO_URL"
    )
    url_scheme = "mongodb"

    def find_binaries(self) -> dict[str, str] | None:
        mongod = shutil.which("mongod")
        if mongod:
            return {"mongod": mongod}
        ferretdb = ferretdb_binary()
        return {"ferretdb": str(ferretdb)} if ferretdb else None

    async def prepare_local(
        self, binaries: Mapping[str, str], workdir: Path, port: int, secret: str, user: str | None
    ) -> LaunchSpec:
        data = workdir / "data"
        data.mkdir()
        if "mongod" in binaries:
            argv = [binaries["mongod"], "--port", str(port), "--bind_ip", "127.0.0.1"]
            argv += [
                "--dbpath",
                str(data),
                "--nounixsocket",
                "--quiet",
                "--setParameter",
                "diagnosticDataCollectionEnabled=false",
            ]
        else:
            argv = [
                binaries["ferretdb"],
                "-listen-addr",
                f"127.0.0.1:{port}",
                "-sqlite-dir",
                str(data),
            ]
        # Bound to 127.0.0.1 and without accounts: FerretDB's SQLite backend has no auth.
        return LaunchSpec(argv=argv, url=f"mongodb://127.0.0.1:{port}/")

    def container(self, image: str, secret: str, **options: Any) -> DockerContainer:
        container_class = testcontainers_class("mongodb", "MongoDbContainer")

        return container_class(image, **options, username=USER, password=secret)

    def container_url(self, container: DockerContainer, secret: str) -> str:
        host = container.get_container_host_ip()
        port = container.get_exposed_port(27017)
        url = f"mongodb://{USER}:{secret}@{host}:{port}/?authSource=admin"
        # FerretDB v1 without its experimental SCRAM support offers only PLAIN (and checks no
        # password); drivers would pick SCRAM and be refused. Use what the server offers.
        return url + "&authMechanism=PLAIN" if _offers_only_plain(host, port) else url

    async def probe(self, url: str) -> str:
        client = _client(url, timeout_ms=2000)
        try:
            info = await client.admin.command("buildInfo")
        finally:
            client.close()
        version = f"MongoDB {info.get('version', '')}"
        if "ferretdb" in info:
            version += f" (FerretDB {info['ferretdb'].get('version', '')})"
        return version

    async def create_namespace(self, server: Server, name: str) -> str:
        return with_path(server.url, name)  # databases exist once written to

    async def drop_namespace(self, server: Server, name: str) -> None:
        client = _client(server.url)
        try:
            await client.drop_database(unquote(name))
        finally:
            client.close()

    async def connect(self, url: str) -> Client:
        client = _client(url)
        database = client[unquote(urlsplit(url).path.lstrip("/"))]

        async def close() -> None:
            client.close()

        return database, close


def _offers_only_plain(host: str, port: int) -> bool:
    """Whether the server offers only the PLAIN mechanism to the harness's user (blocking: a
    started container's URL is built in a worker thread)."""
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]] = MongoClient(
        host, port, directConnection=True, serverSelectionTimeoutMS=10000
    )
    try:
        hello = client.admin.command("hello", saslSupportedMechs=f"admin.{USER}")
    finally:
        client.close()
    return list(hello.get("saslSupportedMechs", [])) == ["PLAIN"]


def _client(url: str, timeout_ms: int = 10000) -> AsyncIOMotorClient[dict[str, Any]]:
    return AsyncIOMotorClient(url, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms)
