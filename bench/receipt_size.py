"""Size of a public document's receipt at scale (issue 16: "a receipt <= 2 KB at 1,000,000 events").

Loads the demo content (``kb demo``: real documents, approved through the actions, so each public
version has its real ``version.publish`` event), pads the log with well-formed events written in bulk
(as bench/merkle_cost.py does) up to EVENTS, then fetches every public document's receipt through the
HTTP route, exactly as served, and prints its size in bytes with the share of each member. The
publication events come first in the log, so at 1,000,000 events their inclusion proofs have 20 nodes,
the most a tree of that size needs. Each receipt is also checked with ``kb.provenance.verify_receipt``.
Then, for the decision the 2 KB budget asks for, what the same receipts would weigh in more compact
encodings (nothing serves those).

Usage: .venv/bin/python bench/receipt_size.py [EVENTS]   (default 1,000,000; SQLite in a temporary directory)
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from fastapi.testclient import TestClient  # noqa: E402

from kb import provenance  # noqa: E402
from kb.app import create_app  # noqa: E402
from kb.config import Settings  # noqa: E402
from kb.db import Database  # noqa: E402
from kb.fixtures import load_demo  # noqa: E402
from kb.migrations import upgrade  # noqa: E402
from kb.provenance.chain import canonical_json, event_hash  # noqa: E402

events = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
work = Path(tempfile.mkdtemp())
settings = Settings(data_dir=work, keyword_engine="whoosh", public_multilingual=False)
database = Database(settings)
upgrade(database)
load_demo(database)
start = time.perf_counter()
with database.engine.begin() as connection:
    prev = connection.execute(text("SELECT hash FROM audit_head")).scalar_one()
    base = connection.execute(text("SELECT seq FROM audit_head")).scalar_one()
    rows = []
    for seq in range(base + 1, events + 1):
        at = f"2026-12-05T08:{(seq // 60_000) % 60:02d}:{(seq // 1000) % 60:02d}.{seq % 1_000_000:06d}Z"
        payload = canonical_json({"i": seq, "note": "x" * 40})
        digest = event_hash(seq=seq, at=at, actor_id=None, actor_name="system", action="bench.event",
                            object_type="bench", object_id=str(seq), payload=payload, prev_hash=prev)
        rows.append({"seq": seq, "at": at, "actor_name": "system", "action": "bench.event", "object_type": "bench",
                     "object_id": str(seq), "payload": payload, "prev_hash": prev, "hash": digest})
        prev = digest
        if len(rows) == 50_000:
            connection.execute(text("INSERT INTO audit_event (seq, at, actor_id, actor_name, action, object_type, "
                                    "object_id, payload, prev_hash, hash) VALUES (:seq, :at, NULL, :actor_name, "
                                    ":action, :object_type, :object_id, :payload, :prev_hash, :hash)"), rows)
            rows = []
    if rows:
        connection.execute(text("INSERT INTO audit_event (seq, at, actor_id, actor_name, action, object_type, "
                                "object_id, payload, prev_hash, hash) VALUES (:seq, :at, NULL, :actor_name, "
                                ":action, :object_type, :object_id, :payload, :prev_hash, :hash)"), rows)
    connection.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": max(events, base), "h": prev})
print(f"log of {max(events, base):,} events ({base:,} from kb demo) written in {time.perf_counter() - start:.1f} s")



def _size(value: object) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _compact_sizes(receipt: dict) -> dict[str, int]:
    """What the same receipt would weigh in other encodings (not served: what the 2 KB budget would take)."""
    head = receipt["tree_head"]
    b64 = {name: base64.b64encode(bytes.fromhex(head[name])).decode() for name in ("root_hash", "key_id", "signature",
                                                                                   "public_key")}
    all_base64 = {**receipt, "tree_head": {**head, **b64}}
    derived = {"receipt": receipt["receipt"], "event": receipt["event"], "inclusion_proof": receipt["inclusion_proof"],
               "tree_head": {"tree_size": head["tree_size"], "timestamp": head["timestamp"],
                             "signature": b64["signature"], "public_key": b64["public_key"]}}
    packed = {**derived, "inclusion_proof": base64.b64encode(
        b"".join(base64.b64decode(node) for node in receipt["inclusion_proof"])).decode()}
    return {"the head's hashes and signature were base64 too": _size(all_base64),
            "root_hash, key_id, algorithm and leaf_index were left to the verifier (recomputed), base64 head": _size(derived),
            "... and the proof one base64 string": _size(packed)}


with TestClient(create_app(settings, database=database)) as client:
    fingerprint = client.get("/public/v1/transparency/tree-head").json()["key_id"]
    with database.session() as session:
        slugs = sorted({event.object_id for event in provenance.list_events(
            session, action="version.publish", object_type="document", limit=10_000)})
    sizes, compact = [], []
    for slug in slugs:
        response = client.get(f"/public/v1/documents/{slug}/receipt")
        if response.status_code != 200:
            continue  # published once, no longer public (retired, expired, superseded by an internal version)
        served = response.content
        check = provenance.verify_receipt(served, [fingerprint])
        assert check.ok and check.key_trusted, check.problems
        receipt = json.loads(served)
        parts = {name: len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
                 for name, value in receipt.items()}
        sizes.append(len(served))
        compact.append(_compact_sizes(receipt))
        print(f"{slug}: {len(served):,} bytes, tree {receipt['tree_head']['tree_size']:,}, "
              f"{len(receipt['inclusion_proof'])} proof nodes, title {len(check.title or '')} chars; "
              + ", ".join(f"{name} {size}" for name, size in parts.items()))
for name in compact[0]:
    print(f"if {name}: max {max(sizes[name] for sizes in compact):,} bytes")
print(f"receipts of {len(sizes)} public documents at {max(events, base):,} events: "
      f"min {min(sizes):,}, max {max(sizes):,} bytes (2 KB = 2,048)")
database.dispose()
shutil.rmtree(work)
