"""Run one benchmarked pytest in a subprocess: bounded, timed, its memory sampled.

Every figure the runner prints comes from a real ``pytest`` process, so what is measured is what a
user waits for (interpreter start, plugin imports, collection, fixtures), not a model of it.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import psutil

from bench._timing import FILE_ENV

__all__ = ["ROOT", "RssSampler", "Run", "bytecode_env", "clean_environ", "run_pytest"]

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_EVERY = 0.2
"""Seconds between memory samples: often enough to catch a server's peak under a test run, rare
enough not to steal a core from the run being measured on a 2-core machine."""
TERM_GRACE = 30.0


def clean_environ() -> dict[str, str]:
    """This process's environment without what would make a benchmarked run join or mimic
    another run: pytest's and xdist's variables (``bench/run.py`` may itself run under pytest, as
    in ``tests/test_bench.py``) and the harness's, except where FerretDB's binary is cached."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "HARNESS_")) or key == "HARNESS_CACHE_DIR"
    }


def bytecode_env(base: Mapping[str, str], cache: Path | None) -> dict[str, str]:
    """*base* with Python's bytecode caching set one way, whatever the caller's environment says.

    ``cache`` is a directory: compiled modules are written there and read back
    (``PYTHONPYCACHEPREFIX``), as on a machine where nothing disables caching, once a first run
    has filled it. ``None``: nothing is written (``PYTHONDONTWRITEBYTECODE=1``), so every module
    without an installed ``.pyc`` (the project's own code, an editable install such as this
    harness) is compiled afresh by every process, as on a machine or CI image that sets it.
    """
    env = {
        k: v for k, v in base.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
    }
    if cache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


@dataclass
class Run:
    """One finished pytest process."""

    seconds: float
    """Wall time from spawn to exit."""
    returncode: int
    spawned: float
    timing: dict[str, Any]
    rss: dict[str, int]
    """Peak RSS per process group (bytes; a group's processes summed at each sample)."""
    output: str
    tree_cpu: float | None = None
    """CPU seconds of the pytest process and the processes it waited for (xdist workers, what
    they ran, servers it stopped as their parent)."""
    profile: str | None = None
    """The pyinstrument report of the steady state, when the run was profiled."""

    @property
    def startup(self) -> float | None:
        """Seconds from spawning ``pytest`` to the first test's call."""
        first = self.timing.get("first_call")
        return None if first is None else first - self.spawned

    @property
    def startup_cpu(self) -> float | None:
        """CPU seconds the pytest process spent until the first test's call (interpreter start,
        imports, collection, the harness's work; not the servers', which are other processes)."""
        cpu = self.timing.get("first_call_cpu")
        return None if cpu is None else float(cpu)

    @property
    def tests(self) -> int:
        return len(self.timing.get("finished", []))

    @property
    def per_test(self) -> float | None:
        """Steady-state seconds per test: from the end of the first test to the end of the
        last, over the tests in between. This is (run time - startup - teardown) / N with the
        first test's one-off costs (lazy imports, first statement preparation, the session
        fixtures it triggers) left out as well."""
        finished = self.timing.get("finished", [])
        return (finished[-1] - finished[0]) / (len(finished) - 1) if len(finished) > 1 else None

    @property
    def cpu_per_test(self) -> float | None:
        """CPU seconds the pytest process spent per test over the same interval (all its threads:
        the portal's event loop thread too)."""
        cpu = self.timing.get("cpu", [])
        return (cpu[-1] - cpu[0]) / (len(cpu) - 1) if len(cpu) > 1 else None

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timing.get("failed", 0)

    def failure(self) -> str:
        """What went wrong, for the report: the last lines pytest printed."""
        return "\n".join(self.output.strip().splitlines()[-15:])


def _group(proc: psutil.Process, root: int) -> str | None:
    """Which server (or pytest) a process belongs to, by name: the processes are ours (children
    of the pytest we started, or of the servers we started), so a name is enough here."""
    if proc.pid == root:
        return "pytest"
    try:
        name = proc.name()
        if name.startswith(("beam", "erl", "epmd", "inet_gethost")):
            cmdline = " ".join(proc.cmdline())
            return None if "rabbitmqctl" in cmdline else "rabbitmq"
    except psutil.Error:
        return None
    for prefix, group in (
        ("postgres", "postgres"),
        ("ferretdb", "mongo"),
        ("mongod", "mongo"),
        ("redis-server", "redis"),
        ("python", "pytest workers"),
    ):
        if name.startswith(prefix):
            return group
    return None


class RssSampler:
    """Samples the RSS of a process tree (and of other trees, e.g. servers the runner started)
    in a thread, keeping each group's peak."""

    def __init__(self, root: int, extra: Sequence[int] = ()) -> None:
        self.root = root
        self.extra = list(extra)
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(SAMPLE_EVERY)

    def sample(self) -> None:
        totals: dict[str, int] = {}
        for proc in self._processes():
            group = _group(proc, self.root)
            if group is None:
                continue
            try:
                totals[group] = totals.get(group, 0) + proc.memory_info().rss
            except psutil.Error:
                continue
        for group, rss in totals.items():
            self.peaks[group] = max(self.peaks.get(group, 0), rss)

    def _processes(self) -> list[psutil.Process]:
        found: list[psutil.Process] = []
        for pid in [self.root, *self.extra]:
            try:
                top = psutil.Process(pid)
                found += [top, *top.children(recursive=True)]
            except psutil.Error:
                continue
        return found


def run_pytest(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    watch: Sequence[int] = (),
    pycache: Path | Literal["off", "inherit"] = "inherit",
) -> Run:
    """Run ``python -m pytest *args`` in *cwd* and wait at most *timeout* seconds.

    A run that overstays gets SIGTERM (the harness turns it into a clean stop of its servers),
    then SIGKILL after a grace period; it is reported as failed, never waited on forever.

    :param watch: PIDs of servers started elsewhere whose memory to sample during this run.
    :param pycache: bytecode caching: ``"inherit"`` (as this process's environment has it), a
        directory (cached there) or ``"off"`` (see :func:`bytecode_env`).
    """
    timing_file = cwd / f".timing-{time.monotonic_ns()}.json"
    full_env = {
        **clean_environ(),
        **env,
        FILE_ENV: str(timing_file),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    if pycache != "inherit":
        full_env = bytecode_env(full_env, pycache if isinstance(pycache, Path) else None)
    log_path = cwd / f".output-{time.monotonic_ns()}.log"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with log_path.open("wb") as log:
        spawned = time.time()
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", *args],
            cwd=cwd,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        with RssSampler(proc.pid, watch) as sampler:
            returncode = _bounded_wait(proc, timeout)
    seconds = time.time() - spawned
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    tree_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    timing: dict[str, Any] = {}
    if timing_file.exists():
        timing = json.loads(timing_file.read_text(encoding="utf-8"))
        timing_file.unlink()
    output = log_path.read_text(encoding="utf-8", errors="replace")
    log_path.unlink()
    return Run(seconds, returncode, spawned, timing, dict(sampler.peaks), output, tree_cpu)


def _bounded_wait(proc: subprocess.Popen[bytes], timeout: float) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=TERM_GRACE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=TERM_GRACE)
        return -1
