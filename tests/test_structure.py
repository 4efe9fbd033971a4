"""The harness's structure stays as the docs describe it: no import cycles between its modules,
and ``import harness`` loads no client library (each is imported when its resource is used)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import harness

PACKAGE = Path(harness.__file__).parent


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, also inside functions, except under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in _runtime_imports(child))
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _runtime_imports(node)


def import_graph() -> dict[str, set[str]]:
    """Module -> the harness modules it imports (relative imports resolved)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = package.split(".")[: len(package.split(".")) - max(node.level - 1, 0)]
                module = ".".join([*base, node.module] if node.module else base)
                module = module if node.level else (node.module or "")
                targets = [module, *(f"{module}.{alias.name}" for alias in node.names)]
            graph[name] |= {t for t in targets if t in modules and t != name}
    for name, targets in graph.items():  # importing a.b.c imports the package a.b first
        for target in list(targets):
            parent = target.rpartition(".")[0]
            while parent and not name.startswith(parent + "."):
                if parent in modules and parent != name:
                    targets.add(parent)
                parent = parent.rpartition(".")[0]
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        for target in sorted(graph[node]):
            if target in path:
                return [*path[path.index(target) :], target]
            if target not in done:
                found = visit(target, [*path, target])
                if found:
                    return found
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done and (cycle := visit(start, [start])):
            return cycle
    return None


def test_the_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 20  # the walk found the package
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_import_harness_loads_no_client_library() -> None:
    clients = ["asyncpg", "aio_pika", "motor", "pymongo", "redis", "testcontainers", "alembic"]
    code = (
        f"import harness, harness.plugin, sys; print([m for m in {clients!r} if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    )
    assert result.stdout.strip() == "[]"


WITHOUT_POSIX_ACCOUNTS = """
import os, sys

class NoPosixAccounts:
    '''Windows has neither module: importing them fails as it would there.'''
    def find_spec(self, name, path=None, target=None):
        if name in ("pwd", "grp"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, NoPosixAccounts())
for name in ("pwd", "grp"):
    sys.modules.pop(name, None)
for name in ("getuid", "geteuid", "getgid"):
    if hasattr(os, name):
        delattr(os, name)

import harness, harness.plugin, harness.resources
from harness._config import default_state_dir
from harness._process import server_user
from harness.resources import REGISTRY

assert server_user() is None
print(default_state_dir().name)
print(sorted(REGISTRY))
"""


def test_import_harness_works_without_posix_accounts() -> None:
    """``import harness`` (and the plugin, and the parts a run reads first) on a platform
    without ``pwd``/``grp`` and uids, as on Windows."""
    env = {**os.environ, "USERNAME": "ann"}  # Windows names the user there
    for name in ("LOGNAME", "USER", "LNAME"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_POSIX_ACCOUNTS],
        capture_output=True,
        text=True,
        cwd="/",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    state_dir, resources = result.stdout.splitlines()
    assert state_dir == "harness-ann"
    assert resources == "['mongo', 'postgres', 'rabbitmq', 'redis']"
