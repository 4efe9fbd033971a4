"""Run every benchmark and print the tables: ``python bench/run.py`` (or ``make bench``).

Sections (``--only`` picks some):

* ``per-test``: the courier-location flow (seed a user and a courier row, POST a location, assert
  204, clean up) written the guide's portal way, the harness way and as a bare floor, each N tests
  in its own ``pytest`` process, repeated and interleaved; plus the leak check's cost.
* ``startup``: ``pytest`` start to first test for each resource alone and all four, cold and with
  ``--harness-reuse`` warm.
* ``scaling``: a suite with ``-n 0`` and ``-n 2``.
* memory: peak RSS of the pytest process and of each server, sampled during the runs above.

Every figure is the median of ``--runs`` real runs (the machine is shared: one run proves little).
Everything happens under one temp dir with its own ``HARNESS_STATE_DIR``s, so the benchmark never
meets, reaps or reuses anybody else's servers. ``--quick`` is a smoke run with small N.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._proc import ROOT, Run, clean_environ, run_pytest
from bench._timing import PROFILE_ENV
from bench._variants import (
    STARTUP_SETS,
    VARIANTS,
    Variant,
    startup_file,
    write_startup_suite,
    write_variant,
)

SECTIONS = ("per-test", "startup", "scaling")
SERVER_GROUPS = ("postgres", "rabbitmq", "mongo", "redis")
GOALS = {
    "harness/portal, session-scoped": 0.6,
    "harness/portal, function-scoped": 0.8,
    "harness/bare, session-scoped": 1.15,
    "harness/bare, function-scoped": 1.15,
}


# -- output ----------------------------------------------------------------------------------------
def say(message: str) -> None:
    """Progress goes to stderr so stdout is the tables alone (``> results.txt`` keeps them)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (pasted as-is into docs/performance.md)."""
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([f"### {title}", "", line(cells[0]), rule, *map(line, cells[1:]), ""])


def ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.2f}"


def sec(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds:.2f}"


def mib(size: int | None) -> str:
    return "n/a" if not size else f"{size / 2**20:.0f}"


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def fmt_ratio(value: float | None, goal: float | None = None) -> str:
    if value is None:
        return "n/a"
    verdict = "" if goal is None else (" (met)" if value <= goal else " (MISSED)")
    return f"{value:.2f}x{verdict}"


def median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def spread(values: Sequence[float | None], scale: float = 1000) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return "n/a"
    return f"{min(present) * scale:.2f}-{max(present) * scale:.2f}"


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

    from harness._config import config_from_pyproject
    from harness._infra import Infrastructure

    config = config_from_pyproject(ROOT, {"state_dir": str(state_dir), "backend": "local"})
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
@dataclasses.dataclass
class PerTest:
    n: int
    runs: dict[str, list[Run]]
    leak_micro: list[list[Any]]

    def per_test(self, name: str) -> float | None:
        """Median wall seconds per test of *name*'s successful runs."""
        return median([r.per_test for r in self.runs.get(name, []) if r.ok])

    def cpu_per_test(self, name: str) -> float | None:
        """Median CPU seconds per test of the pytest process (see ``Run.cpu_per_test``)."""
        return median([r.cpu_per_test for r in self.runs.get(name, []) if r.ok])


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
                f"per-test {round_ + 1}/{args.runs} {variant.name}: {ms(run.per_test)} ms/test {status}"
            )
    return PerTest(args.tests, runs, leak_micro(args, shared))


