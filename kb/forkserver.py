"""The fork server a bulk import's parsing processes come from, and starting it early.

A fork server is a fresh interpreter (started like *spawn*, single-threaded) that imports the parsers
once (``PARSER_MODULES``: about 0.6 CPU-s of imports) and forks each parsing process from itself: a
spawned worker imported them all again, a forked one starts in milliseconds, and none is ever forked
from the importing process, which may run threads (the server does) and could deadlock in a fork.
It stays up for the life of the process that started it, so a server's later imports start their
pools at the cost of a fork.

``start`` lets ``kb import`` begin the fork server's imports before its own (the database stack,
``kb.documents``): both then run at once, on two cores, and the first file is parsed and written
0.4 s sooner (docs/benchmarks.md). So this module imports nothing of kb.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context

PARSER_MODULES = ["kb.documents.bulk", "kb.documents.ingest_pdf", "kb.documents.ingest_html", "pypdf"]
"""What the fork server imports once, before it forks any parsing process."""


def context() -> multiprocessing.context.BaseContext:
    """Where parsing processes come from: the fork server, on platforms that have one, else *spawn*."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    forkserver = multiprocessing.get_context("forkserver")
    forkserver.set_forkserver_preload(PARSER_MODULES)
    return forkserver


def start() -> None:
    """Start the fork server now, if there is one and it is not running: its imports go on in its own
    process while the caller carries on, and the first pool connects to it once they are done."""
    if context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


__all__ = ["PARSER_MODULES", "context", "start"]
