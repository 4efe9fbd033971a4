"""An exclusive lock on a file that leaves no file behind.

Each run record has a lock. ``filelock`` keeps its lock file after release (waiters share the
same inode), so a state dir would collect one file per run forever. This lock removes its file
on every release and stays exclusive: a process that locked a file which was removed in the
meantime sees that the path no longer names what it locked, and tries again on the new file.

Unix ``flock`` only: the kernel drops the lock of a process that dies, so a file left by a
killed holder is no obstacle (the next holder removes it).
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["RecordLock"]

POLL_INTERVAL = 0.05
_BUSY = {errno.EAGAIN, errno.EACCES}  # EWOULDBLOCK == EAGAIN on Linux; EACCES on some filesystems


class RecordLock:
    """Exclusive across processes; reentrant within one (any thread may release it).

    :param path: the lock file; created while the lock is held or wanted, removed on release.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._depth = 0
        self._guard = threading.Lock()

    @property
    def is_locked(self) -> bool:
        return self._fd is not None

    def acquire(self, timeout: float) -> None:
        """Take the lock, waiting at most *timeout* seconds (0: one try).

        :raises TimeoutError: when another process still holds it.
        :raises OSError: when the lock file cannot be created (the caller says where and why).
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._guard:
                if self._fd is not None:
                    self._depth += 1
                    return
                fd = self._try_lock()
                if fd is not None:
                    self._fd, self._depth = fd, 1
                    return
            if time.monotonic() >= deadline:
                raise TimeoutError(errno.EAGAIN, "held by another process", str(self.path))
            time.sleep(POLL_INTERVAL)

    def release(self) -> None:
        """Give the lock back; the last release removes the file, *then* unlocks it, so the
        lock is never held by two processes at once."""
        with self._guard:
            if self._fd is None:
                return  # not held (as filelock's release): nothing to give back
            self._depth -= 1
            if self._depth:
                return
            fd, self._fd = self._fd, None
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            os.close(fd)  # closing the last descriptor drops the flock

    @contextlib.contextmanager
    def held(self, timeout: float) -> Iterator[None]:
        """``with lock.held(timeout):`` acquire, run the block, release."""
        self.acquire(timeout)
        try:
            yield
        finally:
            self.release()

    def _try_lock(self) -> int | None:
        """One attempt: the descriptor of the locked file, or ``None`` while someone holds it."""
        import fcntl  # POSIX only: `import harness` must work where it does not exist

        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in _BUSY:
                    return None
                raise
            if _names(self.path, fd):
                return fd
            os.close(fd)  # its holder removed it before we got it: lock the new one


def _names(path: Path, fd: int) -> bool:
    """Whether *path* still names the file open as *fd*."""
    try:
        return os.path.samestat(os.stat(path), os.fstat(fd))
    except FileNotFoundError:
        return False
