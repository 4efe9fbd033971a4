"""Server processes: start detached in their own process group, recognise them later by PID *and*
start time (never by name), stop them with a bound.

Servers run in their own session so a Ctrl-C in the terminal reaches pytest, not them: pytest then
stops them in order. They outlive the pytest process that started them on purpose: under xdist
the last worker to finish stops them, and after a SIGKILL the next run reaps them.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: a run that starts no server never loads them
    import psutil

__all__ = [
    "ExitWatch",
    "ProcessRecord",
    "chown_to",
    "first_line",
    "free_port",
    "server_user",
    "spawn",
    "stop_process",
]

VERSION_TIMEOUT = 5.0

_known: dict[ProcessRecord, psutil.Process] = {}
"""Processes already recognised by PID and start time."""

_children: dict[int, subprocess.Popen[bytes]] = {}
"""Servers this process started: kept so Python does not warn that they outlive their Popen,
and so that stopping one also reaps it (no zombie)."""


@dataclass(frozen=True)
class ProcessRecord:
    """A process identified so that a recycled PID is never mistaken for it."""

    pid: int
    create_time: float

    @classmethod
    def of(cls, pid: int) -> ProcessRecord:
        import psutil

        return cls(pid, psutil.Process(pid).create_time())

    def process(self) -> psutil.Process | None:
        """The live process, or ``None`` when it is gone (or the PID now belongs to another).

        A zombie counts as gone: under xdist the worker that stops a server is often not its
        parent, and may never see it reaped. The ``psutil.Process`` is kept between calls;
        ``is_running`` still tells a recycled PID apart.
        """
        import psutil

        try:
            proc = _known.get(self)
            if proc is None:
                proc = psutil.Process(self.pid)
                if abs(proc.create_time() - self.create_time) > 0.01:
                    return None
                _known[self] = proc
            if not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(self.pid, os.WNOHANG)  # our own child: reap it
                _known.pop(self, None)
                return None
        except psutil.NoSuchProcess:
            _known.pop(self, None)
            return None
        return proc

    def alive(self) -> bool:
        return self.process() is not None


class ExitWatch:
    """Tells whether any of the watched processes has exited, with one ``poll(2)`` call for all
    of them and no ``/proc`` reads: Linux process file descriptors (pidfds) become readable when
    their process ends (a zombie counts as ended). Where there are none, :meth:`add` says so and
    the caller checks those processes another way.
    """

    def __init__(self) -> None:
        self._poll = select.poll() if hasattr(select, "poll") else None
        self._fds: list[int] = []

    def add(self, record: ProcessRecord) -> bool:
        """Watch *record*'s process; ``False`` when it cannot be watched so (no pidfds on this
        system, or the process is gone already)."""
        if self._poll is None or not hasattr(os, "pidfd_open"):
            return False
        try:
            fd = os.pidfd_open(record.pid)
        except OSError:
            return False
        if record.process() is None:  # the PID belongs to another process now, or ended
            os.close(fd)
            return False
        self._poll.register(fd, select.POLLIN)
        self._fds.append(fd)
        return True

    def exited(self) -> bool:
        """Whether a watched process has ended since it was added."""
        return self._poll is not None and bool(self._fds) and bool(self._poll.poll(0))

    def close(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds.clear()
        self._poll = select.poll() if self._poll is not None else None


def free_port() -> int:
    """A TCP port that nothing listens on right now, from the unassigned range."""
    import port_for

    return port_for.select_random()


def server_user() -> str | None:
    """The user servers run as: ``None`` (ourselves) unless we are root.

    PostgreSQL refuses to run as root; the other servers do not need root either. Debian's
    ``postgres`` account exists once the server package is installed, else ``nobody``.
    """
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    import pwd  # POSIX only: `import harness` must work where it does not exist

    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    return None


def chown_to(path: Path, user: str | None) -> None:
    """Give *path* to *user* (no-op when servers run as ourselves)."""
    if user is None:
        return
    import pwd

    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path,
    log_path: Path,
    user: str | None = None,
) -> tuple[subprocess.Popen[bytes], ProcessRecord]:
    """Start *argv* detached (own session and process group), output appended to *log_path*."""
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user,
        )
    _children[proc.pid] = proc
    return proc, ProcessRecord.of(proc.pid)


def stop_process(
    record: ProcessRecord, *, sig: int = signal.SIGTERM, timeout: float = 10.0
) -> bool:
    """Stop a recorded process and its process group; return whether it had been running.

    Sends *sig* to the process (servers shut down cleanly on it) and SIGCONT to its group (a
    stopped process would leave *sig* pending), waits up to *timeout*, then SIGKILLs whatever is
    left of its process group.
    """
    import psutil

    child = _children.pop(record.pid, None)
    proc = record.process()
    if proc is None:
        if child is not None:
            child.poll()  # it died on its own: collect its exit status
        return False
    with contextlib.suppress(psutil.NoSuchProcess):
        proc.send_signal(sig)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(record.pid, signal.SIGCONT)  # a stopped (SIGSTOP, hung) server acts on sig now
    stopped = _wait_gone(record, timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(record.pid, signal.SIGKILL)  # leftovers of the group (postgres backends...)
    if not stopped:
        _wait_gone(record, 5)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=5)
    return True


def _wait_gone(record: ProcessRecord, timeout: float) -> bool:
    """Poll until *record* is gone (zombies count as gone: we may not be the parent)."""
    deadline = time.monotonic() + timeout
    while record.process() is not None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def first_line(argv: list[str]) -> str:
    """The first line a ``--version`` call prints; ``""`` if it fails or hangs."""
    try:
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=VERSION_TIMEOUT, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    lines = (result.stdout or result.stderr).strip().splitlines()
    return lines[0].strip() if result.returncode == 0 and lines else ""
