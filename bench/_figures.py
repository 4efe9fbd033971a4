"""The figures one benchmark run collects, by section (what the tables and the goals read)."""

from __future__ import annotations

import dataclasses
from typing import Any

from bench._imports import ImportTime
from bench._proc import Run
from bench._report import median

__all__ = ["NO_SERVER", "PLAIN", "Figures", "PerTest", "Scaling", "Startup", "variant_name"]

PLAIN = "pytest without the plugin (-p no:harness)"
NO_SERVER = "plugin loaded, no server needed"


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


def variant_name(way: str, scope: str) -> str:
    name = f"{way.split('-')[0]}-{scope}"
    return f"{name}-noleak" if way == "harness-noleak" else name


@dataclasses.dataclass
class Startup:
    cold: dict[str, list[Run]]
    warm: dict[str, list[Run]]
    floor: dict[tuple[str, bool], list[Run]]
    """(PLAIN or NO_SERVER, bytecode cached) -> runs."""

    def cold_s(self, label: str, cpu: bool = False) -> float | None:
        return _startup(self.cold.get(label, []), cpu)

    def warm_s(self, label: str, cpu: bool = False) -> float | None:
        return _startup(self.warm.get(label, []), cpu)

    def floor_s(self, label: str, cached: bool, cpu: bool = False) -> float | None:
        return _startup(self.floor.get((label, cached), []), cpu)


def _startup(runs: list[Run], cpu: bool) -> float | None:
    return median([(r.startup_cpu if cpu else r.startup) for r in runs if r.ok])


@dataclasses.dataclass
class Scaling:
    suites: dict[str, list[str]]
    """Label -> pytest arguments."""
    runs: dict[tuple[str, int], list[Run]]
    """(suite label, workers) -> runs."""

    def wall(self, suite: str, workers: int) -> float | None:
        return median([r.seconds for r in self.runs.get((suite, workers), [])])

    def cpu(self, suite: str, workers: int) -> float | None:
        return median([r.tree_cpu for r in self.runs.get((suite, workers), [])])


@dataclasses.dataclass
class Figures:
    """Whatever sections ran."""

    per_test: PerTest | None = None
    imports: list[ImportTime] | None = None
    startup: Startup | None = None
    scaling: Scaling | None = None
