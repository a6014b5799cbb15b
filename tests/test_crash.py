"""Crash safety (RELIABILITY T4), the small version: kill -9 a writer mid-ingest a few times, lose nothing.

The full run (20 rounds on SQLite and PostgreSQL, writer or ``kb serve`` killed) is
``bench/crash_ingest.py``; its figures are in docs/reliability.md.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "crash_ingest.py"


def crash_ingest():  # noqa: ANN201
    spec = importlib.util.spec_from_file_location("crash_ingest", BENCH)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["crash_ingest"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.mark.slow
def test_kill_9_during_ingest_loses_nothing_acknowledged(settings, database, backend, tmp_path) -> None:  # noqa: ANN001
    if backend != "sqlite":
        pytest.skip("kept to SQLite for time; bench/crash_ingest.py runs PostgreSQL (docs/reliability.md)")
    # each round: the writer starts (torch and the model load), ingests at least one document, and is
    # killed 0-1.5 s later, mid-transaction or mid-index-write
    outcome = crash_ingest().run(settings, rounds=3, mode="writer", min_s=0.0, max_s=1.5, seed=7, work=tmp_path,
                                 after_ack=True)
    assert outcome.rounds == 3 and len(outcome.acknowledged) >= 3
    assert outcome.lost == 0 and outcome.not_approved == 0
    assert outcome.audit_ok, outcome.audit_line
    assert outcome.index_equal, outcome.drift
    assert outcome.faiss_ntotal == outcome.indexed_chunks == outcome.approved_chunks > 0
    assert outcome.slots == {"slot-0"}  # every restart got the killed writer's slot back
