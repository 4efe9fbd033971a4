"""Every message, exactly: the troubleshooting page shows each message the code can produce and
nothing else, and the messages of bad input are tested whole.

The page's ```` ```text ```` blocks hold messages, one after another, in any order; ``<anything
in angle brackets>`` stands for a part that changes (a path, a name, an error's own text). The
code's messages are read from its syntax tree by :mod:`tests.messages_catalogue`.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from collections.abc import AsyncIterator
from functools import cache
from pathlib import Path

import pytest

from harness._config import HarnessConfig
from harness._exceptions import BackendUnavailableError, HarnessError
from harness._messaging import default_exchange, listen
from harness._process import free_port, spawn, stop_process
from harness._readiness import wait_ready
from harness._session import HarnessSession, activate
from harness.backends import choose
from harness.resources import Server
from harness.resources.redis import CLAIM_KEY, RedisResource

from .messages_catalogue import PLACEHOLDER, Template, known_templates, required_templates

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "troubleshooting.md"
TEXT_BLOCK = re.compile(r"^```text\n(.*?)^```", re.M | re.S)


def page_blocks() -> list[str]:
    return [block.rstrip("\n") for block in TEXT_BLOCK.findall(PAGE.read_text(encoding="utf-8"))]


def _candidates(text: str) -> list[Template]:
    """The templates whose longest literal piece is in *text* (a cheap first filter)."""
    return [t for t in known_templates() if _anchor(t) in text]


@cache
def _anchor(template: Template) -> str:
    """The longest line of text the template always has (outside its alternatives)."""
    pieces = [
        line for kind, value in template.tokens if kind == "lit" for line in str(value).split("\n")
    ]
    return max(pieces, key=len, default="")


@cache
def is_one_message(text: str, inner: bool = False) -> bool:
    """Whether *text* is one message of the code's (or, inside another, a placeholder)."""
    if inner and re.fullmatch(PLACEHOLDER, text):
        return True
    for template in _candidates(text):
        match = template.regex.fullmatch(text)
        if match is None:
            continue
        inside = match.groupdict().get("message")
        if inside is None or is_one_message(inside, inner=True) or covered(inside):
            return True
    return False


@cache
def covered(block: str) -> bool:
    """Whether *block* is a sequence of the code's messages, each on its own lines."""
    lines = block.split("\n")
    reach = {0}
    for start in range(len(lines)):
        if start not in reach:
            continue
        for end in range(start + 1, len(lines) + 1):
            if is_one_message("\n".join(lines[start:end])):
                reach.add(end)
    return len(lines) in reach


def uncovered_lines(block: str) -> list[str]:
    """The lines of *block* no message of the code's explains (for the failure message)."""
    lines = block.split("\n")
    explained: set[int] = set()
    for start in range(len(lines)):
        for end in range(start + 1, len(lines) + 1):
            if is_one_message("\n".join(lines[start:end])):
                explained |= set(range(start, end))
    return [line for index, line in enumerate(lines) if index not in explained]


def test_every_message_on_the_page_is_one_the_code_produces() -> None:
    blocks = page_blocks()
    assert len(blocks) > 30
    wrong = [line for block in blocks if not covered(block) for line in uncovered_lines(block)]
    assert not wrong, (
        "docs/troubleshooting.md shows messages the code does not produce (or not exactly):\n"
        + "\n".join(f"  {line}" for line in wrong)
    )


def page_messages() -> set[str]:
    """Every stretch of lines on the page, and the message inside each one that frames another
    (``harness: <the error>``)."""
    found: set[str] = set()
    todo = [
        "\n".join(lines[start:end])
        for block in page_blocks()
        for lines in [block.split("\n")]
        for start in range(len(lines))
        for end in range(start + 1, len(lines) + 1)
    ]
    while todo:
        text = todo.pop()
        if text in found:
            continue
        found.add(text)
        for template in _candidates(text):
            match = template.regex.fullmatch(text)
            inside = match.groupdict().get("message") if match else None
            if inside:
                todo.append(inside)
    return found


def test_every_message_the_code_produces_is_on_the_page() -> None:
    shown = page_messages()
    templates = required_templates()
    assert len(templates) > 60
    missing = [
        f"  {t.where}: {t.text}"
        for t in templates
        if not any(t.regex.fullmatch(text) for text in shown if _anchor(t) in text)
    ]
    assert not missing, "not on docs/troubleshooting.md:\n" + "\n".join(missing)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("harness: harness_backend (from <where>) is '<value>'; use one of <choices>.", True),
        ("harness: harness_backend is '<value>'; pick another.", False),
        ("harness: <anything>", True),
        ("harness: something made up", False),
        ("harness could not start the test infrastructure:\n<the error>", True),
        ("harness could not start the test infrastructure:\nsomething made up", False),
    ],
)
def test_the_check_itself_tells_real_messages_from_others(text: str, expected: bool) -> None:
    assert covered(text) is expected


