"""The pytest plugin: options, hooks and default fixtures. Logic lives in the modules it wires.

Registered through the ``pytest11`` entry point, so installing the package is all a project does.
The run's state is one :class:`~harness._session.HarnessSession` in ``config.stash``; what
differs between a plain run or xdist controller and an xdist worker lives in two role objects
(:class:`Controller`, :class:`Worker`), registered once the role is known.
"""

from __future__ import annotations

import signal
import threading
import types
from collections.abc import AsyncIterator, Callable, Generator
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

import pytest

from . import _leak_check, _timeout
from ._config import OPTIONS
from ._env import apply_env, load_env_file, resolve_env_map
from ._exceptions import EnvFileError, HarnessError, describe
from ._markers import MARKERS
from ._redact import scrub, scrub_exception, scrub_object
from ._session import HarnessSession, set_current
from ._stash import SESSION_KEY, session_of
from ._state import has_runs
from .resources import REGISTRY, Resource

if TYPE_CHECKING:  # imported when a test first needs a server: a run that needs none is lighter
    from ._infra import Infrastructure

NEEDED_KEY = pytest.StashKey[frozenset[str]]()
NOTHING: frozenset[str] = frozenset()


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
                opt.flag, action="append", default=None, metavar=opt.metavar, help=opt.help
            )
        else:
            group.addoption(opt.flag, default=None, help=opt.help)
        parser.addini(opt.ini, help=opt.help, type=ini_types[opt.kind], default=None)


# -- configuration and environment ---------------------------------------------------------------
@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    from ._config import parse_config

    try:  # after the conftests load: a resource registered there is known by now
        harness_config = parse_config(
            config.rootpath,
            lambda opt: config.getoption(opt.flag),
            lambda opt: config.getini(opt.ini),
            ini_origin=lambda opt: _ini_origin(config, opt.ini),
            resources=list(REGISTRY),
        )
    except ValueError as exc:
        raise pytest.UsageError(f"harness: {exc}") from None
    _refuse_pytest_asyncio_auto_mode(config)
    session = HarnessSession(harness_config)
    config.stash[SESSION_KEY] = session
    set_current(session)
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    env_file = harness_config.env_file
    explicit = config.getoption("--harness-env-file") or config.getini("harness_env_file")
    if env_file is not None and (env_file.exists() or explicit):
        try:
            load_env_file(env_file)  # before collection: before any test module is imported
        except EnvFileError as exc:
            raise pytest.UsageError(f"harness: {exc}") from None
    role = Worker(config) if hasattr(config, "workerinput") else Controller(config)
    config.pluginmanager.register(role, "harness-role")
    config.pluginmanager.register(_resource_fixtures(config), "harness-resource-fixtures")
    # Registered rather than listed in pytest_plugins, which would make pytest rewrite their
    # asserts (they have none) by compiling them afresh on every start.
    for module in (_timeout, _leak_check):
        if not config.pluginmanager.is_registered(module):
            config.pluginmanager.register(module, module.__name__)
    _stop_on_sigterm()


def _ini_origin(config: pytest.Config, name: str) -> str:
    """Where an ini value comes from, as a user would look for it: ``-o`` on the command line,
    else the ini file (relative to the rootdir)."""
    overrides = getattr(config.option, "override_ini", None) or []
    if any(entry.partition("=")[0].strip() == name for entry in overrides):
        return f"-o {name}=... on the command line"
    path = config.inipath
    if path is None:
        return "the ini file"
    return str(path.relative_to(config.rootpath) if path.is_relative_to(config.rootpath) else path)


def _refuse_pytest_asyncio_auto_mode(config: pytest.Config) -> None:
    """pytest-asyncio in auto mode takes over every async test and fixture, the anyio ones the
    harness runs on its session-wide event loop included: stop at once, saying what to change."""
    if not config.pluginmanager.has_plugin("asyncio"):
        return
    mode = config.getoption("asyncio_mode", None) or config.getini("asyncio_mode")
    if mode == "auto":
        raise pytest.UsageError(
            "harness: pytest-asyncio is installed in auto mode, so it runs every async test "
            "and fixture on loops of its own, the harness's anyio ones included (\"attached to "
            'a different loop"). Set asyncio_mode = "strict" (pytest-asyncio\'s default) in '
            "[tool.pytest.ini_options], or turn it off with `-p no:asyncio` in addopts."
        )


def _stop_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt so a terminated pytest still stops its servers."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:

        def interrupt(signum: int, frame: types.FrameType | None) -> None:
            raise KeyboardInterrupt(f"signal {signum}")

        signal.signal(signal.SIGTERM, interrupt)