def leak_micro(args: argparse.Namespace, shared: SharedRun) -> list[list[Any]]:
    """The colleague's in-process leak-check benchmark (``bench/leak_check_cost.py``), joined to
    the shared servers: pytest-run differences are too noisy to resolve a fraction of a ms."""
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
    out = []
    rows = []
    for scope in ("session", "function"):
        names = {way: f"{way.split('-')[0]}-{scope}" for way in VARIANT_LABELS}
        names["harness-noleak"] += "-noleak"
        portal, bare = result.per_test(names["portal"]), result.per_test(names["bare"])
        portal_cpu, bare_cpu = (
            result.cpu_per_test(names["portal"]),
            result.cpu_per_test(names["bare"]),
        )
        for way, label in VARIANT_LABELS.items():
            every = result.runs.get(names[way], [])
            runs = [r for r in every if r.ok]
            wall, cpu = result.per_test(names[way]), result.cpu_per_test(names[way])
            rows.append(
                [
                    scope,
                    label,
                    ms(wall),
                    spread([r.per_test for r in runs]),
                    f"{len(runs)}/{len(every)}",
                    fmt_ratio(ratio(wall, portal)),
                    fmt_ratio(ratio(wall, bare)),
                    ms(cpu),
                    fmt_ratio(ratio(cpu, portal_cpu)),
                    fmt_ratio(ratio(cpu, bare_cpu)),
                ]
            )
    out.append(
        table(
            f"Per-test cost, courier-location flow, N={result.n} tests per run (median of runs; "
            "ms per test; CPU = the pytest process's own CPU time)",
            [
                "client scope",
                "variant",
                "wall ms",
                "range",
                "runs ok",
                "wall vs portal",
                "wall vs bare",
                "CPU ms",
                "CPU vs portal",
                "CPU vs bare",
            ],
            rows,
        )
    )
    leak_rows = []
    for scope in ("session", "function"):
        on, off = result.per_test(f"harness-{scope}"), result.per_test(f"harness-{scope}-noleak")
        diff = None if on is None or off is None else on - off
        leak_rows.append([f"pytest runs, {scope}-scoped client", ms(on), ms(off), ms(diff)])
    out.append(
        table(
            "Leak check cost per test (ms): whole runs, on - off (noisy at this scale)",
            ["measured by", "on", "off", "cost per test"],
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
                "Leak check in-process (bench/leak_check_cost.py; ms per test = 2 snapshots)",
                ["stores", "what", "median", "p90"],
                micro,
            )
        )
    return out


def leak_per_test(result: PerTest) -> float | None:
    """The leak check's per-test cost for a suite like the courier one (PostgreSQL only)."""
    for state, label, med, _ in result.leak_micro:
        if state.startswith("empty") and label == "leak check per test, postgres only":
            return float(med) / 1000
    return None


# -- startup -----------------------------------------------------------------------------------------
@dataclasses.dataclass
class Startup:
    cold: dict[str, list[Run]]
    warm: dict[str, list[Run]]
    plain: list[Run]

    def cold_s(self, label: str) -> float | None:
        return median([r.startup for r in self.cold.get(label, []) if r.ok])

    def warm_s(self, label: str) -> float | None:
        return median([r.startup for r in self.warm.get(label, []) if r.ok])


def run_startup(args: argparse.Namespace, base: Path) -> Startup:
    suite = write_startup_suite(base)
    labels = args.startup_sets
    cold: dict[str, list[Run]] = {label: [] for label in labels}
    warm: dict[str, list[Run]] = {label: [] for label in labels}
    plain: list[Run] = []

    backend = [f"--harness-backend={args.backend}"] if args.backend else []
    backend += [f"--harness-images={image}" for image in args.image]

    def one(state: Path, labels: Sequence[str], *extra: str) -> Run:
        if "no:harness" not in extra:
            extra = (*backend, *extra)
        run = run_pytest(
            ["-q", "-p", "bench._timing", *extra, *map(startup_file, labels)],
            cwd=suite,
            env={"HARNESS_STATE_DIR": str(state)},
            timeout=240,
        )
        if not run.ok:
            say(f"startup {', '.join(labels)} {' '.join(extra)} FAILED\n{run.failure()}")
        return run

    for round_ in range(args.runs):
        for label in labels:  # a fresh state dir each time: nothing to reattach to
            state = base / f"cold-{label.replace(' ', '_')}-{round_}"
            cold[label].append(one(state, [label]))
            say(f"startup cold {round_ + 1}/{args.runs} {label}: {sec(cold[label][-1].startup)} s")
        plain.append(one(base / "plain", ["none"], "-p", "no:harness"))
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
    return Startup(cold, warm, plain)


def _down(rootdir: Path, state: Path) -> None:
    """Stop the reused servers of the warm runs (``harness down`` for that rootdir)."""
    from harness._config import config_from_pyproject
    from harness._up import down

    for line in down(config_from_pyproject(rootdir, {"state_dir": str(state)})):
        say(f"stopped reused {line}")


