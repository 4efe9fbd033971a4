"""Run records: which servers a run started, which pytest processes use them, and reaping.

One JSON file per run (``<state_dir>/runs/<key>.json``) guarded by a file lock. Every pytest
process that uses the servers holds a *lease* (its PID and start time). The last lease to go stops
the servers (unless they are reused). A run whose lease holders are all dead (SIGKILL, OOM, power
cut) is an orphan: the next run stops its servers by recorded PID/container and removes its dirs.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._process import ProcessRecord
from .resources import Server

__all__ = ["RunRecord", "RunState", "has_runs", "reap_orphans"]


def runs_dir(state_dir: Path) -> Path:
    """Where the run records under *state_dir* live."""
    return state_dir / "runs"


def has_runs(state_dir: Path) -> bool:
    """Whether any run is recorded under *state_dir* (cheap: the session start asks it before
    loading what reaping needs)."""
    runs = runs_dir(state_dir)
    return runs.is_dir() and any(runs.iterdir())


@dataclass
class RunState:
    """The content of a run record."""

    servers: dict[str, Server] = field(default_factory=dict)
    leases: dict[str, float] = field(default_factory=dict)
    namespaces: list[dict[str, str]] = field(default_factory=list)
    reuse: bool = False
    failure: str | None = None

    def live_leases(self) -> list[str]:
        return [
            key for key, ctime in self.leases.items() if ProcessRecord(_pid(key), ctime).alive()
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "servers": {name: s.to_json() for name, s in self.servers.items()},
            "leases": self.leases,
            "namespaces": self.namespaces,
            "reuse": self.reuse,
            "failure": self.failure,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunState:
        return cls(
            servers={name: Server.from_json(s) for name, s in data.get("servers", {}).items()},
            leases=dict(data.get("leases", {})),
            namespaces=list(data.get("namespaces", [])),
            reuse=bool(data.get("reuse", False)),
            failure=data.get("failure"),
        )


class RunRecord:
    """One run's state file and its lock."""

    def __init__(self, state_dir: Path, key: str) -> None:
        from filelock import FileLock

        self.key = key
        self.dir = runs_dir(state_dir)
        self.path = self.dir / f"{key}.json"
        _private_dir(state_dir)
        _private_dir(self.dir)
        self.lock = FileLock(self.dir / f"{key}.lock", thread_local=False)

    def load(self) -> RunState:
        try:
            return RunState.from_json(json.loads(self.path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return RunState()
        except (ValueError, TypeError):  # a torn or foreign file: treat as empty, reap by dirs
            return RunState()

    def save(self, state: RunState) -> None:
        partial = self.path.with_suffix(f".{os.getpid()}.tmp")
        # The record holds the servers' admin URLs, passwords included: owner-only.
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(state.to_json(), file, indent=1)
        partial.replace(self.path)

    def remove(self) -> None:
        """Forget the run. The lock file stays: a process may be waiting on it right now."""
        self.path.unlink(missing_ok=True)


def _private_dir(path: Path) -> None:
    """Create *path* (and parents) readable by its owner only; tighten it if it is ours."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if hasattr(os, "getuid") and path.stat().st_uid == os.getuid():
        path.chmod(0o700)


def new_lease() -> tuple[str, float]:
    """A lease key (``<pid>:<token>``: one process may hold several) and the process start time."""
    import psutil

    return f"{os.getpid()}:{os.urandom(3).hex()}", psutil.Process().create_time()


def _pid(lease: str) -> int:
    return int(lease.partition(":")[0])


@contextmanager
def _try_lock(record: RunRecord) -> Iterator[bool]:
    from filelock import Timeout

    try:
        record.lock.acquire(timeout=0)
    except Timeout:
        yield False
        return
    try:
        yield True
    finally:
        record.lock.release()


def reap_orphans(
    state_dir: Path,
    skip: str,
    stop: Callable[[Server, list[str]], None],
    alive: Callable[[Server], bool],
) -> list[str]:
    """Stop the servers of every run whose lease holders are all gone; return what was reaped.

    *stop* gets each server and the namespaces the dead run had made on it (they matter on an
    external server, which is never stopped).

    A run being started or stopped right now holds its lock and is skipped. Reused servers have no
    lease between runs by design: they are kept while they run, forgotten once they died.
    """
    reaped: list[str] = []
    runs = runs_dir(state_dir)
    for path in sorted(runs.glob("*.json")) if runs.is_dir() else []:
        record = RunRecord(state_dir, path.stem)
        if record.key == skip:
            continue
        with _try_lock(record) as locked:
            if not locked:
                continue
            state = record.load()
            if state.live_leases():
                continue
            if state.reuse and all(alive(s) for s in state.servers.values()):
                continue
            for server in state.servers.values():
                stop(
                    server,
                    [n["name"] for n in state.namespaces if n.get("resource") == server.resource],
                )
                reaped.append(f"{server.resource} ({server.backend}) of run {record.key}")
            record.remove()
    _remove_stale_locks(runs)
    return reaped


def _remove_stale_locks(runs: Path, age: float = 600.0) -> None:
    """Lock files of runs that ended more than *age* seconds ago (nobody can be waiting on them)."""
    now = time.time()
    for lock in runs.glob("*.lock") if runs.is_dir() else []:
        try:
            if not lock.with_suffix(".json").exists() and now - lock.stat().st_mtime > age:
                lock.unlink()
        except FileNotFoundError:
            pass
