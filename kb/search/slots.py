"""Index slots: each process's own directory of search indexes, claimed with a kernel lock.

Every process claims a *slot* directory under ``KB_INDEX_DIR`` (``slot-0``, ``slot-1``, …) with an
exclusive ``flock`` that the kernel drops when the process ends, kill -9 included; ``kb reindex``
asks the holder of a busy slot to rebuild it through a request file. Owns the slot names, the lock
and the rebuild request; knows nothing of what the indexes hold (``kb.search.indexer``). Imports
nothing from kb.
"""

from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path

REBUILD_REQUEST = "rebuild-requested"
SLOT_NAME = re.compile(r"^slot-(\d+)$")
LOCK_FILE = "lock"


class SlotInUse(Exception):
    """Another running process holds this index slot."""


class SlotLock:
    """An exclusive ``flock`` on a slot's lock file, held for as long as a process uses the slot.

    The kernel releases it when the process exits, however it exits (kill -9 included), so a crash
    never leaves a slot claimed. Written with ``fcntl`` rather than the filelock package, whose
    version 4 removes the lock file on release and may fall back to soft (file-exists) locks: a
    lock that survived a kill -9 would keep the slot from its restarted process.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @staticmethod
    def in_use(path: Path) -> bool:
        """Whether a running process holds the lock at ``path`` (tested by trying to take it)."""
        if not path.exists():
            return False
        probe = SlotLock(path)
        if probe.try_acquire():
            probe.release()
            return False
        return True


def slot_dirs(root: Path) -> list[Path]:
    """The slot directories under an index root, in slot order."""
    if not root.exists():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := SLOT_NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def slot_in_use(slot: Path) -> bool:
    return SlotLock.in_use(slot / LOCK_FILE)


def rebuild_pending(slot: Path) -> bool:
    """Whether ``kb reindex`` asked the process holding ``slot`` to rebuild it, and it has not yet."""
    return (slot / REBUILD_REQUEST).exists()


def request_rebuild(slot: Path) -> None:
    """Ask the process that holds ``slot`` to rebuild its indexes (its catch-up loop does it)."""
    (slot / REBUILD_REQUEST).write_text("1\n", encoding="utf-8")


def claim_free_slot(root: Path) -> tuple[Path, SlotLock]:
    """Claim the first slot under ``root`` that no running process holds (a new one when all are held).

    Returns:
        The slot directory and its lock, held until released or the process ends.
    """
    root.mkdir(parents=True, exist_ok=True)
    number = 0
    while True:
        slot = root / f"slot-{number}"
        slot.mkdir(exist_ok=True)
        lock = SlotLock(slot / LOCK_FILE)
        if lock.try_acquire():
            return slot, lock
        number += 1