def startup_tables(result: Startup, backend: str) -> list[str]:
    singles = [label for label in STARTUP_SETS if label not in ("all four", "none")]
    rows = [
        [label, sec(result.cold_s(label)), sec(result.warm_s(label))]
        for label in [*singles, "all four"]
    ]
    total = sum(result.cold_s(label) or 0 for label in singles)
    warm_total = sum(result.warm_s(label) or 0 for label in singles)
    rows.append(["sum of the four singles (a sequential start)", sec(total), sec(warm_total)])
    rows.append(
        ["plugin loaded, no resource", sec(result.cold_s("none")), sec(result.warm_s("none"))]
    )
    plain = median([r.startup for r in result.plain if r.ok])
    rows.append(["pytest without the plugin (-p no:harness)", sec(plain), sec(plain)])
    return [
        table(
            f"Startup: seconds from `pytest` start to the first test ({backend} backend, median)",
            ["resources", "cold", "warm (--harness-reuse)"],
            rows,
        )
    ]


# -- scaling -----------------------------------------------------------------------------------------
def run_scaling(args: argparse.Namespace, base: Path) -> dict[int, list[Run]]:
    runs: dict[int, list[Run]] = {0: [], 2: []}
    for round_ in range(args.runs):
        for workers in runs:
            run = run_pytest(
                [*args.suite, "-q", "-n", str(workers)],
                cwd=ROOT,
                env={"HARNESS_STATE_DIR": str(base / f"scaling-{workers}-{round_}")},
                timeout=1200,
            )
            runs[workers].append(run)
            status = "ok" if run.ok else f"FAILED\n{run.failure()}"
            say(f"scaling {round_ + 1}/{args.runs} -n {workers}: {sec(run.seconds)} s {status}")
    return runs


def scaling_tables(args: argparse.Namespace, runs: dict[int, list[Run]]) -> list[str]:
    serial = median([r.seconds for r in runs[0]])
    rows = []
    for workers, these in runs.items():
        wall = median([r.seconds for r in these])
        ok = sum(r.returncode == 0 for r in these)
        rows.append(
            [
                f"-n {workers}",
                sec(wall),
                spread([r.seconds for r in these], scale=1),
                f"{ok}/{len(these)}",
                fmt_ratio(ratio(wall, serial)),
                fmt_ratio(ratio(serial, wall)),
            ]
        )
    return [
        table(
            f"Scaling: `pytest {' '.join(args.suite)}` wall time, servers started cold each run (s)",
            ["workers", "wall", "range", "runs passed", "vs serial", "speed-up"],
            rows,
        )
    ]


# -- memory ------------------------------------------------------------------------------------------
def memory_table(
    per_test: PerTest | None, startup: Startup | None, scaling: dict[int, list[Run]] | None
) -> list[str]:
    columns: list[tuple[str, list[Run]]] = []
    if per_test is not None:
        shown = ("portal-session", "harness-session", "bare-session", "harness-function")
        columns += [(f"{name} x{per_test.n}", per_test.runs.get(name, [])) for name in shown]
    if startup is not None:
        columns.append(("startup, all four cold", startup.cold.get("all four", [])))
    if scaling is not None:
        columns += [(f"suite -n {w}", runs) for w, runs in scaling.items()]
    if not columns:
        return []
    groups = ["pytest", "pytest workers", *SERVER_GROUPS]

    def peak(runs: list[Run], group: str) -> int | None:
        return max((r.rss.get(group, 0) for r in runs), default=0) or None

    rows = [[group, *[mib(peak(runs, group)) for _, runs in columns]] for group in groups]
    return [
        table(
            "Peak RSS in MiB (sampled every 0.2 s; a server's processes summed, so PostgreSQL's "
            "shared buffers count once per backend)",
            ["process", *[name for name, _ in columns]],
            rows,
        )
    ]


