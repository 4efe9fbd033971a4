"""What importing the harness costs, each statement timed inside a fresh interpreter.

Inside, not around the process: interpreter start is the same with or without the harness, and
the figure wanted is the import alone. Wall and CPU time are both taken (CPU moves much less with
other users' load). Each statement runs with bytecode caching off (nothing is written, so modules
without an installed ``.pyc`` are compiled by every process, as on a machine or CI image that sets
``PYTHONDONTWRITEBYTECODE=1``) and on (a cache directory, filled by a first run that is not
counted).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench._proc import ROOT, bytecode_env, clean_environ

__all__ = ["STATEMENTS", "ImportTime", "time_imports"]

STATEMENTS = {
    "import harness": ("", "import harness"),
    "the plugin, once pytest is imported": ("import pytest", "import harness.plugin"),
    "the whole API (from harness import *)": ("", "from harness import *"),
}
"""Label -> (untimed setup, timed statement). The client libraries (asyncpg, aio-pika, pymongo,
redis) are imported when a resource starts, by none of these."""

_TIMED = """
import json, time
{setup}
cpu, wall = time.process_time(), time.perf_counter()
{statement}
print(json.dumps([time.perf_counter() - wall, time.process_time() - cpu]))
"""


@dataclass
class ImportTime:
    label: str
    cached: bool
    wall: list[float]
    cpu: list[float]

    @property
    def wall_s(self) -> float:
        return statistics.median(self.wall)

    @property
    def cpu_s(self) -> float:
        return statistics.median(self.cpu)


def time_imports(runs: int, pycache: Path) -> list[ImportTime]:
    """Every statement of :data:`STATEMENTS`, *runs* times in fresh interpreters, cache off then on."""
    results = []
    for cached in (False, True):
        env = bytecode_env(
            {**clean_environ(), "PYTHONPATH": str(ROOT)}, pycache if cached else None
        )
        for label, (setup, statement) in STATEMENTS.items():
            code = _TIMED.format(setup=setup, statement=statement)
            if cached:
                _run(code, env)  # fills the cache
            samples = [_run(code, env) for _ in range(runs)]
            results.append(
                ImportTime(label, cached, [s[0] for s in samples], [s[1] for s in samples])
            )
    return results


def _run(code: str, env: dict[str, str]) -> tuple[float, float]:
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    wall, cpu = json.loads(result.stdout.strip().splitlines()[-1])
    return float(wall), float(cpu)
