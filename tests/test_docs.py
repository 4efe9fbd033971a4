"""The docs site cannot rot: it builds, its examples run, and what it says matches the code.

* ``mkdocs build --strict`` passes (a missing mkdocs is a failure, not a skip).
* Every Python example is a real file (included into the pages with ``--8<--``): a test under
  ``docs/snippets/``, run here in an inner pytest joined to this session's real servers, a file
  of a service's own suite under ``services/<service>/tests/``, which ``pytest`` runs (the guide
  shows the real suite, not a copy), or a file of ``tests/memcached_project/``, the project that
  adds a kind of server, which ``tests/test_memcached.py`` runs. A Python block written inline
  must quote lines of those files (in the README too, which cannot include files).
* Shell examples: every ``pytest`` command collects tests, every ``harness`` subcommand and flag
  exists, the documented ``alembic revision`` command makes the documented file.
* The configuration table matches the options the plugin registers; the documented precedence is
  the real one. (The troubleshooting page is compared with the code's messages, exactly, in
  ``tests/test_messages.py``; the CLI page's options table with the parser in
  ``tests/test_cli_docs.py``.)
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

import harness
from harness._config import OPTIONS
from harness._exceptions import MigrationError
from harness._migrations import single_head

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SNIPPETS = DOCS / "snippets"
SERVICE_TESTS = sorted((ROOT / "services").glob("*/tests"))  # testpaths: run by `pytest`
MEMCACHED_PROJECT = ROOT / "tests" / "memcached_project"  # run by tests/test_memcached.py
OUTSIDE_PROJECT = ROOT / "tests" / "outside_project"  # run by tests/test_outside_project.py
TESTED_ROOTS = (SNIPPETS, *SERVICE_TESTS, MEMCACHED_PROJECT, OUTSIDE_PROJECT)
PAGES = sorted(DOCS.glob("*.md"))
README = ROOT / "README.md"  # GitHub shows it: its examples are checked like the pages' own
SNIPPET_LINE = re.compile(r'^\s*--8<--\s+"([^"]+)"\s*$', re.MULTILINE)
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.M | re.S
)


def page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def blocks(lang: str | None = None) -> Iterator[tuple[Path, str, str]]:
    """(page, language, dedented body) of every fenced block in the docs and the README."""
    for path in [*PAGES, README]:
        for match in FENCE.finditer(path.read_text(encoding="utf-8")):
            if lang is None or match["lang"] == lang:
                yield path, match["lang"], textwrap.dedent(match["body"])


def normalise(text: str) -> str:
    return " ".join(text.split())


def run(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


@cache
def pytest_help() -> str:
    result = run(sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider")
    assert result.returncode == 0, result.stderr
    return result.stdout


@cache
def harness_help() -> dict[str, str]:
    """``harness <command> --help`` output per command."""
    top = run(sys.executable, "-m", "harness", "--help").stdout
    commands = re.search(r"\{([\w,-]+)\}", top)
    names = (
        commands[1].split(",") if commands else re.findall(r"^    ([a-z][\w-]+)", top, re.MULTILINE)
    )
    helps = {"": top}
    for name in names:
        result = run(sys.executable, "-m", "harness", name, "--help")
        assert result.returncode == 0, result.stderr
        helps[name] = result.stdout
    return helps


# -- the site builds ---------------------------------------------------------------------------


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    assert shutil.which("mkdocs") or _importable("mkdocs"), (
        "mkdocs is not installed: pip install -e . --group dev (mkdocs-material, mkdocstrings[python])"
    )
    result = run(
        sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "api" / "index.html").is_file()


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def test_every_page_is_in_the_nav() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for path in PAGES:
        assert f": {path.name}" in config, f"{path.name} is not in mkdocs.yml's nav"


# -- Python examples ---------------------------------------------------------------------------


def included_snippets() -> list[tuple[Path, str, str | None]]:
    """(page, file, section) of every ``--8<--`` include."""
    found = []
    for path in PAGES:
        for target in SNIPPET_LINE.findall(path.read_text(encoding="utf-8")):
            file, _, section = target.partition(":")
            found.append((path, file, section or None))
    return found


def resolve_snippet(file: str) -> Path:
    for base in (SNIPPETS, ROOT):  # mkdocs.yml: pymdownx.snippets base_path
        if (base / file).is_file():
            return base / file
    raise AssertionError(f"snippet {file} does not exist under docs/snippets or the root")


def test_every_included_snippet_exists_and_is_run() -> None:
    assert included_snippets(), "no --8<-- includes found"
    for page_path, file, section in included_snippets():
        path = resolve_snippet(file)
        if section is not None:
            text = path.read_text(encoding="utf-8")
            assert f"--8<-- [start:{section}]" in text, f"{page_path.name}: {file}:{section}"
            assert f"--8<-- [end:{section}]" in text, f"{page_path.name}: {file}:{section}"
        if path.suffix == ".py":
            # docs/snippets: run by test_snippets_pass_against_real_servers below;
            # services/*/tests: the services' own suites, run by `pytest` (testpaths);
            # tests/memcached_project, tests/outside_project: run by their own tests
            assert any(path.is_relative_to(root) for root in TESTED_ROOTS), (
                f"{file}: Python examples live in docs/snippets, a service's tests/ or "
                "tests/memcached_project or tests/outside_project"
            )


def test_inline_python_blocks_quote_tested_code() -> None:
    """A Python block that is not an include must consist of lines of a tested file."""
    tested = {
        line.strip()
        for root in TESTED_ROOTS
        for path in root.rglob("*.py")
        for line in path.read_text(encoding="utf-8").splitlines()
    }
    for path, _, body in blocks("python"):
        if SNIPPET_LINE.search(body):
            continue
        for line in body.splitlines():
            if line.strip() and line.strip() != "...":
                assert line.strip() in tested, f"{path.name}: untested example line {line!r}"


def test_snippets_pass_against_real_servers(
    inner_pytest, postgres_url: str, rabbitmq_url: str, mongo_url: str, redis_url: str
) -> None:
    """Every example file runs as a real pytest suite: this project's configuration, real
    servers (this session's, each inner run in namespaces of its own), leak check on."""
    result = inner_pytest(
        "--rootdir",
        str(ROOT),
        "-c",
        str(ROOT / "pyproject.toml"),
        "-p",
        "no:randomly",
        "-rA",
        str(SNIPPETS),
        timeout=300,
    )
    output = result.stdout.str()
    assert result.ret == 0, output + result.stderr.str()
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 10, outcomes
    assert set(outcomes) <= {"passed", "warnings"}, outcomes
    for path in SNIPPETS.rglob("test_*.py"):
        assert f"{path.relative_to(ROOT)}::" in output, f"{path.name} ran no test"


def test_docstring_examples_of_the_public_api_parse() -> None:
    """mkdocstrings shows the public docstrings' examples on the API page: they must be Python."""
    for name in harness.__all__:
        doc = inspect.getdoc(getattr(harness, name)) or ""
        for example in re.findall(r"\.\. code-block:: python\n\n((?:(?: {4}.*)?\n)+)", doc + "\n"):
            ast.parse(textwrap.dedent(example), filename=f"harness.{name} docstring")


# -- shell and config examples -----------------------------------------------------------------


def shell_lines() -> list[tuple[Path, str]]:
    lines = []
    for path, _, body in blocks("bash"):
        for line in body.splitlines():
            command = line.split("#", 1)[0].strip()
            if command:
                lines.append((path, command))
    return lines


def test_every_documented_pytest_command_collects_tests() -> None:
    commands = sorted({command for _, command in shell_lines() if command.startswith("pytest")})
    assert "pytest" in commands and "pytest -n auto" in commands
    for command in commands:
        argv = shlex.split(command)[1:]
        result = run(
            sys.executable, "-m", "pytest", *argv, "--collect-only", "-q", "-p", "no:randomly"
        )
        assert result.returncode == 0, f"{command}:\n{result.stdout}{result.stderr}"
        assert re.search(r"\b[1-9]\d*(/\d+)? (tests? collected|items?\])", result.stdout), (
            f"{command} collected nothing:\n{result.stdout}"
        )


def test_every_other_documented_shell_command_exists() -> None:
    for path, command in shell_lines():
        argv = shlex.split(command)
        if argv[0] == "pytest":
            continue
        if argv[0] == "pip":
            assert argv[1] == "install", f"{path.name}: {command}"
            for flag in (a.split("=")[0] for a in argv[2:] if a.startswith("--")):
                assert flag in pip_install_help(), f"{path.name}: {command}: pip has no {flag}"
        elif argv[:2] == ["python", "-m"]:
            assert importlib.util.find_spec(argv[2]), f"{path.name}: {command}: not installed"
        elif argv[0] == "harness":
            assert argv[1] in harness_help(), f"{path.name}: no `harness {argv[1]}`"
            for flag in (a.split("=")[0] for a in argv[2:] if a.startswith("--")):
                assert flag in harness_help()[argv[1]], f"{path.name}: {command}: {flag}"
        elif argv[0] == "make":
            assert re.search(rf"^{argv[1]}:", (ROOT / "Makefile").read_text(), re.M), command
        elif argv[0] == "python":
            script = ROOT / argv[1]
            if not script.is_file():
                assert "Figures pending" in path.read_text(), (
                    f"{path.name}: {argv[1]} does not exist and the page does not say so"
                )
                continue
            usage = run(sys.executable, str(script), "--help").stdout
            for flag in (a.split("=")[0] for a in argv[2:] if a.startswith("--")):
                assert flag in usage, f"{path.name}: {command}: {argv[1]} has no {flag}"
        elif argv[0] == "alembic":
            continue  # test_documented_alembic_revision_command
        else:
            raise AssertionError(f"{path.name}: no check for shell command {command!r}")


@cache
def pip_install_help() -> str:
    return run(sys.executable, "-m", "pip", "install", "--help").stdout


def test_performance_page_names_real_benchmark_options() -> None:
    text = page("performance.md")
    script = ROOT / "bench" / "run.py"
    if not script.is_file():
        assert "Figures pending" in text
        return
    usage = run(sys.executable, str(script), "--help").stdout
    harness_flags = {opt.flag for opt in OPTIONS}
    for flag in set(re.findall(r"`(--[a-z][\w-]*)", text)):
        if flag.startswith("--harness-"):
            assert flag in harness_flags, f"performance.md mentions {flag}: no such harness option"
        else:
            assert flag in usage, (
                f"performance.md mentions {flag}; bench/run.py --help has no such flag"
            )


def test_documented_alembic_revision_command(tmp_path: Path) -> None:
    [command] = [c for _, c in shell_lines() if c.startswith("alembic ")]
    shutil.copytree(
        ROOT / "shared" / "migrations",
        tmp_path / "shared" / "migrations",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    ini = tmp_path / "shared" / "migrations" / "alembic.ini"
    head = single_head(ini)
    result = subprocess.run(
        [sys.executable, "-m", "alembic", *shlex.split(command)[1:]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # the documented name, with the creation time in front of `<rev>_<slug>.py`
    created = re.search(
        r"`shared/migrations/versions/\d{4}_\d\d_\d\d_\d{4}-([\w.]+)`", page("guide.md")
    )
    assert created is not None
    versions = tmp_path / "shared" / "migrations" / "versions"
    made = sorted(
        versions.glob(
            f"[0-9][0-9][0-9][0-9]_[0-9][0-9]_[0-9][0-9]_[0-9][0-9][0-9][0-9]-{created[1]}"
        )
    )
    assert len(made) == 1, sorted(p.name for p in versions.iterdir())
    revision = made[0]
    text = revision.read_text()
    assert f"down_revision: str | None = {head!r}" in text  # chained onto the current head
    assert single_head(ini) != head  # and now the one head

    # a second revision on the same parent: the message the guide quotes
    other = re.sub(r"^revision: str = .*$", "revision: str = '0003b'", text, flags=re.M)
    assert other != text
    (revision.parent / "2026_12_01_1204-0003b_other.py").write_text(other)
    with pytest.raises(MigrationError) as raised:
        single_head(ini)
    message = normalise(str(raised.value))
    tail = message.split("): ", 1)[1]
    assert tail in normalise(page("guide.md"))
    assert tail in normalise(page("troubleshooting.md"))


def test_toml_examples_are_this_projects_configuration() -> None:
    actual = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    known = {opt.ini for opt in OPTIONS} | set(
        re.findall(r"^  (harness_\w+) \(", pytest_help(), re.M)
    )
    seen = 0
    for path, _, body in blocks("toml"):
        if SNIPPET_LINE.search(body):
            continue  # included from a tested project's own pyproject.toml (adopting.md)
        shown = tomllib.loads(body)["tool"]["pytest"]["ini_options"]
        for key, value in shown.items():
            if key.startswith("harness_"):
                assert key in known, f"{path.name}: unknown option {key}"
            assert actual.get(key) == value, f"{path.name}: {key} differs from pyproject.toml"
            seen += 1
    assert seen


# -- configuration reference -------------------------------------------------------------------


def option_rows() -> dict[str, list[str]]:
    section = page("configuration.md").split("## Options", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `harness_"):
            rows[cells[0].strip("`")] = cells
    return rows


def test_configuration_table_lists_every_option_pytest_knows() -> None:
    help_text = pytest_help()
    ini_names = set(re.findall(r"^  (harness_\w+) \(", help_text, re.M))
    flags = set(re.findall(r"(--harness-[\w-]+)", help_text))
    rows = option_rows()
    assert set(rows) == ini_names, "configuration.md and `pytest --help` list different options"
    assert {row[1].strip("`") for row in rows.values()} == flags


def test_configuration_table_matches_the_options_definitions() -> None:
    rows = option_rows()
    shown_default = {True: "true", False: "false"}
    for opt in OPTIONS:
        ini, flag, env, default, meaning = rows[opt.ini]
        assert (ini, flag, env) == (f"`{opt.ini}`", f"`{opt.flag}`", f"`{opt.env}`")
        if opt.name == "state_dir":
            assert default == "`$TMPDIR/harness-<uid>`"
        elif opt.default in ("", [], None):
            assert default == "(none)", opt.name
        else:
            expected = shown_default.get(
                opt.default, f"{opt.default:g}" if isinstance(opt.default, float) else opt.default
            )
            assert default == f"`{expected}`", opt.name
        assert meaning


def test_documented_precedence_is_the_real_one(pytester: pytest.Pytester, monkeypatch) -> None:
    """configuration.md: flag, then environment, then ini, for every option."""
    text = normalise(page("configuration.md"))
    assert "**flag, then environment variable, then ini**" in text
    pytester.makeini("[pytest]\nharness_startup_timeout = 11\nharness_timeout = 11\n")
    pytester.makepyfile(
        test_precedence="""
        from harness._stash import session_of

        def test_values(request):
            startup = session_of(request.config).config.startup_timeout
            timeout = session_of(request.config).config.timeout
            print(f"VALUES startup={startup:g} timeout={timeout:g}")
        """
    )
    monkeypatch.setenv("HARNESS_STARTUP_TIMEOUT", "22")
    monkeypatch.setenv("HARNESS_TIMEOUT", "22")
    monkeypatch.delenv("HARNESS_RUN_KEY", raising=False)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", "-q")
    result.stdout.fnmatch_lines(["*VALUES startup=22 timeout=22*"])


# -- troubleshooting and the CLI page ------------------------------------------------------------


def test_cli_page_names_only_real_commands_and_flags() -> None:
    helps = harness_help()
    every_help = "\n".join(helps.values()) + pytest_help()
    code = "\n".join(body for _, lang, body in blocks() if lang != "text") + "\n".join(
        re.findall(r"`([^`\n]+)`", "\n".join(p.read_text() for p in PAGES))
    )
    for command in set(re.findall(r"(?<![(/-])\bharness ([a-z][\w-]*)", code)):
        assert command in helps, f"the docs mention `harness {command}`, which does not exist"
    cli = page("cli.md")
    for flag in set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", cli)):
        assert flag in every_help, f"cli.md mentions {flag}, which no command accepts"