# -- goals -------------------------------------------------------------------------------------------
def goals_table(
    per_test: PerTest | None, startup: Startup | None, scaling: dict[int, list[Run]] | None
) -> list[str]:
    rows: list[list[str]] = []

    def goal(name: str, value: float | None, target: float, shown: Callable[[float], str]) -> None:
        verdict = "n/a" if value is None else ("met" if value <= target else "MISSED")
        rows.append([name, "n/a" if value is None else shown(value), shown(target), verdict])

    as_ratio: Callable[[float], str] = lambda v: f"{v:.2f}x"  # noqa: E731
    if per_test is not None:
        for scope in ("session", "function"):
            harness = per_test.per_test(f"harness-{scope}")
            goal(
                f"harness/portal, {scope}-scoped",
                ratio(harness, per_test.per_test(f"portal-{scope}")),
                GOALS[f"harness/portal, {scope}-scoped"],
                as_ratio,
            )
        for scope in ("session", "function"):
            goal(
                f"harness/bare, {scope}-scoped",
                ratio(per_test.per_test(f"harness-{scope}"), per_test.per_test(f"bare-{scope}")),
                GOALS[f"harness/bare, {scope}-scoped"],
                as_ratio,
            )
        goal(
            "leak check per test (in-process, PostgreSQL)",
            leak_per_test(per_test),
            0.001,
            lambda v: f"{v * 1000:.2f} ms",
        )
    if startup is not None:
        slowest = max(
            (startup.cold_s(s) or 0 for s in ("postgres", "rabbitmq", "mongo", "redis")),
            default=0,
        )
        goal(
            "cold start, all four / slowest single",
            ratio(startup.cold_s("all four"), slowest),
            1.2,
            as_ratio,
        )
        goal(
            "warm start with reuse, all four",
            startup.warm_s("all four"),
            1.0,
            lambda v: f"{v:.2f} s",
        )
    if scaling is not None:
        goal(
            "-n 2 wall / serial wall",
            ratio(median([r.seconds for r in scaling[2]]), median([r.seconds for r in scaling[0]])),
            0.65,
            as_ratio,
        )
    return (
        [table("Goals (issue 6)", ["goal", "measured", "target", "verdict"], rows)] if rows else []
    )


# -- main --------------------------------------------------------------------------------------------
def machine() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{platform.platform()}; Python {platform.python_version()}; {psutil.cpu_count()} CPUs; "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM; load average at the end {load}"
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
        help="what the scaling section runs (default: the three services' suites; the full "
        "repository suite takes ~6 min per run on a 2-core machine)",
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
    if args.tests < 2 or args.runs < 1:
        parser.error("--tests needs at least 2 and --runs at least 1")
    args.only = args.only or list(SECTIONS)
    unknown = set(args.profile) - {v.name for v in VARIANTS}
    if unknown:
        parser.error(f"--profile: unknown variant {', '.join(sorted(unknown))}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    started = time.monotonic()
    per_test: PerTest | None = None
    startup: Startup | None = None
    scaling: dict[int, list[Run]] | None = None
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        base = Path(tmp)
        try:
            if "per-test" in args.only:
                with shared_servers(base / "shared-state") as shared:
                    per_test = run_per_test(args, base, shared)
            if "startup" in args.only:
                startup = run_startup(args, base)
            if "scaling" in args.only:
                scaling = run_scaling(args, base)
        finally:
            _reap_all(base)
    tables: list[str] = []
    if per_test is not None:
        tables += per_test_tables(per_test)
    if startup is not None:
        tables += startup_tables(startup, args.backend or "local")
    if scaling is not None:
        tables += scaling_tables(args, scaling)
    tables += memory_table(per_test, startup, scaling)
    tables += goals_table(per_test, startup, scaling)
    print(f"Machine: {machine()}")
    print(f"Code: {revision()}")
    print(f"Command: python bench/run.py {' '.join(sys.argv[1:] if argv is None else argv)}")
    print(f"Runs per figure: {args.runs}; total time {time.monotonic() - started:.0f} s\n")
    print("\n".join(tables))
    profiled = [(name, per_test.runs[name]) for name in args.profile] if per_test else []
    for name, runs in profiled:
        for index, run in enumerate(runs):
            print(f"### Profile of {name}, run {index + 1} (pyinstrument, tests 2..N-1)\n")
            print(f"```\n{run.profile or 'no profile written'}\n```\n")
    return 0


def _reap_all(base: Path) -> None:
    """Safety net: stop servers of any run under *base* whose pytest died before stopping them."""
    from harness._config import config_from_pyproject
    from harness._infra import reap

    for state in [p.parent for p in base.glob("*/runs")]:
        for what in reap(config_from_pyproject(ROOT, {"state_dir": str(state)})):
            say(f"reaped {what}")


if __name__ == "__main__":
    sys.exit(main())
