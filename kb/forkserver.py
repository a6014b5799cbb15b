"""The fork server a bulk import's parsing processes come from, and starting it early.

A fork server is a fresh interpreter (started like *spawn*, single-threaded) that imports the parsers
once (``PARSER_MODULES``: about 0.6 CPU-s of imports) and forks each parsing process from itself: a
spawned worker imported them all again, a forked one starts in milliseconds, and none is ever forked
from the importing process, which may run threads (the server does) and could deadlock in a fork.
It stays up for the life of the process that started it, so a server's later imports start their
pools at the cost of a fork.

``start`` lets ``kb import`` begin the fork server's imports before its own (the database stack,
``kb.documents``): both then run at once, on two cores, and the first file is parsed and written
about 0.5 s sooner (bench/import_start.py, docs/benchmarks.md). So this module imports nothing of kb.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
from collections.abc import Iterable
from pathlib import Path

POOL_MIN_FILES = 16
"""Below this many files to parse a batch is parsed in the calling process: starting workers costs more."""
INLINE_SUFFIXES = frozenset({".md", ".markdown", ".txt"})
"""Files a bulk import parses in its own process even in a pool's batch: reading Markdown or text costs
microseconds, less than sending the bytes to a worker and back (1,000 of SciFact's Markdown files with
``--submit``: 14.0 CPU-s with two parsing processes, 11.5 with these parsed in the importing process; issue
19). PDF, .docx and HTML go to the pool; a batch of these alone needs no fork server."""
PARSER_MODULES = ["kb.documents.bulk", "kb.documents.ingest_pdf", "kb.documents.ingest_html", "pypdf"]
"""What the fork server imports once, before it forks any parsing process."""


def context() -> multiprocessing.context.BaseContext:
    """Where parsing processes come from: the fork server, on platforms that have one, else *spawn*."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    server = multiprocessing.get_context("forkserver")
    server.set_forkserver_preload(PARSER_MODULES)
    return server


def may_need_pool(paths: Iterable[Path]) -> bool:
    """Whether a bulk import of ``paths`` may parse in a pool: a folder or a zip (what they hold is not
    known yet), or at least ``POOL_MIN_FILES`` files that are not parsed in process (``INLINE_SUFFIXES``)."""
    to_pool = 0
    for path in paths:
        if path.is_dir() or path.suffix.lower() == ".zip":
            return True
        to_pool += path.suffix.lower() not in INLINE_SUFFIXES
    return to_pool >= POOL_MIN_FILES


def start() -> None:
    """Start the fork server now, if there is one and it is not running: its imports go on in its own
    process while the caller carries on, and the first pool connects to it once they are done."""
    if context().get_start_method() == "forkserver":
        from multiprocessing.forkserver import ensure_running

        ensure_running()


__all__ = ["INLINE_SUFFIXES", "PARSER_MODULES", "POOL_MIN_FILES", "context", "may_need_pool", "start"]