# -- bad input at run time: each whole message -------------------------------------------------
MARKED = """
import pytest


@pytest.mark.harness_timeout(1, 2)
def test_two_arguments():
    pass


@pytest.mark.harness_timeout("1 minute")
def test_words():
    pass


@pytest.mark.harness_timeout(-1)
def test_negative():
    pass


@pytest.mark.harness_leak_check("loud")
def test_unknown_mode():
    pass


@pytest.mark.harness_leak_check()
def test_no_argument():
    pass
"""


def test_a_bad_marker_fails_its_test_with_the_whole_message(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_marked=MARKED)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(errors=5)
    lines = result.stdout.lines
    for expected in (
        "test_marked.py::test_two_arguments: use @pytest.mark.harness_timeout(value), one "
        "argument.",
        "test_marked.py::test_words: harness_timeout('1 minute') needs a number of seconds (0 "
        "for none).",
        "test_marked.py::test_negative: harness_timeout(-1) needs a number of seconds (0 for "
        "none).",
        "test_marked.py::test_unknown_mode: harness_leak_check('loud') must be one of fail, "
        "warn, off.",
        "test_marked.py::test_no_argument: use @pytest.mark.harness_leak_check(value), one "
        "argument.",
    ):
        assert expected in lines, result.stdout.str()


@pytest.mark.anyio
async def test_no_exchange_to_listen_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NO-SUCH-EXCHANGE-VARIABLE", raising=False)
    for exchange, expected in (
        (
            "",
            "no exchange given and harness_exchange is not set: pass exchange=..., or set "
            "harness_exchange in [tool.pytest.ini_options] to an exchange name, or to $VARIABLE "
            "to read it from the environment.",
        ),
        (
            "$NO-SUCH-EXCHANGE-VARIABLE",
            "no exchange given and NO-SUCH-EXCHANGE-VARIABLE (which harness_exchange names) is "
            "not set. Pass exchange=..., or set NO-SUCH-EXCHANGE-VARIABLE in the test env file "
            "(.env.test).",
        ),
    ):
        session = HarnessSession(HarnessConfig(rootdir=tmp_path, exchange=exchange))
        with activate(session), pytest.raises(LookupError) as raised:
            default_exchange()
        assert str(raised.value) == expected
    with pytest.raises(ValueError) as default:
        async with listen("#", exchange=""):
            pass
    assert str(default.value) == (
        "listen() needs a named exchange: the default exchange has no bindings."
    )


@pytest.fixture
async def small_redis(tmp_path: Path) -> AsyncIterator[str]:
    """A Redis of three databases (0, 1, 2), its URL without an index."""
    port, secret = free_port(), secrets.token_urlsafe(12)
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--databases", "3"]
    argv += ["--requirepass", secret, "--save", "", "--appendonly", "no"]
    _, record = spawn(argv, cwd=tmp_path, log_path=tmp_path / "redis.log")
    url = f"redis://:{secret}@127.0.0.1:{port}"
    try:
        await wait_ready(
            lambda: RedisResource().probe(url), what="Redis", timeout=30, hint="", process=record
        )
        yield url
    finally:
        stop_process(record)


@pytest.mark.anyio
async def test_redis_namespaces_that_cannot_be_made(small_redis: str) -> None:
    import redis.asyncio as aioredis

    resource, address = RedisResource(), small_redis.rpartition("@")[2]
    async with aioredis.from_url(f"{small_redis}/1") as first:
        await first.set("someones", "data")
    async with aioredis.from_url(f"{small_redis}/2") as second:
        await second.set(CLAIM_KEY, "hother1-gw1-redis")

    with pytest.raises(HarnessError) as exhausted:
        await resource.create_namespace(Server("redis", "local", f"{small_redis}/0"), "hmine-r")
    assert str(exhausted.value) == (
        f"no empty Redis database on {address}: the harness claims only an empty one (never "
        "database 0 unless the URL names it) and never deletes data it did not write, and every "
        "other database holds keys (other sessions', or someone's data). Finish the other runs, "
        "empty a database, raise `databases` in the server's config, or name an empty database "
        "in HARNESS_REDIS_URL (without xdist)."
    )

    with pytest.raises(HarnessError) as data:
        await resource.create_namespace(
            Server("redis", "external", f"{small_redis}/1", owned=False), "hmine-r"
        )
    assert str(data.value) == (
        "HARNESS_REDIS_URL names Redis database 1, which holds 1 key the harness did not write. "
        "The harness uses only an empty database and never deletes data it did not write: name "
        "an empty database, leave the index out of the URL to let the harness pick a free one, "
        "or empty that database yourself if its data is disposable."
    )

    with pytest.raises(HarnessError) as claimed:
        await resource.create_namespace(
            Server("redis", "external", f"{small_redis}/2", owned=False), "hmine-r"
        )
    assert str(claimed.value) == (
        "HARNESS_REDIS_URL names Redis database 2, which another harness session "
        "(hother1-gw1-redis) uses right now. Every session (each pytest-xdist worker, each "
        "concurrent run) needs a database of its own: leave the index out of the URL "
        "(redis://user:password@host:port) so that each claims a free one. (A claim left by a "
        "killed run goes with `python -m harness reap`.)"
    )


