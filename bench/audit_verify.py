"""Audit chain append and verification throughput, and tamper detection on a copy (RELIABILITY T6).

The log is a realistic mix: each version of 5,000 documents goes through two edits, a submission
and an approval (each carrying its ``served`` commitment since issue 16; the approval also the
superseded version's), interleaved with four social events that commit to nothing (rating,
comment, session, feedback). ``--worst`` makes every event a new version's commitment, so that the
replay has nothing to skip.
Verification is timed as ``kb audit verify --checkpoint`` reads the log (``provenance.audit_log``):
the chain, each event's MAC, each leaf into the Merkle tree whose root is compared with the signed
head's, and the replay of the commitments, in two processes at once as the CLI runs it
(``kb.provenance.parallel``) and in one pass as the server does; and the chain alone, for comparison.

Usage: .venv/bin/python bench/audit_verify.py [EVENTS] [--worst]   (SQLite in a temporary directory)
"""

from __future__ import annotations

import shutil
import sys
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from kb import provenance
from kb.actors import SYSTEM
from kb.config import Settings
from kb.db import Database, transaction
from kb.migrations import upgrade

events = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 100_000
worst = "--worst" in sys.argv  # every event a new version's commitment: nothing for the lazy replay to skip
DOCUMENTS = 5000
STEPS = ("version.edit", "version.edit", "version.submit", "version.approve",
         "rating.set", "comment.create", "session.create", "feedback.create")


def commitment(version: int, state: str) -> dict:
    return {"version": version, "state": state, "body_sha256": "a" * 64, "provenance_sha256": "b" * 64,
            "author": 7, "approver": 9 if state in ("approved", "superseded") else None}


def with_document(payload: dict) -> dict:
    """A document event's payload also commits to the document (space, owner, served version)."""
    return {**payload, "document": {"space": 1, "owner": 9, "current_version_id": None, "translation_of": None}}


def event(i: int) -> tuple[str, str, dict]:
    """The i-th event: worst case, or a version's life (two edits, submit, approve) among social events."""
    if worst:
        version = i // DOCUMENTS + 1
        return "version.edit", f"doc-{i % DOCUMENTS}", with_document({"version": version,
                                                                      "served": [commitment(version, "draft")]})
    step, cycle = STEPS[i % len(STEPS)], i // len(STEPS)
    document, version = f"doc-{cycle % DOCUMENTS}", cycle // DOCUMENTS + 1
    if step == "version.edit":
        return step, document, with_document({"version": version, "changed": ["body_md"],
                                              "served": [commitment(version, "draft")]})
    if step == "version.submit":
        return step, document, with_document({"version": version, "intended_use": "x" * 40,
                                              "served": [commitment(version, "in_review")]})
    if step == "version.approve":
        served = [commitment(version, "approved")] + ([commitment(version - 1, "superseded")] if version > 1 else [])
        return step, document, with_document({"version": version, "superseded": version - 1 or None, "served": served})
    return step, document, {"stars": 4, "note": "x" * 40}


work = Path(tempfile.mkdtemp())
database = Database(Settings(data_dir=work))
upgrade(database)
start = time.perf_counter()
with database.session() as session:
    for batch in range(0, events, 1000):
        with transaction(session):
            for i in range(batch, min(batch + 1000, events)):
                action, document, payload = event(i)
                provenance.record(session, SYSTEM, action, ("document", document), payload)
append_s = time.perf_counter() - start
key = work / "signing-key.pem"
provenance.ensure_signing_key(key)
with database.session() as session:
    point = provenance.write_checkpoint(session, work / "checkpoint.json", signing_key=key)
    start = time.perf_counter()
    result = provenance.verify_chain(session, point)
    chain_s = time.perf_counter() - start
    runs: dict[bool, list[float]] = {True: [], False: []}
    cpu_runs: list[float] = []
    for _ in range(5):  # the median of five, alternating: these machines are noisy
        for two_parts in (True, False):
            start, start_cpu = time.perf_counter(), time.process_time()
            # what `kb audit verify --checkpoint` reads: on two cores (the CLI), and in one pass (the server)
            audit = provenance.audit_log(session, point, signing_key=key, parallel=two_parts)
            runs[two_parts].append(time.perf_counter() - start)
            if not two_parts:
                cpu_runs.append(time.process_time() - start_cpu)
    verify_s, one_pass_s = statistics.median(runs[True]), statistics.median(runs[False])
    one_pass_cpu_s = statistics.median(cpu_runs)
assert result.ok and result.count == events and audit.chain.ok and audit.head is not None and audit.head.ok
expected = events if worst else len({(document, p["version"]) for document, p in
                                    (event(i)[1:] for i in range(events)) if "served" in p})
assert len(audit.state.versions) == expected  # every (document, version) committed to, found by the replay
database.dispose()

mutations = {
    "edit": ["UPDATE audit_event SET payload = '{{}}' WHERE seq = {k}"],
    "delete": ["DELETE FROM audit_event WHERE seq = {k}"],
    "swap": ["UPDATE audit_event SET object_id = (SELECT object_id FROM audit_event WHERE seq = {k1}) WHERE seq = {k}"],
    "insert": ["INSERT INTO audit_event (seq, at, actor_id, actor_name, channel, action, object_type, object_id, payload, "
               "prev_hash, hash) SELECT {n1}, at, actor_id, actor_name, channel, action, object_type, object_id, payload, hash, hash "
               "FROM audit_event WHERE seq = {n}"],
    "truncate": ["DELETE FROM audit_event WHERE seq > {k}",
                 "UPDATE audit_head SET seq = {k}, hash = (SELECT hash FROM audit_event WHERE seq = {k})"],
}
detected = {}
for name, statements in mutations.items():
    copy = work / f"copy-{name}"
    copy.mkdir()
    shutil.copy(work / "kb.sqlite3", copy / "kb.sqlite3")
    tampered = Database(Settings(data_dir=copy))
    k = events // 2
    with tampered.engine.begin() as connection:
        connection.execute(text("DROP TRIGGER audit_event_no_update"))
        connection.execute(text("DROP TRIGGER audit_event_no_delete"))
        for statement in statements:
            connection.execute(text(statement.format(k=k, k1=k + 1, n=events, n1=events + 1)))
    with tampered.session() as session:
        plain = provenance.verify_chain(session)
        with_checkpoint = provenance.verify_chain(session, point)
    detected[name] = (not plain.ok, not with_checkpoint.ok, with_checkpoint.first_bad_seq)
    tampered.dispose()
shutil.rmtree(work)
print(f"audit events={events} append_per_s={events / append_s:,.0f} verify_per_s={events / verify_s:,.0f} "
      f"(two processes, as the CLI; median of 5) one_pass_per_s={events / one_pass_s:,.0f} (as the server; per CPU "
      f"second {events / one_pass_cpu_s:,.0f}) "
      f"(chain, Merkle root against the signed head and commitments replay in one pass; chain alone "
      f"{events / chain_s:,.0f}/s)")
for name, (plain, checkpointed, seq) in detected.items():
    print(f"tamper {name}: detected_by_chain={plain} detected_with_checkpoint={checkpointed} first_bad_seq={seq}")
