"""An approval's own encoding before a bulk import's next file: a gate between the processes of one machine.

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

An import never waits long: at most ``PATIENCE_SECONDS`` at a time, and after a wait that ran that long
it does not wait again for as long, so that a catch-up that encodes for minutes (a new model re-encoding
a corpus in a rebuild) leaves the import at least half the time. Processes on other machines (sharing a
PostgreSQL database) do not see each other's gate, as they do not share cores; a data directory the
process cannot write leaves it without a gate, as before.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kb.config import Settings

log = logging.getLogger(__name__)

GATE_FILE = "encoding-first.lock"
"""The gate's file in the data directory."""
PATIENCE_SECONDS = 15.0
"""The longest a bulk import waits before one file; after such a wait it does not wait again for as long."""
POLL_SECONDS = 0.01
"""How often a waiting import looks at the gate again."""
HOLD_PATIENCE_SECONDS = 1.0
"""How long a catch-up tries for its shared hold (the import holds it exclusive for microseconds) before it
encodes without it."""


class EncodingFirst:
    """The gate of one data directory (``of``); each call opens the file anew, so threads never share a lock."""

    def __init__(self, path: Path, *, patience: float = PATIENCE_SECONDS) -> None:
        self.path = path
        self.patience = patience
        self._not_before = 0.0
        self.waits = 0
        """Files before which this importer found the gate held and waited (tests and logs count them)."""

    @classmethod
    def of(cls, settings: Settings) -> "EncodingFirst":
        return cls(settings.data_dir / GATE_FILE)

    def _open(self) -> int | None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            log.debug("No encoding gate at %s (%s): nothing waits for encoding", self.path, exc)
            return None

    @contextmanager
    def encoding(self) -> Iterator[None]:
        """Held while a catch-up encodes passages that an approval waits for: no bulk import starts a file meanwhile."""
        fd = self._open()
        try:
            if fd is not None:
                deadline = time.monotonic() + HOLD_PATIENCE_SECONDS
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() >= deadline:
                            break  # an importer stopped while it looked (Ctrl-Z): encode without the gate
                        time.sleep(0.001)
            yield
        finally:
            if fd is not None:
                os.close(fd)  # releases the hold

    def before_next_file(self) -> None:
        """Wait while a catch-up encodes (``encoding``), at most ``patience`` seconds; after a wait that long,
        do not wait again for ``patience`` seconds."""
        if time.monotonic() < self._not_before:
            return
        fd = self._open()
        if fd is None:
            return
        try:
            started = None
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return
                except BlockingIOError:
                    pass
                now = time.monotonic()
                if started is None:
                    started = now
                    self.waits += 1
                elif now - started >= self.patience:
                    self._not_before = now + self.patience
                    log.info("A catch-up has encoded for %.0f s: the bulk import goes on beside it for %.0f s",
                             now - started, self.patience)
                    return
                time.sleep(POLL_SECONDS)
        finally:
            os.close(fd)  # releases the instant's exclusive hold


__all__ = ["GATE_FILE", "PATIENCE_SECONDS", "EncodingFirst"]
