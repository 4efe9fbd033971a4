"""The goals, each against the figure of this run that measures it: the summary table.

A goal is met or missed on its wall-time figure (what a user waits for); the CPU figure beside it
is what the processes measured spent, which other users' load on the machine changes much less:
when the two disagree, the machine was busy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bench._figures import NO_SERVER, PLAIN, Figures, variant_name
from bench._proc import Run
from bench._report import ratio, sec, table, times

__all__ = ["Goal", "goals", "goals_table"]


@dataclass(frozen=True)
class Goal:
    name: str
    target: float
    wall: float | None
    cpu: float | None
    shown: Callable[[float | None], str]

    @property
    def verdict(self) -> str:
        return "n/a" if self.wall is None else ("met" if self.wall <= self.target else "missed")


def goals(figures: Figures) -> list[Goal]:
    found: list[Goal] = []
    per_test = figures.per_test
    if per_test is not None:
        for scope, target in (("session", 1.10), ("function", 1.05)):
            harness, bare = variant_name("harness", scope), variant_name("bare", scope)
            found.append(
                Goal(
                    f"per test, harness / bare floor, {scope}-scoped client (leak check on)",
                    target,
                    ratio(per_test.per_test(harness), per_test.per_test(bare)),
                    ratio(per_test.cpu_per_test(harness), per_test.cpu_per_test(bare)),
                    times,
                )
            )
        for scope in ("session", "function"):
            harness, portal = variant_name("harness", scope), variant_name("portal", scope)
            found.append(
                Goal(
                    f"per test, harness / the guide's portal way, {scope}-scoped client",
                    1.0,
                    ratio(per_test.per_test(harness), per_test.per_test(portal)),
                    ratio(per_test.cpu_per_test(harness), per_test.cpu_per_test(portal)),
                    times,
                )
            )
    found += [
        Goal(
            f"`import harness` (s), bytecode cache {'on' if result.cached else 'off'}",
            0.1,
            result.wall_s,
            result.cpu_s,
            sec,
        )
        for result in figures.imports or []
        if result.label == "import harness"
    ]
    startup = figures.startup
    if startup is not None:
        for cached in (False, True):
            found.append(
                Goal(
                    f"pytest, plugin loaded and no server / without the plugin, bytecode cache "
                    f"{'on' if cached else 'off'}",
                    1.15,
                    ratio(startup.floor_s(NO_SERVER, cached), startup.floor_s(PLAIN, cached)),
                    ratio(
                        startup.floor_s(NO_SERVER, cached, cpu=True),
                        startup.floor_s(PLAIN, cached, cpu=True),
                    ),
                    times,
                )
            )
        found.append(
            Goal(
                "warm start of all four with --harness-reuse (s)",
                1.0,
                startup.warm_s("all four"),
                startup.warm_s("all four", cpu=True),
                sec,
            )
        )
        singles = [label for label in startup.cold if label != "all four"]
        slowest = max(singles, key=lambda label: startup.cold_s(label) or 0, default=None)
        if slowest is not None and "all four" in startup.cold:
            found.append(
                Goal(
                    f"cold start of all four / the slowest alone ({slowest})",
                    1.1,
                    ratio(startup.cold_s("all four"), startup.cold_s(slowest)),
                    ratio(startup.cold_s("all four", cpu=True), startup.cold_s(slowest, cpu=True)),
                    times,
                )
            )
    scaling = figures.scaling
    if scaling is not None:
        for suite, target in (("repository", 0.75), ("services", 1.0)):
            found.append(
                Goal(
                    f"-n 2 / serial, {suite} suite",
                    target,
                    ratio(scaling.wall(suite, 2), scaling.wall(suite, 0)),
                    ratio(scaling.cpu(suite, 2), scaling.cpu(suite, 0)),
                    times,
                )
            )
    if per_test is not None:
        found.append(
            Goal(
                "peak RSS, pytest + servers, harness / bare floor (session-scoped runs)",
                1.05,
                ratio(
                    _peak_total(per_test.runs.get("harness-session", [])),
                    _peak_total(per_test.runs.get("bare-session", [])),
                ),
                None,
                times,
            )
        )
    return found


def _peak_total(runs: list[Run]) -> float | None:
    totals = [sum(run.rss.values()) for run in runs if run.ok]
    return float(max(totals, default=0)) or None


def goals_table(figures: Figures) -> list[str]:
    rows = [
        [
            goal.name,
            goal.shown(goal.target),
            goal.shown(goal.wall),
            goal.shown(goal.cpu),
            goal.verdict,
        ]
        for goal in goals(figures)
    ]
    if not rows:
        return []
    return [table("Goals", ["goal", "at most", "measured (wall)", "CPU", "met/missed"], rows)]
