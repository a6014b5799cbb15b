"""Cost of the audit log's Merkle tree and signed tree heads at scale (issue 16).

Builds a log of EVENTS well-formed events in SQLite (rows written in bulk with their real chain hashes:
appending a million events through ``record`` one by one would only measure the append path, which
bench/audit_verify.py already does), then measures, through kb.provenance's public functions:

- the first tree head: every event row read, its leaf hashed, the root computed and the head signed;
- a tree head after one more event (the process's tree is extended by one leaf);
- an inclusion proof of a random event, and a consistency proof from a random older size (median, p99);
- ``check_tree_head``: the full re-read of the log that ``kb audit verify --checkpoint`` does.

Usage: .venv/bin/python bench/merkle_cost.py [EVENTS]   (default 1,000,000; SQLite in a temporary directory)
"""

from __future__ import annotations

import random
import shutil
import statistics
import sys
import tempfile
import time
import resource
from pathlib import Path

from sqlalchemy import text

from kb import provenance
from kb.actors import SYSTEM
from kb.config import Settings
from kb.db import Database, transaction
from kb.migrations import upgrade
from padding import pad_log

events = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
work = Path(tempfile.mkdtemp())
settings = Settings(data_dir=work)
database = Database(settings)
upgrade(database)
start = time.perf_counter()
with database.engine.connect() as connection:
    base = connection.execute(text("SELECT seq FROM audit_head")).scalar_one()
pad_log(database, base + events)
print(f"log of {events:,} events written in {time.perf_counter() - start:.1f} s")

key = settings.signing_key_path
provenance.ensure_signing_key(key)


def timed(fn):  # noqa: ANN001, ANN201
    began = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - began


with database.session() as session:
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    head, first_s = timed(lambda: provenance.sign_tree_head(session, key))
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    size = head["tree_size"]
    print(f"first tree head ({size:,} leaves read, hashed, root, signed): {first_s:.2f} s, "
          f"peak RSS {rss_before / 1024:.0f} -> {rss_after / 1024:.0f} MiB")
with database.session() as session, transaction(session):
    provenance.record(session, SYSTEM, "bench.event", ("bench", "one more"), {})
with database.session() as session:
    later, next_s = timed(lambda: provenance.sign_tree_head(session, key))
    print(f"tree head after one more event: {next_s * 1000:.2f} ms (size {later['tree_size']:,})")
    repeat = [timed(lambda: provenance.sign_tree_head(session, key))[1] for _ in range(200)]
    print(f"tree head, nothing new: median {statistics.median(repeat) * 1000:.2f} ms")

    rng = random.Random(16)
    inclusion = []
    for _ in range(2000):
        seq = rng.randint(1, later["tree_size"])
        proof, seconds = timed(lambda: provenance.inclusion_proof(session, seq))
        inclusion.append(seconds)
    consistency = []
    for _ in range(2000):
        old = rng.randint(1, later["tree_size"])
        _p, seconds = timed(lambda: provenance.consistency_proof(session, old))
        consistency.append(seconds)
    for name, samples in (("inclusion proof", inclusion), ("consistency proof", consistency)):
        samples.sort()
        print(f"{name} at {later['tree_size']:,} events (2,000 random, incl. reading the head row): "
              f"median {statistics.median(samples) * 1000:.3f} ms, p99 {samples[int(len(samples) * 0.99)] * 1000:.3f} ms, "
              f"max {samples[-1] * 1000:.3f} ms")
    check, check_s = timed(lambda: provenance.check_tree_head(session, head, signing_key=key, trusted_keys=[]))
    assert check.ok and check.uncovered == 1
    print(f"check_tree_head (kb audit verify --checkpoint: re-read and re-hash {size:,} events): {check_s:.2f} s")
database.dispose()
shutil.rmtree(work)
