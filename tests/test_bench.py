"""Smoke test of the benchmarks: ``bench/run.py --quick`` with tiny N still runs every section and
prints every table, so the scripts cannot rot between the times someone runs them for figures.

No timing is asserted: the figures depend on the machine and its load; only that
every generated variant ran and passed, and that the tables came out.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench._proc import clean_environ

ROOT = Path(__file__).resolve().parents[1]
TABLES = (
    "### Per-test cost",
    "### Leak check cost per test",
    "### Leak check in-process",
    "### Import time",
    "### Startup:",
    "### Startup with no server needed",
    "### Scaling",
    "### Peak RSS",
    "### Goals",
)


@pytest.mark.inner
def test_quick_run_prints_every_table() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--quick",
            "--tests=2",
            "--startup-sets=redis,none",
            "--import-runs=1",
            "--suite",
            "tests/test_config.py",
            "--repo-suite",
            "tests/test_config.py",
        ],
        cwd=ROOT,
        env=clean_environ(),
        capture_output=True,
        text=True,
        timeout=900,
    )

    assert result.returncode == 0, result.stderr[-4000:]
    missing = [title for title in TABLES if title not in result.stdout]
    assert not missing, f"tables not printed: {missing}\n{result.stdout}"
    assert "| 0/1 " not in result.stdout, f"a benchmarked run failed:\n{result.stderr[-4000:]}"
    assert "FAILED" not in result.stderr, result.stderr[-4000:]