# -- which resources the selected tests need ------------------------------------------------------
def pytest_collection_finish(session: pytest.Session) -> None:
    """After ``-k``/``-m`` deselection: the final items say which servers to start."""
    config = session.config
    harness_config = session_of(config).config
    env_sources = {source.partition(".")[0] for source in harness_config.env_map.values()}
    needed: set[str] = set(_always(config)) if session.items else set()
    for item in session.items:
        names = set(getattr(item, "fixturenames", ()))
        needed |= {r.name for r in REGISTRY.values() if r.fixtures & names}
        if "configure_test_env" in names:
            needed |= env_sources & REGISTRY.keys()
    config.stash[NEEDED_KEY] = frozenset(needed)


def _always(config: pytest.Config) -> list[str]:
    """The resources ``harness_resources`` starts for every test."""
    names = session_of(config).config.resources
    return list(REGISTRY) if "all" in names else [n for n in REGISTRY if n in names]


# -- fixtures ------------------------------------------------------------------------------------
# They ask for ``pytestconfig`` or each other rather than ``request`` where they can: pytest makes
# a new ``request`` fixture definition each time one is resolved, for every test whose closure
# holds the fixture (even a cached session-scoped one), which costs more than the rest of them.
@pytest.fixture(scope="session")
async def harness_infra(
    pytestconfig: pytest.Config, anyio_backend: str
) -> AsyncIterator[Infrastructure]:
    """The session's servers, namespaces and clients; started once, when a test first needs them."""
    from ._infra import Infrastructure

    session = session_of(pytestconfig)
    role = _role(pytestconfig)
    try:
        infra = Infrastructure(
            session.config, worker=role.worker, xdist_run=role.xdist_run, session=session
        )
        needed: frozenset[str] = pytestconfig.stash.get(NEEDED_KEY, NOTHING)
        lines = await infra.start(needed)
    except HarnessError as exc:
        role.start_failed(f"harness could not start the test infrastructure:\n{describe(exc)}")
        raise
    session.infra = infra
    role.report([line.render() for line in lines])
    try:
        yield infra
    finally:
        session.infra = None
        await infra.close()


@pytest.fixture(scope="session")
def configure_test_env(harness_infra: Infrastructure) -> dict[str, str]:
    """Inject every mapped live URL into the environment (the guide's fixture); returns them."""
    values = resolve_env_map(harness_infra.config.env_map, harness_infra.urls)
    apply_env(values)
    return values


def _harness_always_started(request: pytest.FixtureRequest) -> None:
    """Start what ``harness_resources`` lists (and set their variables) before any test."""
    for name in _always(request.config):
        request.getfixturevalue(f"{name}_url")


def _anyio_backend() -> str:
    """One asyncio event loop for the whole session (asyncpg, aio-pika and motor need asyncio)."""
    return "asyncio"


def _resource_fixtures(config: pytest.Config) -> types.ModuleType:
    """Fixtures registered after every entry-point plugin, so they win over same-named ones:
    ``anyio_backend`` (anyio's own is module-scoped and parametrised over every installed
    backend) and ``<name>_url`` / ``<name>`` for every registered resource (a resource
    registered in a root conftest gets its fixtures too); and, when ``harness_resources`` names
    some, the autouse fixture that starts them."""
    module = types.ModuleType("harness._fixtures")
    module.anyio_backend = pytest.fixture(scope="session", name="anyio_backend")(_anyio_backend)  # type: ignore[attr-defined]
    for resource in REGISTRY.values():
        setattr(module, f"{resource.name}_url", _url_fixture(resource))
        setattr(module, f"{resource.name}_client", _client_fixture(resource))
    if _always(config):
        module._harness_always_started = pytest.fixture(scope="session", autouse=True)(  # type: ignore[attr-defined]
            _harness_always_started
        )
    return module


def _mapped_url(resource: Resource, infra: Infrastructure) -> str:
    """*resource*'s namespace URL, its mapped variables set."""
    mine = {
        var: src
        for var, src in infra.config.env_map.items()
        if src.partition(".")[0] == resource.name
    }
    apply_env(resolve_env_map(mine, infra.urls))
    return infra.urls[resource.name]


def _url_fixture(resource: Resource) -> Any:
    @pytest.fixture(scope="session", name=f"{resource.name}_url")
    def url(harness_infra: Infrastructure) -> str:
        return _mapped_url(resource, harness_infra)

    url.__doc__ = f"URL of this session's {resource.title} namespace; injects its mapped variables."
    return url


def _client_fixture(resource: Resource) -> Any:
    @pytest.fixture(scope="session", name=resource.name)
    def client(harness_infra: Infrastructure) -> Any:
        _mapped_url(resource, harness_infra)
        return resource.client()

    client.__doc__ = f"The harness's own {resource.title} client for this session."
    return client


# -- during and after the run ----------------------------------------------------------------------
@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """No password in a report: the exception chain is scrubbed before pytest renders it, and
    what it rendered (function arguments, locals, captured output) after."""
    if call.excinfo is not None:
        scrub_exception(call.excinfo.value)
    report = yield
    _scrub_report(report)
    return report


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    _scrub_report(report)
    return report


