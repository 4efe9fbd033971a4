"""The pytest plugin: options, hooks and default fixtures. Logic lives in the modules it wires.

Registered through the ``pytest11`` entry point, so installing the package is all a project does.
"""

from __future__ import annotations

import signal
import threading
import types
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ._config import OPTIONS, HarnessConfig, parse_config
from ._env import apply_env, load_env_file, resolve_env_map
from ._exceptions import EnvFileError, HarnessError
from ._infra import Infrastructure, reap
from .resources import REGISTRY, Resource

pytest_plugins = ["harness._pertest"]

CONFIG_KEY = pytest.StashKey[HarnessConfig]()
NEEDED_KEY = pytest.StashKey[frozenset[str]]()
NOTHING: frozenset[str] = frozenset()
INFRA_KEY = pytest.StashKey[Infrastructure]()
LINES_KEY = pytest.StashKey[list[str]]()


# -- options -----------------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(
        "harness", "harness: real PostgreSQL, RabbitMQ, MongoDB and Redis for tests"
    )
    ini_types: dict[str, Any] = {
        "string": "string",
        "bool": "bool",
        "linelist": "linelist",
        "float": "string",
    }
    for opt in OPTIONS:
        if opt.kind == "bool":
            group.addoption(opt.flag, action="store_const", const=True, default=None, help=opt.help)
        elif opt.kind == "linelist":
            group.addoption(
                opt.flag, action="append", default=None, metavar="KEY=VALUE", help=opt.help
            )
        else:
            group.addoption(opt.flag, default=None, help=opt.help)
        parser.addini(opt.ini, help=opt.help, type=ini_types[opt.kind], default=None)


# -- configuration and environment ---------------------------------------------------------------
@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    try:
        harness_config = parse_config(
            config.rootpath,
            lambda opt: config.getoption(opt.flag),
            lambda opt: config.getini(opt.ini),
        )
    except ValueError as exc:
        raise pytest.UsageError(f"harness: {exc}") from None
    config.stash[CONFIG_KEY] = harness_config
    config.stash[LINES_KEY] = []
    env_file = harness_config.env_file
    explicit = config.getoption("--harness-env-file") or config.getini("harness_env_file")
    if env_file is not None and (env_file.exists() or explicit):
        try:
            load_env_file(env_file)  # before collection: before any test module is imported
        except EnvFileError as exc:
            raise pytest.UsageError(f"harness: {exc}") from None
    config.pluginmanager.register(_resource_fixtures(), "harness-resource-fixtures")
    _stop_on_sigterm()


def _stop_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt so a terminated pytest still stops its servers."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:

        def interrupt(signum: int, frame: types.FrameType | None) -> None:
            raise KeyboardInterrupt(f"signal {signum}")

        signal.signal(signal.SIGTERM, interrupt)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Reap the servers of runs that were killed (SIGKILL, OOM) before they could stop them."""
    if hasattr(session.config, "workerinput"):
        return  # the xdist controller (or a plain run) does it once
    reaped = reap(session.config.stash[CONFIG_KEY])
    _report(session.config, [f"harness: reaped {what}" for what in reaped])


# -- which resources the selected tests need ------------------------------------------------------
def pytest_collection_finish(session: pytest.Session) -> None:
    """After ``-k``/``-m`` deselection: the final items say which servers to start."""
    config = session.config
    env_sources = {source.partition(".")[0] for source in config.stash[CONFIG_KEY].env_map.values()}
    needed: set[str] = set()
    for item in session.items:
        names = set(getattr(item, "fixturenames", ()))
        needed |= {r.name for r in REGISTRY.values() if r.fixtures & names}
        if "configure_test_env" in names:
            needed |= env_sources & REGISTRY.keys()
    config.stash[NEEDED_KEY] = frozenset(needed)


# -- fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
async def harness_infra(
    request: pytest.FixtureRequest, anyio_backend: str
) -> AsyncIterator[Infrastructure]:
    """The session's servers, namespaces and clients; started once, when a test first needs them."""
    config = request.config
    # From xdist itself, not PYTEST_XDIST_* variables: a subprocess of a worker inherits those.
    workerinput = getattr(config, "workerinput", None) or {}
    infra = Infrastructure(
        config.stash[CONFIG_KEY],
        worker=workerinput.get("workerid"),
        xdist_run=workerinput.get("testrunuid"),
    )
    try:
        needed: frozenset[str] = config.stash.get(NEEDED_KEY, NOTHING)
        lines = await infra.start(needed)
    except HarnessError as exc:
        message = f"harness could not start the test infrastructure:\n{exc}"
        if not hasattr(config, "workerinput"):
            pytest.exit(message, returncode=3)
        # An xdist worker that exits is reported as a crash without the message: fail the test
        # with it instead, and stop this worker after it.
        request.session.shouldfail = message
        raise
    config.stash[INFRA_KEY] = infra
    _report(config, [line.render() for line in lines])
    try:
        yield infra
    finally:
        del config.stash[INFRA_KEY]
        await infra.close()


