"""Run every benchmark and print the tables: ``python bench/run.py`` (or ``make bench``).

Sections (``--only`` picks some):

* ``per-test``: the courier-location flow (seed a user and a courier row, POST a location, assert
  204, clean up) written the guide's portal way, the harness way and as a bare floor, each N tests
  in its own ``pytest`` process, repeated and interleaved; plus the leak check's cost.
* ``imports``: ``import harness``, the plugin and the whole API, in fresh interpreters, with
  bytecode caching off and on.
* ``startup``: ``pytest`` start to first test for each resource alone and all four, cold and with
  ``--harness-reuse`` warm; and pytest with the plugin but no server against pytest without it.
* ``scaling``: the services' suite and the whole repository suite with ``-n 0`` and ``-n 2``.
* memory: peak RSS of the pytest processes and of each server, sampled during the runs above.

Every figure is the median of ``--runs`` real runs (the machine is shared: one run proves little),
wall time beside CPU time (which other users' load disturbs far less). The last table sets each
goal against its figure. Everything happens under one temp dir with its own
``HARNESS_STATE_DIR``s, so the benchmark never meets, reaps or reuses anybody else's servers.
``--quick`` is a smoke run with small N.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._figures import NO_SERVER, PLAIN, Figures, PerTest, Scaling, Startup, variant_name
from bench._goals import goals_table
from bench._imports import ImportTime, time_imports
from bench._proc import ROOT, Run, clean_environ, run_pytest
from bench._report import mib, ms, ratio, say, sec, spread, table, times
from bench._timing import PROFILE_ENV
from bench._variants import (
    STARTUP_SETS,
    VARIANTS,
    Variant,
    startup_file,
    write_startup_suite,
    write_variant,
)

SECTIONS = ("per-test", "imports", "startup", "scaling")
SERVER_GROUPS = ("postgres", "rabbitmq", "mongo", "redis")
WAYS = ("portal", "bare", "harness")
REPOSITORY_SUITE = ("--ignore", "tests/test_bench.py")
"""The whole repository (its testpaths) but this benchmark's own smoke test, which would run a
benchmark inside the benchmark."""


# -- the servers every per-test variant joins --------------------------------------------------------
@dataclasses.dataclass
class SharedRun:
    """Servers started once by the harness (local backend) that every per-test variant joins.

    Why one run for all: the figure wanted is the per-test cost, and a variant that started its
    own servers would measure them warming up (and spend ~10 s on RabbitMQ per run). Joining one
    run gives every variant the same servers, equally warm, on the same loopback. Harness variants
    join it as any second pytest process does (``HARNESS_RUN_KEY``: a lease, their own database
    and vhost); the portal and bare variants, which must not load the plugin, get the runner's
    namespace URLs in the variables the service reads.
    """

    state_dir: Path
    key: str
    urls: dict[str, str]
    env_map: dict[str, str]
    server_pids: list[int]

    def env_for(self, variant: Variant) -> dict[str, str]:
        if variant.uses_harness:
            return {"HARNESS_STATE_DIR": str(self.state_dir), "HARNESS_RUN_KEY": self.key}
        from harness._env import read_env_file, resolve_env_map

        return {**read_env_file(ROOT / ".env.test"), **resolve_env_map(self.env_map, self.urls)}


@contextlib.contextmanager
def shared_servers(state_dir: Path) -> Iterator[SharedRun]:
    """Start all four servers through :class:`harness._infra.Infrastructure` (as the plugin
    does) on a loop in a thread, and stop them at the end however the benchmark ends."""
    from anyio.from_thread import start_blocking_portal

    from harness._config import config_from_project
    from harness._infra import Infrastructure

    config = config_from_project(ROOT, {"state_dir": str(state_dir), "backend": "local"})
    key = f"bench-{uuid.uuid4().hex[:8]}"
    infra = Infrastructure(config, key=key)
    with start_blocking_portal() as portal:
        try:
            for line in portal.call(infra.start, SERVER_GROUPS):
                say(line.render())
            pids = [server.processes[0].pid for server in infra.servers.values()]
            yield SharedRun(state_dir, key, dict(infra.urls), dict(config.env_map), pids)
        finally:
            portal.call(infra.close)


# -- per-test cost ---------------------------------------------------------------------------------
def run_per_test(args: argparse.Namespace, base: Path, shared: SharedRun) -> PerTest:
    variants = [v for v in VARIANTS if not args.profile or v.name in args.profile]
    dirs = {v.name: write_variant(v, args.tests, base / "per-test") for v in variants}
    runs: dict[str, list[Run]] = {v.name: [] for v in variants}
    for round_ in range(args.runs):
        # Interleaved: a burst of load from someone else's run hits every variant alike.
        for variant in variants:
            env = shared.env_for(variant)
            if variant.name in args.profile:
                env[PROFILE_ENV] = str(base / f"profile-{variant.name}-{round_}.txt")
            run = run_pytest(
                ["-q", "-p", "bench._timing", *variant.pytest_args()],
                cwd=dirs[variant.name],
                env=env,
                timeout=120 + args.tests * 0.5,
                watch=shared.server_pids,
            )
            runs[variant.name].append(run)
            if PROFILE_ENV in env and Path(env[PROFILE_ENV]).exists():
                run.profile = Path(env[PROFILE_ENV]).read_text(encoding="utf-8")
                kept = Path(tempfile.gettempdir()) / Path(env[PROFILE_ENV]).name
                shutil.copy(f"{env[PROFILE_ENV]}.pyisession", f"{kept}.pyisession")
                say(f"profile session kept: pyinstrument --load {kept}.pyisession")
            status = "ok" if run.ok else f"FAILED\n{run.failure()}"
            say(
                f"per-test {round_ + 1}/{args.runs} {variant.name}: {ms(run.per_test)} ms/test, "
                f"{ms(run.cpu_per_test)} ms CPU/test {status}"
            )
    return PerTest(args.tests, runs, leak_micro(args, shared))


def leak_micro(args: argparse.Namespace, shared: SharedRun) -> list[list[Any]]:
    """The in-process leak-check benchmark (``bench/leak_check_cost.py``), joined to the shared
    servers: pytest-run differences are too noisy to resolve a fraction of a ms."""
    env = {
        **clean_environ(),
        "HARNESS_STATE_DIR": str(shared.state_dir),
        "HARNESS_RUN_KEY": shared.key,
    }
    iterations = str(max(args.tests, 20))
    try:
        result = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "leak_check_cost.py"), iterations, "--json"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        say(f"leak_check_cost.py failed: {exc}\n{getattr(exc, 'stderr', '')}")
        return []
    rows: list[list[Any]] = json.loads(result.stdout.strip().splitlines()[-1])
    return rows


VARIANT_LABELS = {
    "portal": "guide: sync TestClient + portal.call + try/finally",
    "harness": "harness: anyio + app_client + seeded (leak check on)",
    "harness-noleak": "harness, leak check off",
    "bare": "bare floor: asyncpg + ASGITransport, no harness",
}


def per_test_tables(result: PerTest) -> list[str]:
    rows = []
    for scope in ("session", "function"):
        portal, bare = variant_name("portal", scope), variant_name("bare", scope)
        for way, label in VARIANT_LABELS.items():
            name = variant_name(way, scope)
            every = result.runs.get(name, [])
            runs = [r for r in every if r.ok]
            wall, cpu = result.per_test(name), result.cpu_per_test(name)
            rows.append(
                [
                    scope,
                    label,
                    ms(wall),
                    ms(cpu),
                    spread([r.per_test for r in runs]),
                    f"{len(runs)}/{len(every)}",
                    times(ratio(wall, result.per_test(portal))),
                    times(ratio(cpu, result.cpu_per_test(portal))),
                    times(ratio(wall, result.per_test(bare))),
                    times(ratio(cpu, result.cpu_per_test(bare))),
                ]
            )
    out = [
        table(
            f"Per-test cost, courier-location flow, N={result.n} tests per run (median of runs; "
            "ms per test; CPU = the pytest process's own CPU time)",
            [
                "client scope",
                "variant",
                "wall ms",
                "CPU ms",
                "wall range",
                "runs ok",
                "wall vs portal",
                "CPU vs portal",
                "wall vs bare",
                "CPU vs bare",
            ],
            rows,
        )
    ]
    leak_rows = []
    for scope in ("session", "function"):
        on, off = variant_name("harness", scope), variant_name("harness-noleak", scope)
        wall_on, wall_off = result.per_test(on), result.per_test(off)
        cpu_on, cpu_off = result.cpu_per_test(on), result.cpu_per_test(off)
        leak_rows.append(
            [
                f"pytest runs, {scope}-scoped client",
                ms(None if wall_on is None or wall_off is None else wall_on - wall_off),
                ms(None if cpu_on is None or cpu_off is None else cpu_on - cpu_off),
            ]
        )
    out.append(
        table(
            "Leak check cost per test (ms): whole runs, leak check on - off (noisy at this scale)",
            ["measured by", "wall", "CPU"],
            leak_rows,
        )
    )
    if result.leak_micro:
        micro = [
            [state.split(" (")[0], label.strip(), f"{med:.3f}", f"{p90:.3f}"]
            for state, label, med, p90 in result.leak_micro
            if label.startswith(("leak check", "  (", "typical"))
        ]
        out.append(
            table(
                "Leak check in-process (bench/leak_check_cost.py; ms per test = one count)",
                ["stores", "what", "median", "p90"],
                micro,
            )
        )
    return out


# -- imports -----------------------------------------------------------------------------------------
def import_tables(results: list[ImportTime]) -> list[str]:
    rows = [
        [
            r.label,
            "on" if r.cached else "off",
            ms(r.wall_s),
            ms(r.cpu_s),
            spread(r.wall),
        ]
        for r in results
    ]
    return [
        table(
            "Import time, in a fresh interpreter (ms, median of runs)",
            ["what", "bytecode cache", "wall ms", "CPU ms", "wall range"],
            rows,
        )
    ]


# -- startup -----------------------------------------------------------------------------------------
def run_startup(args: argparse.Namespace, base: Path) -> Startup:
    suite = write_startup_suite(base)
    labels = [label for label in args.startup_sets if label != "none"]
    cold: dict[str, list[Run]] = {label: [] for label in labels}
    warm: dict[str, list[Run]] = {label: [] for label in labels}
    floor: dict[tuple[str, bool], list[Run]] = {
        (which, cached): [] for which in (PLAIN, NO_SERVER) for cached in (False, True)
    }
    pycache = base / "pycache"

    backend = [f"--harness-backend={args.backend}"] if args.backend else []
    backend += [f"--harness-images={image}" for image in args.image]

    def one(state: Path, sets: Sequence[str], *extra: str, cached: bool | None = None) -> Run:
        if "no:harness" not in extra:
            extra = (*backend, *extra)
        run = run_pytest(
            ["-q", "-p", "bench._timing", *extra, *map(startup_file, sets)],
            cwd=suite,
            env={"HARNESS_STATE_DIR": str(state)},
            timeout=240,
            pycache="inherit" if cached is None else (pycache if cached else "off"),
        )
        if not run.ok:
            say(f"startup {', '.join(sets)} {' '.join(extra)} FAILED\n{run.failure()}")
        return run

    for cached in (False, True):  # the floor: nothing to start, so nothing to reap either
        if cached:
            one(base / "floor", ["none"], cached=True)  # fills the cache
        for round_ in range(args.runs):
            for which, extra in ((PLAIN, ("-p", "no:harness")), (NO_SERVER, ())):
                run = one(base / f"floor-{round_}", ["none"], *extra, cached=cached)
                floor[which, cached].append(run)
                say(
                    f"startup {which}, bytecode cache {'on' if cached else 'off'}: "
                    f"{sec(run.startup)} s, {sec(run.startup_cpu)} s CPU"
                )
    for round_ in range(args.runs):
        for label in labels:  # a fresh state dir each time: nothing to reattach to
            state = base / f"cold-{label.replace(' ', '_')}-{round_}"
            cold[label].append(one(state, [label]))
            say(f"startup cold {round_ + 1}/{args.runs} {label}: {sec(cold[label][-1].startup)} s")
    warm_state = base / "warm"
    one(warm_state, labels, "--harness-reuse")  # leaves every server up for the warm runs
    try:
        for round_ in range(args.runs):
            for label in labels:
                warm[label].append(one(warm_state, [label], "--harness-reuse"))
                say(
                    f"startup warm {round_ + 1}/{args.runs} {label}: {sec(warm[label][-1].startup)} s"
                )
    finally:
        _down(suite, warm_state)
    return Startup(cold, warm, floor)


def _down(rootdir: Path, state: Path) -> None:
    """Stop the reused servers of the warm runs (``harness down`` for that rootdir)."""
    from harness._config import config_from_project
    from harness._up import down

    for line in down(config_from_project(rootdir, {"state_dir": str(state)})):
        say(f"stopped reused {line}")


def startup_tables(result: Startup, backend: str) -> list[str]:
    singles = [label for label in result.cold if label != "all four"]
    rows = [
        [
            label,
            sec(result.cold_s(label)),
            sec(result.cold_s(label, cpu=True)),
            sec(result.warm_s(label)),
            sec(result.warm_s(label, cpu=True)),
        ]
        for label in result.cold
    ]
    rows.append(
        [
            "sum of the singles (a sequential start)",
            sec(sum(result.cold_s(label) or 0 for label in singles)),
            "",
            sec(sum(result.warm_s(label) or 0 for label in singles)),
            "",
        ]
    )
    floor_rows = [
        [
            which,
            "on" if cached else "off",
            sec(result.floor_s(which, cached)),
            sec(result.floor_s(which, cached, cpu=True)),
        ]
        for cached in (False, True)
        for which in (PLAIN, NO_SERVER)
    ]
    return [
        table(
            f"Startup: seconds from `pytest` start to the first test ({backend} backend, median; "
            "CPU = the pytest process's own, servers not included)",
            ["resources", "cold wall", "cold CPU", "warm wall (--harness-reuse)", "warm CPU"],
            rows,
        ),
        table(
            "Startup with no server needed: one trivial test (s, median)",
            ["run", "bytecode cache", "wall", "CPU"],
            floor_rows,
        ),
    ]


# -- scaling -----------------------------------------------------------------------------------------
def run_scaling(args: argparse.Namespace, base: Path) -> Scaling:
    suites = {"services": list(args.suite), "repository": list(args.repo_suite)}
    rounds = {"services": args.runs, "repository": args.repo_runs}
    runs: dict[tuple[str, int], list[Run]] = {}
    for label, suite in suites.items():
        for round_ in range(rounds[label]):
            for workers in (0, 2):
                run = run_pytest(
                    [*suite, "-q", "-p", "no:randomly", "-n", str(workers)],
                    cwd=ROOT,
                    env={"HARNESS_STATE_DIR": str(base / f"scaling-{label}-{workers}-{round_}")},
                    timeout=1800,
                )
                runs.setdefault((label, workers), []).append(run)
                status = "ok" if run.returncode == 0 else f"FAILED\n{run.failure()}"
                say(
                    f"scaling {label} {round_ + 1}/{rounds[label]} -n {workers}: "
                    f"{sec(run.seconds)} s, {sec(run.tree_cpu)} s CPU {status}"
                )
    return Scaling(suites, runs)


def scaling_tables(result: Scaling) -> list[str]:
    rows = []
    for label, suite in result.suites.items():
        serial, serial_cpu = result.wall(label, 0), result.cpu(label, 0)
        for workers in (0, 2):
            these = result.runs.get((label, workers), [])
            wall, cpu = result.wall(label, workers), result.cpu(label, workers)
            rows.append(
                [
                    f"{label} (`pytest {' '.join(suite) or '(testpaths)'}`)",
                    f"-n {workers}",
                    sec(wall),
                    sec(cpu),
                    spread([r.seconds for r in these], scale=1),
                    f"{sum(r.returncode == 0 for r in these)}/{len(these)}",
                    times(ratio(wall, serial)),
                    times(ratio(cpu, serial_cpu)),
                ]
            )
    return [
        table(
            "Scaling: suite wall time, servers started cold each run (s, median; CPU = pytest, "
            "its workers and what they ran, servers they stopped included)",
            [
                "suite",
                "workers",
                "wall",
                "CPU",
                "wall range",
                "runs passed",
                "wall vs serial",
                "CPU vs serial",
            ],
            rows,
        )
    ]


# -- memory ------------------------------------------------------------------------------------------
def memory_columns(
    per_test: PerTest | None, startup: Startup | None, scaling: Scaling | None
) -> list[tuple[str, list[Run]]]:
    columns: list[tuple[str, list[Run]]] = []
    if per_test is not None:
        shown = [f"{way}-{scope}" for scope in ("session", "function") for way in WAYS]
        columns += [(f"{name} x{per_test.n}", per_test.runs.get(name, [])) for name in shown]
    if startup is not None:
        columns.append(("startup, all four cold", startup.cold.get("all four", [])))
    if scaling is not None:
        columns += [(f"{s} -n {w}", runs) for (s, w), runs in scaling.runs.items()]
    return columns


def peak(runs: list[Run], group: str) -> int | None:
    return max((r.rss.get(group, 0) for r in runs), default=0) or None


def peak_total(runs: list[Run]) -> int | None:
    """The largest sum over every group a run sampled (pytest, its workers and the servers)."""
    return max((sum(r.rss.values()) for r in runs), default=0) or None


def memory_table(columns: list[tuple[str, list[Run]]]) -> list[str]:
    if not columns:
        return []
    groups = ["pytest", "pytest workers", *SERVER_GROUPS]
    rows = [[group, *[mib(peak(runs, group)) for _, runs in columns]] for group in groups]
    rows.append(["total", *[mib(peak_total(runs)) for _, runs in columns]])
    return [
        table(
            "Peak RSS in MiB (sampled every 0.2 s; a server's processes summed, so PostgreSQL's "
            "shared buffers count once per backend; total = the sum of the peaks)",
            ["process", *[name for name, _ in columns]],
            rows,
        )
    ]


# -- main --------------------------------------------------------------------------------------------
def machine(load_during: list[tuple[float, float, float]]) -> str:
    worst = max((max(sample) for sample in load_during), default=0.0)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{platform.platform()}; Python {platform.python_version()}; {psutil.cpu_count()} CPUs; "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM; load average at the end {load}, "
        f"highest seen during the run {worst:.1f}"
    )


def revision() -> str:
    """The commit measured, and whether the harness had uncommitted changes (a shared tree)."""

    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30
        )
        return result.stdout.strip()

    dirty = git("status", "--porcelain", "--", "harness", "services", "shared")
    return f"commit {git('rev-parse', '--short', 'HEAD') or 'unknown'}" + (
        " + uncommitted changes in harness/, services/ or shared/" if dirty else ""
    )


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smoke run: N=20, one run each")
    parser.add_argument("--tests", type=int, help="tests per per-test run (default 300)")
    parser.add_argument("--runs", type=int, help="runs per figure, median reported (default 3)")
    parser.add_argument(
        "--only", action="append", choices=SECTIONS, help="run only this section (repeatable)"
    )
    parser.add_argument(
        "--suite",
        nargs="+",
        default=["services"],
        help="the services' suite of the scaling section (default: services)",
    )
    parser.add_argument(
        "--repo-suite",
        nargs="+",
        default=list(REPOSITORY_SUITE),
        help="pytest arguments of the whole-repository scaling figure (default: the testpaths "
        "without tests/test_bench.py, which would run a benchmark inside the benchmark)",
    )
    parser.add_argument(
        "--repo-runs",
        type=int,
        default=1,
        help="runs of the whole repository suite per worker count (default 1: ~4 min each)",
    )
    parser.add_argument(
        "--import-runs", type=int, default=10, help="fresh interpreters per import figure"
    )
    parser.add_argument(
        "--startup-sets",
        default=",".join(STARTUP_SETS),
        help=f"comma-separated resource sets the startup section runs (default: {', '.join(STARTUP_SETS)})",
    )
    parser.add_argument(
        "--backend",
        choices=["local", "docker"],
        help="backend of the startup section's runs (default: local, as its suite's ini says)",
    )
    parser.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="RESOURCE=IMAGE",
        help="Docker image of a resource in the startup section (harness_images; repeatable)",
    )
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="VARIANT",
        help="profile this per-test variant's steady state with pyinstrument and print the "
        "report after the tables; its timings then include the profiler's overhead, so use it in "
        f"a run of its own (repeatable; only the profiled variants run; one of {', '.join(v.name for v in VARIANTS)})",
    )
    args = parser.parse_args(argv)
    args.startup_sets = [label.strip() for label in args.startup_sets.split(",") if label.strip()]
    unknown = set(args.startup_sets) - set(STARTUP_SETS)
    if unknown:
        parser.error(f"--startup-sets: unknown {', '.join(sorted(unknown))}")
    args.tests = args.tests or (20 if args.quick else 300)
    args.runs = args.runs or (1 if args.quick else 3)
    if args.quick:
        args.import_runs = min(args.import_runs, 3)
    if args.tests < 2 or args.runs < 1 or args.repo_runs < 1 or args.import_runs < 1:
        parser.error("--tests needs at least 2, and each --*runs at least 1")
    args.only = args.only or list(SECTIONS)
    unknown = set(args.profile) - {v.name for v in VARIANTS}
    if unknown:
        parser.error(f"--profile: unknown variant {', '.join(sorted(unknown))}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    started = time.monotonic()
    figures = Figures()
    loads: list[tuple[float, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp, _sampling_load(loads):
        base = Path(tmp)
        try:
            if "per-test" in args.only:
                with shared_servers(base / "shared-state") as shared:
                    figures.per_test = run_per_test(args, base, shared)
            if "imports" in args.only:
                figures.imports = time_imports(args.import_runs, base / "pycache-imports")
            if "startup" in args.only:
                figures.startup = run_startup(args, base)
            if "scaling" in args.only:
                figures.scaling = run_scaling(args, base)
        finally:
            _reap_all(base)
    tables: list[str] = []
    if figures.per_test is not None:
        tables += per_test_tables(figures.per_test)
    if figures.imports is not None:
        tables += import_tables(figures.imports)
    if figures.startup is not None:
        tables += startup_tables(figures.startup, args.backend or "local")
    if figures.scaling is not None:
        tables += scaling_tables(figures.scaling)
    columns = memory_columns(figures.per_test, figures.startup, figures.scaling)
    tables += memory_table(columns)
    tables += goals_table(figures)
    print(f"Machine: {machine(loads)}")
    print(f"Code: {revision()}")
    print(f"Command: python bench/run.py {' '.join(sys.argv[1:] if argv is None else argv)}")
    print(f"Runs per figure: {args.runs}; total time {time.monotonic() - started:.0f} s\n")
    print("\n".join(tables))
    per_test = figures.per_test
    profiled = [(name, per_test.runs[name]) for name in args.profile] if per_test else []
    for name, runs in profiled:
        for index, run in enumerate(runs):
            print(f"### Profile of {name}, run {index + 1} (pyinstrument, tests 2..N-1)\n")
            print(f"```\n{run.profile or 'no profile written'}\n```\n")
    return 0


@contextlib.contextmanager
def _sampling_load(samples: list[tuple[float, float, float]]) -> Iterator[None]:
    """Record the load average every 10 s while the benchmark runs (printed with the tables:
    wall-time figures mean little without it)."""
    import threading

    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(10):
            samples.append(os.getloadavg())

    samples.append(os.getloadavg())
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=15)


def _reap_all(base: Path) -> None:
    """Safety net: stop servers of any run under *base* whose pytest died before stopping them."""
    from harness._config import config_from_project
    from harness._infra import reap

    for state in [p.parent for p in base.glob("*/runs")]:
        for what in reap(config_from_project(ROOT, {"state_dir": str(state)})):
            say(f"reaped {what}")


if __name__ == "__main__":
    sys.exit(main())
