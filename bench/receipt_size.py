"""Size of a public document's receipt at scale (issue 16: "a receipt <= 2 KB at 1,000,000 events").

Loads the demo content (``kb demo``: real documents, approved through the actions, so each public
version has its real ``version.publish`` event), pads the log with well-formed events written in bulk
(as bench/merkle_cost.py does) up to EVENTS, then fetches every public document's receipt through the
HTTP route, exactly as served, and prints its size in bytes with the share of each member. The
publication events come first in the log, so at 1,000,000 events their inclusion proofs have 20 nodes,
the most a tree of that size needs. Each receipt is also checked with ``kb.provenance.verify_receipt``.

Then the worst case the formats allow, at EVENTS and at 16,777,216 events (24 proof nodes): a
``version.publish`` event with a 120-character document slug, a 64-character space slug, both
validity dates, second_review false, and seq, version and approval_seq as long as the log allows,
at the last leaf whose proof is the longest; built with ``receipts.build`` and a throwaway key,
encoded as the route encodes (compact JSON, UTF-8, checked against the served receipts), verified.

Usage: .venv/bin/python bench/receipt_size.py [EVENTS]   (default 1,000,000; SQLite in a temporary directory)
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from kb import provenance  # noqa: E402
from kb.app import create_app  # noqa: E402
from kb.config import Settings  # noqa: E402
from kb.db import Database  # noqa: E402
from kb.fixtures import load_demo  # noqa: E402
from kb.migrations import upgrade  # noqa: E402
from kb.provenance import merkle, receipts  # noqa: E402
from kb.provenance.chain import canonical_envelope, canonical_json  # noqa: E402
from padding import pad_log  # noqa: E402
from kb.provenance.transparency import raw_public_key, signed_bytes  # noqa: E402

events = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
work = Path(tempfile.mkdtemp())
settings = Settings(data_dir=work, keyword_engine="whoosh", public_multilingual=False)
database = Database(settings)
upgrade(database)
load_demo(database)
start = time.perf_counter()
base = pad_log(database, events)
print(f"log of {max(events, base):,} events ({base:,} from kb demo) written in {time.perf_counter() - start:.1f} s")



def _compact(value: object) -> bytes:
    """The route's encoding (Starlette's JSONResponse): compact JSON, non-ASCII as UTF-8."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _nodes(receipt: dict) -> int:
    return len(base64.b64decode(receipt["proof"])) // 32


with TestClient(create_app(settings, database=database)) as client:
    fingerprint = client.get("/public/v1/transparency/tree-head").json()["key_id"]
    with database.session() as session:
        slugs = sorted({event.object_id for event in provenance.list_events(
            session, action="version.publish", object_type="document", limit=10_000)})
    sizes = []
    for slug in slugs:
        response = client.get(f"/public/v1/documents/{slug}/receipt")
        if response.status_code != 200:
            continue  # published once, no longer public (retired, expired, superseded by an internal version)
        served = response.content
        check = provenance.verify_receipt(served, [fingerprint])
        assert check.ok and check.key_trusted, check.problems
        receipt = json.loads(served)
        assert _compact(receipt) == served, "the worst case below is encoded as the route encodes"
        parts = {name: len(_compact(value)) for name, value in receipt.items()}
        sizes.append(len(served))
        print(f"{slug}: {len(served):,} bytes, tree {receipt['tree_head']['tree_size']:,}, "
              f"{_nodes(receipt)} proof nodes, slug {len(slug)} chars; "
              + ", ".join(f"{name} {size}" for name, size in parts.items()))
print(f"receipts of {len(sizes)} public documents at {max(events, base):,} events: min {min(sizes):,}, "
      f"median {statistics.median_low(sizes):,}, max {max(sizes):,} bytes (limit 2,000; 2 KB = 2,048)")


def _path_length(index: int, size: int) -> int:
    """Nodes of PATH(index, D[size]) (RFC 9162 2.1.3.1)."""
    length = 0
    while size > 1:
        split = 1 << (size - 1).bit_length() - 1
        index, size = (index, split) if index < split else (index - split, size - split)
        length += 1
    return length


def worst_case(size: int) -> tuple[int, int, int]:
    """(bytes, proof nodes, seq) of the largest receipt of a publication in a log of ``size`` events."""
    # the last leaf whose path is the longest a tree of this size has (ceil(log2 size) nodes): longest proof, longest seq
    index = next(i for i in range(size - 1, -1, -1) if _path_length(i, size) == (size - 1).bit_length())
    seq = index + 1
    payload = canonical_json({"version": seq - 1, "space": "s" * 64, "body_sha256": "b" * 64, "provenance_sha256": "p" * 64,
                              "second_review": False, "valid_from": "2026-12-05", "valid_until": "2099-12-31",
                              "approval_seq": seq - 1})
    leaf = canonical_envelope(seq=seq, at="2026-12-05T08:00:02.000001Z", actor_id=None, actor_name="system",
                              action="version.publish", object_type="document", object_id="d" * 120, payload=payload,
                              prev_hash="a" * 64, channel="system").encode("utf-8")
    proof = [hashlib.sha256(bytes([i])).digest() for i in range(_path_length(index, size))]
    root = merkle.root_from_inclusion_proof(index, size, merkle.leaf_hash(leaf), proof)
    assert root is not None
    key = Ed25519PrivateKey.generate()
    head = {"tree_size": size, "root_hash": root.hex(), "timestamp": "2026-12-05T08:00:05.000000Z",
            "key_id": hashlib.sha256(raw_public_key(key)).hexdigest()}
    head.update(signature=key.sign(signed_bytes(head)).hex(), public_key=raw_public_key(key).hex())
    receipt = receipts.build(leaf=leaf, proof=proof, head=head)
    check = receipts.verify(_compact(receipt), [head["key_id"]])
    assert check.ok and check.key_trusted, check.problems
    return len(_compact(receipt)), len(proof), seq


for size in sorted({max(events, base), 1_000_000, 16_777_216}):
    worst, nodes, seq = worst_case(size)
    print(f"worst case at {size:,} events: {worst:,} bytes ({nodes} proof nodes, seq {seq:,}, document slug 120 and "
          f"space slug 64 characters, version and approval_seq {seq - 1:,})")
database.dispose()
shutil.rmtree(work)