@pytest.fixture(scope="session")
def configure_test_env(
    request: pytest.FixtureRequest, harness_infra: Infrastructure
) -> dict[str, str]:
    """Inject every mapped live URL into the environment (the guide's fixture); returns them."""
    values = resolve_env_map(request.config.stash[CONFIG_KEY].env_map, harness_infra.urls)
    apply_env(values)
    return values


def _anyio_backend() -> str:
    """One asyncio event loop for the whole session (asyncpg, aio-pika and motor need asyncio)."""
    return "asyncio"


def _resource_fixtures() -> types.ModuleType:
    """Fixtures registered after every entry-point plugin, so they win over same-named ones:
    ``anyio_backend`` (anyio's own is module-scoped and parametrised over every installed
    backend) and ``<name>_url`` / ``<name>`` for every registered resource (a resource
    registered in a root conftest gets its fixtures too)."""
    module = types.ModuleType("harness._fixtures")
    module.anyio_backend = pytest.fixture(scope="session", name="anyio_backend")(_anyio_backend)  # type: ignore[attr-defined]
    for resource in REGISTRY.values():
        setattr(module, f"{resource.name}_url", _url_fixture(resource))
        setattr(module, f"{resource.name}_client", _client_fixture(resource))
    return module


def _url_fixture(resource: Resource) -> Any:
    @pytest.fixture(scope="session", name=f"{resource.name}_url")
    def url(request: pytest.FixtureRequest, harness_infra: Infrastructure) -> str:
        mapping = request.config.stash[CONFIG_KEY].env_map
        mine = {var: src for var, src in mapping.items() if src.partition(".")[0] == resource.name}
        apply_env(resolve_env_map(mine, harness_infra.urls))
        return harness_infra.urls[resource.name]

    url.__doc__ = f"URL of this session's {resource.title} namespace; injects its mapped variables."
    return url


def _client_fixture(resource: Resource) -> Any:
    @pytest.fixture(scope="session", name=resource.name)
    def client(request: pytest.FixtureRequest) -> Any:
        request.getfixturevalue(f"{resource.name}_url")
        from . import _accessors

        return _accessors._get(resource.name)

    client.__doc__ = f"The harness's own {resource.title} client for this session (see harness.{resource.name}())."
    return client


# -- during and after the run ----------------------------------------------------------------------
def pytest_runtest_setup(item: pytest.Item) -> None:
    infra = item.config.stash.get(INFRA_KEY, None)
    if infra is not None:
        infra.check_alive(infra.servers)


def _report(config: pytest.Config, lines: list[str]) -> None:
    config.stash[LINES_KEY].extend(lines)
    if hasattr(config, "workerinput"):
        return  # xdist worker: the controller prints them (pytest_testnodedown)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
        for line in lines:
            reporter.write_line(line)


def pytest_unconfigure(config: pytest.Config) -> None:
    """If the session fixture could not tear down (Ctrl-C inside a test leaves anyio's runner
    unusable), stop the servers anyway: nothing the harness started outlives pytest."""
    infra = config.stash.get(INFRA_KEY, None)
    if infra is not None:
        del config.stash[INFRA_KEY]
        infra.release_now()


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if hasattr(config, "workeroutput"):
        config.workeroutput["harness_lines"] = config.stash.get(LINES_KEY, [])


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    lines = getattr(node, "workeroutput", {}).get("harness_lines", [])
    config: pytest.Config = node.config
    seen = config.stash.setdefault(LINES_KEY, [])
    seen.extend(line for line in lines if line not in seen)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):
        lines = config.stash.get(LINES_KEY, [])
        if lines and config.pluginmanager.has_plugin("dsession"):
            terminalreporter.section("harness")
            for line in lines:
                terminalreporter.write_line(line)
