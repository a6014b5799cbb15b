"""An approval's own encoding before a bulk import's next file: a gate between the processes of one data directory.

While a bulk import runs, its process and its parsers share the two cores with the server's encoder, and
the kernel shares the CPU between sessions, not between processes (``sched_autogroup``; a lower niceness
does not reach across them, docs/benchmarks.md): a catch-up that must encode an approved version's
passages itself (approved before the worker encoded them ahead) gets about one core of the two, and a
100-passage document approved the moment it was submitted took 7–18 s to become searchable (issue 19).

The gate is a file in the data directory (``GATE_FILE``) locked with ``flock``:

- a catch-up holds it *shared* while it encodes passages an approval waits for (``encoding``; several
  processes may at once);
- a bulk import, before each file, takes it *exclusive* for an instant (``before_next_file``), so it
  waits while any catch-up encodes, and that encoding has the cores.

An import never waits long: its waits add up to at most ``PATIENCE_SECONDS`` more than the time it has
run since it started, so over a long import, catch-ups that encode for minutes, or one after another,
leave it about half the time or more, and approvals that come now and then each have the cores (bar
the few files already in its parsing processes). A rebuild's encoding (``kb reindex``, a new slot) holds
no gate: no approval waits for it. The gate is the data directory's (``KB_DATA_DIR``): processes with another data directory,
or on another machine sharing a PostgreSQL database, do not see it (their cores are not shared either);
a gate file that cannot be opened leaves the process without a gate, as before, with one warning.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from kb.config import Settings
from kb.db import flock_within

log = logging.getLogger(__name__)

GATE_FILE = "encoding-first.lock"
"""The gate's file in the data directory."""
PATIENCE_SECONDS = 15.0
"""The longest a bulk import waits at once, and how much its waits may exceed the time it has run."""
POLL_SECONDS = 0.01
"""How often a waiting import looks at the gate again."""
HOLD_PATIENCE_SECONDS = 1.0
"""How long a catch-up tries for its shared hold (the import holds it exclusive for microseconds) before it
encodes without it."""


class EncodingFirst:
    """The gate of one data directory (``of``); each call opens the file anew, so threads never share a lock."""

    def __init__(self, path: Path, *, patience: float = PATIENCE_SECONDS, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.path = path
        self.patience = patience
        self._clock, self._sleep = clock, sleep
        self._credit = patience  # how long this importer may still wait: less each wait, more as it runs, at most patience
        self._since = clock()  # when it last stopped waiting (or was made)
        self._warned = False
        self.waits = 0
        """Files before which this importer found the gate held and waited (tests and logs count them)."""

    @classmethod
    def of(cls, settings: Settings) -> "EncodingFirst":
        return cls(settings.data_dir / GATE_FILE)

    def _open(self) -> int | None:
        """A new descriptor of the gate's file (read-only: ``flock`` needs no more, and a server and an operator's
        ``kb import`` may run as different users), or None when it cannot be opened."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDONLY | os.O_CREAT, 0o644)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning("No encoding gate at %s (%s): bulk imports do not wait for approvals' encoding", self.path, exc)
            return None

    @staticmethod
    def _close(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)  # now, even if a forked child holds a copy of the descriptor
        os.close(fd)

    @contextmanager
    def encoding(self) -> Iterator[None]:
        """Held while a catch-up encodes passages that an approval waits for: no bulk import starts a file meanwhile."""
        fd = self._open()
        try:
            if fd is not None and not flock_within(fd, fcntl.LOCK_SH, HOLD_PATIENCE_SECONDS):
                # an importer stopped while it looked (Ctrl-Z)
                log.info("The encoding gate %s stayed taken for %.0f s: encoding without it", self.path, HOLD_PATIENCE_SECONDS)
            yield
        finally:
            if fd is not None:
                self._close(fd)

    def before_next_file(self) -> None:
        """Wait while a catch-up encodes (``encoding``), as long as this importer's credit allows: ``patience`` at
        first, less each wait, more by the time it ran since its last wait, never more than ``patience``."""
        now = self._clock()
        budget = self._credit = min(self.patience, self._credit + (now - self._since))
        self._since = now
        if budget <= 0:
            return
        fd = self._open()
        if fd is None:
            return
        started: list[float] = []

        def waiting() -> None:
            started.append(self._clock())
            self.waits += 1

        try:
            if not flock_within(fd, fcntl.LOCK_EX, budget, on_wait=waiting, poll=POLL_SECONDS, clock=self._clock,
                                sleep=self._sleep):
                log.info("Waited %.0f s for a catch-up's encoding: the bulk import goes on beside it", self._clock() - started[0])
        finally:
            self._close(fd)
            if started:  # the wait, to this moment; a process stopped meanwhile (Ctrl-Z) owes one look at most
                self._since = self._clock()
                self._credit = max(self._credit - (self._since - started[0]), -POLL_SECONDS)


__all__ = ["GATE_FILE", "PATIENCE_SECONDS", "EncodingFirst"]