def _scrub_report(report: pytest.TestReport | pytest.CollectReport) -> None:
    report.longrepr = scrub_object(report.longrepr)
    report.sections = [(title, scrub(text)) for title, text in report.sections]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    """A server that died since the last test fails this one at once, with its log."""
    infra = session_of(item.config).infra
    if infra is not None:
        infra.check_still_alive()
    return (yield from _blaming_a_dead_server(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _blaming_a_dead_server(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _blaming_a_dead_server(item))


def _blaming_a_dead_server(item: pytest.Item) -> Generator[None, object, object]:
    """When a test phase fails and a server has died meanwhile, fail with ServerDiedError (the
    server, its log) caused by the driver's error, instead of the driver's error alone.

    Costs nothing while tests pass: the servers are looked at only after a failure.
    """
    try:
        return (yield)
    except Exception as exc:
        infra = session_of(item.config).infra
        died = infra.dead_server() if infra is not None else None
        if died is None:
            raise
        raise died from exc


@pytest.hookimpl(trylast=True)
def pytest_report_header(config: pytest.Config) -> str:
    options = session_of(config).config
    limit = f"{options.timeout:g} s" if options.timeout else "none"
    return f"harness: per-test time limit {limit}, leak check {options.leak_check}"


def pytest_unconfigure(config: pytest.Config) -> None:
    """If the session fixture could not tear down (Ctrl-C inside a test leaves anyio's runner
    unusable), stop the servers anyway: nothing the harness started outlives pytest."""
    session = config.stash.get(SESSION_KEY, None)
    if session is None:
        return
    infra, session.infra = session.infra, None
    if infra is not None:
        infra.release_now()
    set_current(None)


def _role(config: pytest.Config) -> Controller | Worker:
    role = config.pluginmanager.get_plugin("harness-role")
    assert isinstance(role, Controller | Worker)
    return role


# -- roles -----------------------------------------------------------------------------------------
class Controller:
    """A plain run, or the xdist controller: reaps killed runs once, shows the startup lines."""

    worker: str | None = None
    xdist_run: str | None = None

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Reap the servers of runs that were killed (SIGKILL, OOM) before they could stop them.
        A state dir that cannot be written is reported, not fatal: a run that needs no server
        goes on, one that does fails when it starts them, with the fix."""
        self._reap()

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Under xdist, reap again once every worker is down: a worker that crashed after the
        others had finished left the servers to nobody, and one whose start failed left its
        error in the run record for the others. A finished run leaves nothing behind."""
        if self.config.pluginmanager.has_plugin("dsession"):
            # Into the summary's harness section (pytest_terminal_summary), not written twice.
            self._reap(session_of(self.config).lines.extend)

    def _reap(self, show: Callable[[list[str]], None] | None = None) -> None:
        show = show or self.report
        config = session_of(self.config).config
        if not has_runs(config.state_dir):  # nothing to reap: skip loading the machinery
            return
        from ._infra import reap

        try:
            reaped = reap(config)
        except HarnessError as exc:
            show([f"harness: could not reap killed runs: {exc}"])
            return
        show([f"harness: reaped {what}" for what in reaped])

    def report(self, lines: list[str]) -> None:
        """Show *lines* now, on the terminal, even while pytest captures the test's output."""
        lines = [scrub(line) for line in lines]
        session_of(self.config).lines.extend(lines)
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None or not lines:
            return
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else nullcontext():
            reporter.ensure_newline()
            for line in lines:
                reporter.write_line(line)

    def start_failed(self, message: str) -> None:
        pytest.exit(message, returncode=3)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """An xdist worker finished: keep its startup lines for the summary."""
        seen = session_of(self.config).lines
        lines = getattr(node, "workeroutput", {}).get("harness_lines", [])
        seen.extend(line for line in lines if line not in seen)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Under xdist the workers start the servers: their lines come in the summary."""
        lines = session_of(self.config).lines
        if lines and self.config.pluginmanager.has_plugin("dsession"):
            terminalreporter.section("harness")
            for line in lines:
                terminalreporter.write_line(line)


class Worker:
    """An xdist worker: its own namespaces on the run's shared servers; reports to the controller."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        workerinput: dict[str, Any] = config.workerinput  # type: ignore[attr-defined]
        # From xdist itself, not PYTEST_XDIST_* variables: a subprocess of a worker inherits those.
        self.worker: str | None = workerinput.get("workerid")
        self.xdist_run: str | None = workerinput.get("testrunuid")

    def report(self, lines: list[str]) -> None:
        session_of(self.config).lines.extend(lines)

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session

    def start_failed(self, message: str) -> None:
        # A worker that exits is reported as a crash without the message: fail the test with
        # it instead, and stop this worker after it.
        self.session.shouldfail = message

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.config.workeroutput["harness_lines"] = session_of(self.config).lines  # type: ignore[attr-defined]
