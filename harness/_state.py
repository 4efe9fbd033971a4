"""Run records: which servers a run started, which pytest processes use them, and reaping.

One JSON file per run (``<state_dir>/runs/<key>.json``) guarded by a lock (``<key>.lock``, there
only while held). Every pytest
process that uses the servers holds a *lease* (its PID and start time). The last lease to go stops
the servers (unless they are reused). A run whose lease holders are all dead (SIGKILL, OOM, power
cut) is an orphan: the next run stops its servers by recorded PID/container and removes its dirs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._exceptions import StateDirError
from ._lock import RecordLock
from ._process import ProcessRecord
from .resources import Server

__all__ = ["RunRecord", "RunState", "has_runs", "reap_orphans", "state_dir_errors"]


def runs_dir(state_dir: Path) -> Path:
    """Where the run records under *state_dir* live."""
    return state_dir / "runs"


def has_runs(state_dir: Path) -> bool:
    """Whether any run is recorded under *state_dir* (cheap: the session start asks it before
    loading what reaping needs)."""
    try:
        return any(runs_dir(state_dir).iterdir())
    except FileNotFoundError:
        return False
    except OSError:  # unreadable: reaping says what is wrong with it
        return True


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
        self.key = key
        self.dir = runs_dir(state_dir)
        self.path = self.dir / f"{key}.json"
        with state_dir_errors(state_dir):
            _private_dir(state_dir)
            _private_dir(self.dir)
        self.lock = _Lock(self.dir / f"{key}.lock", state_dir)

    def load(self) -> RunState:
        try:
            return RunState.from_json(json.loads(self.path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return RunState()
        except (ValueError, TypeError):  # a torn or foreign file: treat as empty, reap by dirs
            return RunState()

    def save(self, state: RunState) -> None:
        partial = self.path.with_suffix(f".{os.getpid()}.tmp")
        with state_dir_errors(self.dir.parent):
            try:
                # The record holds the servers' admin URLs, passwords included: owner-only.
                descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                    json.dump(state.to_json(), file, indent=1)
                partial.replace(self.path)
            except BaseException:
                partial.unlink(missing_ok=True)  # a full disk must not keep half a record
                raise

    def remove(self) -> None:
        """Forget the run (its lock file goes when the lock is released)."""
        self.path.unlink(missing_ok=True)


class _Lock(RecordLock):
    """A run record's lock: a lock file that cannot be created is a :class:`StateDirError`."""

    def __init__(self, path: Path, state_dir: Path) -> None:
        super().__init__(path)
        self._state_dir = state_dir

    def acquire(self, timeout: float) -> None:
        with state_dir_errors(self._state_dir):
            super().acquire(timeout)


@contextmanager
def state_dir_errors(state_dir: Path) -> Iterator[None]:
    """Turn a failure to write under *state_dir* into an error that names it and the fix."""
    try:
        yield
    except TimeoutError:
        raise
    except OSError as exc:
        if isinstance(exc, StateDirError):
            raise
        reason = exc.strerror or str(exc)
        error = StateDirError(
            f"cannot write the harness state dir {state_dir} ({reason}): it holds the run "
            "records that let the harness stop its servers, and the local servers' temp dirs. "
            "Free space there or make it writable, or point harness_state_dir (ini) / "
            "--harness-state-dir / HARNESS_STATE_DIR at a writable directory."
        )
        error.errno = exc.errno
        raise error from exc


def _private_dir(path: Path) -> None:
    """Create *path* (and parents) readable by its owner only; tighten it if it is ours."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    status = path.stat()
    if hasattr(os, "getuid") and status.st_uid == os.getuid() and status.st_mode & 0o077:
        path.chmod(0o700)  # only when needed: reading records must work on a read-only disk


def new_lease() -> tuple[str, float]:
    """A lease key (``<pid>:<token>``: one process may hold several) and the process start time."""
    import psutil

    return f"{os.getpid()}:{os.urandom(3).hex()}", psutil.Process().create_time()


def _pid(lease: str) -> int:
    return int(lease.partition(":")[0])


@contextmanager
def _try_lock(record: RunRecord) -> Iterator[bool]:
    try:
        record.lock.acquire(timeout=0)
    except TimeoutError:
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
    reapable: Callable[[Server], bool] = lambda server: True,
) -> list[str]:
    """Stop the servers of every run whose lease holders are all gone; return what was reaped.

    *stop* gets each server and the namespaces the dead run had made on it (they matter on an
    external server, which is never stopped). A run with a server that is not *reapable* here
    is left for a process that can reap it.

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
            if not all(reapable(s) for s in state.servers.values()):
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


def _remove_stale_locks(runs: Path) -> None:
    """Lock files a killed holder left (the kernel dropped its lock, the file stayed): taking
    the lock and giving it back removes the file; one held right now is left alone."""
    for path in runs.glob("*.lock") if runs.is_dir() else []:
        lock = RecordLock(path)
        try:
            lock.acquire(timeout=0)
        except TimeoutError:
            continue
        lock.release()
