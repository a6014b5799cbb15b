"""Search's start-up: the models and indexes load in a background thread, and say when search is ready.

Issue 17: the first search after a start took 9.6 s, because the sentence model, its ONNX export and
the faiss index loaded on first use. ``Warmup`` loads them as soon as the app starts, off the request
path; ``/api/v1/health`` reports its ``status`` (``loading``, ``ready``, ``failed``). A search that
arrives while it runs waits on the load already under way (the encoders load under a lock,
``SearchIndexes`` builds each component once under its own), never starts a second one.

Imports nothing heavy itself (the components import torch and faiss lazily): ``kb --help`` stays
fast. Must not import FastAPI.
"""

from __future__ import annotations

import logging
import threading
import time

from kb.search.indexer import SearchIndexes

log = logging.getLogger("kb.search")

LOADING = "loading"
READY = "ready"
FAILED = "failed"


class Warmup:
    """Loads ``indexes``' encoders and vector indexes once, in a daemon thread started by ``start``."""

    def __init__(self, indexes: SearchIndexes) -> None:
        self.indexes = indexes
        self.status = LOADING
        self.seconds: float | None = None
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="kb-search-warmup", daemon=True)
            self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the load has finished (ready or failed); False when ``timeout`` ran out first."""
        return self._done.wait(timeout)

    def _run(self) -> None:
        started = time.perf_counter()
        try:
            self.indexes.warm()
            self.status = READY
        except Exception:  # noqa: BLE001  (search reports it; the first query will raise the real error)
            log.exception("Search could not load its models at start-up")
            self.status = FAILED
        finally:
            self.seconds = round(time.perf_counter() - started, 3)
            self._done.set()
            log.info("search %s after %.1f s", self.status, self.seconds)