class _Unavailable(RedisResource):
    """Redis on a machine without redis-server, and a kind that offers no docker backend."""

    def find_binaries(self) -> dict[str, str] | None:
        return None


def test_a_resource_no_backend_can_provide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_REDIS_URL", raising=False)
    local = HarnessConfig(rootdir=ROOT, backend="local")
    with pytest.raises(BackendUnavailableError) as missing:
        choose(_Unavailable(), local)
    assert str(missing.value) == (
        "cannot provide Redis: HARNESS_REDIS_URL is not set; docker not considered (backend "
        "forced); and its local binaries are not installed. Fix one of them: install them with "
        "`apt-get install redis-server  (or set HARNESS_REDIS_URL)`, start Docker, or export "
        "HARNESS_REDIS_URL."
    )
    with pytest.raises(BackendUnavailableError) as external:
        choose(RedisResource(), HarnessConfig(rootdir=ROOT, backend="external"))
    assert str(external.value) == (
        "the external backend needs HARNESS_REDIS_URL: export it with the URL of a running Redis "
        "(redis://user:password@host:port/), or choose another backend with --harness-backend."
    )


def test_a_missing_binary_stops_pytest_naming_what_to_install(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(redis_url):\n    pass\n")
    bare = str(Path(sys.executable).parent)  # python only: no redis-server
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith(("HARNESS_", "PYTEST_XDIST"))]:
            patch.delenv(key)
        patch.setenv("PATH", bare)
        patch.setenv("HARNESS_STATE_DIR", str(pytester.path / "state"))
        result = pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", "--harness-backend=local", timeout=120
        )
    assert result.ret == 3, result.stdout.str()
    text = result.stdout.str()
    assert (
        "harness could not start the test infrastructure:\n"
        "cannot provide Redis: HARNESS_REDIS_URL is not set; docker not considered (backend "
        "forced); and its local binaries are not installed. Fix one of them: install them with "
        "`apt-get install redis-server  (or set HARNESS_REDIS_URL)`, start Docker, or export "
        "HARNESS_REDIS_URL. !"
    ) in text, text


BROKEN_REDIS = """
from harness.resources import register
from harness.resources.redis import RedisResource


class BrokenRedis(RedisResource):
    async def prepare_local(self, binaries, workdir, port, secret, user):
        spec = await super().prepare_local(binaries, workdir, port, secret, user)
        spec.argv += ["--no-such-option", "x"]
        return spec


register(BrokenRedis())
"""


def test_a_local_server_that_exits_at_start_shows_its_log(pytester: pytest.Pytester) -> None:
    """Its temp dir is gone with it, so the log's last lines are in the error itself."""
    pytester.makeconftest(BROKEN_REDIS)
    pytester.makepyfile(test_x="def test_x(redis_url):\n    pass\n")
    state = pytester.path / "state"
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith(("HARNESS_", "PYTEST_XDIST"))]:
            patch.delenv(key)
        patch.setenv("HARNESS_STATE_DIR", str(state))
        result = pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", "--harness-backend=local", timeout=120
        )
    text = result.stdout.str()
    assert result.ret == 3, text
    assert re.search(
        r"harness could not start the test infrastructure:\n"
        r"Redis \(\S+/redis-server, port \d+\) exited during startup"
        r"(: last error ConnectionError: Error 111 connecting to 127\.0\.0\.1:\d+\. Connect call "
        r"failed \('127\.0\.0\.1', \d+\))?\.\n"
        r"Hint: read the server's log below; raise harness_startup_timeout if the machine is "
        r"slow\.\n"
        r"Last lines of the server's log:\n\n"
        r"\*\*\* FATAL CONFIG FILE ERROR \(Redis [\d.]+\) \*\*\*\n"
        r"Reading the configuration file, at line \d+\n"
        r">>> 'no-such-option \"x\"'\n"
        r"Bad directive or wrong number of arguments\n"
        r"To keep its directory and full log for a look, rerun with --harness-keep-workdir\. !",
        text,
    ), text
    assert not list((state / "servers").glob("redis-*"))  # the temp dir went with the server
