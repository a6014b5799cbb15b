"""Receipts for citizens (issue 16): every public document's receipt verifies offline, with `kb verify-receipt`
and with an outsider's re-implementation of docs/transparency.md (SHA-256 and Ed25519 only); a receipt with one
changed byte anywhere fails; anything not public is the public document's own 404; the proof endpoints verify."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from typer.testing import CliRunner

from kb import provenance
from kb.db import Database
from kb.provenance import merkle
from tests.factories import make_document

runner = CliRunner()
DOCS = Path(__file__).resolve().parent.parent / "docs/transparency.md"


def invoke(*args: str):  # noqa: ANN201
    from kb.cli import app

    return runner.invoke(app, list(args), catch_exceptions=False)


# --- what a journalist re-implements from docs/transparency.md, "Receipts" ----------------------------------

def outsider_check(receipt: dict, fingerprint: str) -> dict:
    """The algorithm of docs/transparency.md, section "Receipts", with hashlib and an Ed25519 library only."""
    assert set(receipt) == {"receipt", "event", "proof", "tree_head"}
    leaf = receipt["event"].encode("utf-8")
    event = json.loads(receipt["event"])
    r = hashlib.sha256(b"\x00" + leaf).digest()
    head = receipt["tree_head"]
    proof = base64.b64decode(receipt["proof"], validate=True)
    assert len(proof) % 32 == 0
    fn, sn = event["seq"] - 1, head["tree_size"] - 1
    assert 0 <= fn <= sn
    for at in range(0, len(proof), 32):
        p = proof[at:at + 32]
        assert sn > 0
        if fn % 2 == 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn, sn = fn >> 1, sn >> 1
    assert sn == 0
    public = base64.b64decode(head["public_key"], validate=True)
    key = hashlib.sha256(public).hexdigest()
    assert key == fingerprint
    message = (f'{{"key_id":"{key}","root_hash":"{r.hex()}",'
               f'"timestamp":"{head["timestamp"]}","tree_size":{head["tree_size"]}}}').encode("utf-8")
    Ed25519PublicKey.from_public_bytes(public).verify(base64.b64decode(head["signature"]), message)  # raises if not
    assert event["action"] == "version.publish"
    return {"document": event["object_id"], "root_hash": r.hex(), **json.loads(event["payload"])}


# --- fixtures -------------------------------------------------------------------------------------------------

@pytest.fixture
def corpus(database: Database, cast, client):  # noqa: ANN001, ANN201
    """child-benefit (public, via the API), housing-allowance (public), and internal, draft and expired pages."""
    make_document(database, cast, slug="housing-allowance", state="approved", title="Housing allowance",
                  body="# Housing allowance\n\nRent help for tenants: apply at the counter. Ünïcode too.")
    make_document(database, cast, slug="staff-rota", state="approved", audience="internal")
    make_document(database, cast, slug="draft-page", state="draft")
    make_document(database, cast, slug="expired-page", state="approved", valid_from="2020-01-01", valid_until="2021-01-01")
    return ["child-benefit", "housing-allowance"]


def key_id(client) -> str:  # noqa: ANN001
    return client.get("/public/v1/transparency/tree-head").json()["key_id"]


# --- receipts -------------------------------------------------------------------------------------------------

def test_every_public_document_has_a_receipt_that_verifies(client, corpus, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("KB_SIGNING_KEY_FILE", str(tmp_path / "not-here.pem"))  # the citizen's machine: no kb key
    monkeypatch.delenv("KB_TRUSTED_KEYS", raising=False)
    fingerprint = key_id(client)
    for slug in corpus:
        page = client.get(f"/public/v1/documents/{slug}").json()
        assert page["receipt_url"] == f"/public/v1/documents/{slug}/receipt"
        response = client.get(page["receipt_url"])
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        receipt = response.json()
        facts = outsider_check(receipt, fingerprint)
        assert facts["document"] == slug and facts["version"] == page["provenance"]["version"]
        assert facts["body_sha256"] == hashlib.sha256(page["body_md"].encode("utf-8")).hexdigest()
        event = json.loads(receipt["event"])
        assert "title" not in facts and 0 < facts["approval_seq"] < event["seq"], "the slug names it, approval by seq"
        assert event["actor_name"] == "system" and event["actor_id"] is None, "a receipt names no person"

        path = tmp_path / f"{slug}.json"
        path.write_bytes(response.content)
        body = tmp_path / f"{slug}.md"
        body.write_bytes(page["body_md"].encode("utf-8"))
        result = invoke("verify-receipt", str(path), "--key", fingerprint, "--body", str(body))
        assert result.exit_code == 0, result.output
        assert f"document {slug} version 1" in result.output and "which you trust" in result.output
        assert facts["body_sha256"] in result.output

        untrusted = invoke("verify-receipt", str(path))
        assert untrusted.exit_code == 0, untrusted.output
        assert f"fingerprint {fingerprint}, which you have not said you trust" in untrusted.output

        raw_key = base64.b64decode(receipt["tree_head"]["public_key"]).hex()
        assert invoke("verify-receipt", str(path), "--key", raw_key.upper()).output.count("which you trust") == 1
        body.write_bytes(page["body_md"].encode("utf-8") + b" ")
        wrong_body = invoke("verify-receipt", str(path), "--key", fingerprint, "--body", str(body))
        assert wrong_body.exit_code == 3 and "not the body_sha256" in wrong_body.output


def test_one_changed_byte_anywhere_fails(client, corpus, tmp_path: Path) -> None:  # noqa: ANN001
    fingerprint = key_id(client)
    served = client.get("/public/v1/documents/housing-allowance/receipt").content
    assert provenance.verify_receipt(served, [fingerprint]).ok
    assert provenance.verify_receipt(served, [fingerprint]).key_trusted
    tried = unparsable = 0
    for position in range(len(served)):
        for flip in (0x01, 0x20, 0x80):
            changed = bytearray(served)
            changed[position] ^= flip
            result = provenance.verify_receipt(bytes(changed), [fingerprint])
            tried += 1
            assert not result.ok, f"byte {position} ^ {flip:#x}: {bytes(changed)[max(0, position - 30):position + 30]!r}"
            assert result.problems
            if result.problems[0].startswith("not a valid kb-receipt/1 receipt"):
                unparsable += 1
    assert tried == 3 * len(served) and 0 < unparsable < tried
    # and the command says so, with exit 3
    changed = bytearray(served)
    changed[served.index(b'"signature":"') + 20] ^= 0x01
    path = tmp_path / "changed.json"
    path.write_bytes(bytes(changed))
    result = invoke("verify-receipt", str(path), "--key", fingerprint)
    assert result.exit_code == 3 and "does not hold" in result.output


def test_every_field_is_checked_even_when_the_json_is_reformatted(client, corpus) -> None:  # noqa: ANN001
    """Value changes that keep the JSON well formed: each security-relevant member, every character position."""
    fingerprint = key_id(client)
    receipt = client.get("/public/v1/documents/child-benefit/receipt").json()
    pretty = json.dumps(receipt, indent=2, ensure_ascii=False)
    assert provenance.verify_receipt(pretty, [fingerprint]).ok, "whitespace outside values is no change"

    def mutants(value):  # noqa: ANN001, ANN202
        if isinstance(value, int):
            yield from (value + 1, value - 1, str(value), value * 2 + 1)
        elif isinstance(value, str):
            for i, ch in enumerate(value):
                yield value[:i] + ("0" if ch != "0" else "1") + value[i + 1:]
                if ch.lower() != ch.upper():
                    yield value[:i] + ch.swapcase() + value[i + 1:]

    fields = [("receipt",), ("event",), ("proof",), *[("tree_head", name) for name in receipt["tree_head"]]]
    checked = 0
    for path in fields:
        container = receipt
        for step in path[:-1]:
            container = container[step]
        original = container[path[-1]]
        for mutant in mutants(original):
            container[path[-1]] = mutant
            assert not provenance.verify_receipt(receipt, [fingerprint]).ok, (path, mutant)
            checked += 1
        container[path[-1]] = original
    assert provenance.verify_receipt(receipt, [fingerprint]).ok
    assert checked > 1000
    for extra in ({"note": "x"}, {"document": "child-benefit"}):
        assert not provenance.verify_receipt({**receipt, **extra}, [fingerprint]).ok
    for name in ("receipt", "event", "proof", "tree_head"):
        assert not provenance.verify_receipt({k: v for k, v in receipt.items() if k != name}, [fingerprint]).ok
    for extra in ({"root_hash": "0" * 64}, {"key_id": fingerprint}, {"algorithm": "Ed25519"}):
        assert not provenance.verify_receipt({**receipt, "tree_head": {**receipt["tree_head"], **extra}}, [fingerprint]).ok
    packed = base64.b64decode(receipt["proof"])
    assert len(packed) % 32 == 0 and len(packed) >= 64
    for proof in (packed[:-32], packed + bytes(32), packed[:-1], packed + b"\x00", packed[32:], b""):
        altered = {**receipt, "proof": base64.b64encode(proof).decode()}
        assert not provenance.verify_receipt(altered, [fingerprint]).ok, len(proof)
    # canonical base64 only: the same bytes spelt with other unused bits, or without padding, are refused
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    for path in (("proof",), ("tree_head", "public_key"), ("tree_head", "signature")):
        container = receipt if len(path) == 1 else receipt["tree_head"]
        text = container[path[-1]]
        pad = len(text) - len(text.rstrip("="))
        if not pad:
            continue
        twin = text[:-pad - 1] + alphabet[alphabet.index(text[-pad - 1]) ^ 1] + "=" * pad
        for spelling in (twin, text.rstrip("=")):
            assert base64.b64decode(spelling + "=" * (-len(spelling) % 4)) == base64.b64decode(text)
            container[path[-1]] = spelling
            assert not provenance.verify_receipt(receipt, [fingerprint]).ok, (path, spelling)
        container[path[-1]] = text
    assert provenance.verify_receipt(receipt, [fingerprint]).ok


def test_anything_not_public_is_the_public_documents_own_404(client, corpus) -> None:  # noqa: ANN001
    for slug in ("staff-rota", "draft-page", "expired-page", "no-such-page"):
        page = client.get(f"/public/v1/documents/{slug}")
        receipt = client.get(f"/public/v1/documents/{slug}/receipt")
        assert page.status_code == receipt.status_code == 404
        assert page.json() == receipt.json(), slug


def test_search_hits_link_their_receipt(client, corpus) -> None:  # noqa: ANN001
    hits = client.get("/public/v1/search", params={"q": "child benefit"}).json()["data"]
    assert hits and all(hit["receipt_url"] == f"/public/v1/documents/{hit['document']}/receipt" for hit in hits)
    assert all(client.get(hit["receipt_url"]).status_code == 200 for hit in hits)


def test_the_public_page_links_its_receipt(client, corpus) -> None:  # noqa: ANN001
    page = client.get("/public/d/child-benefit")
    assert page.status_code == 200
    assert 'href="/public/v1/documents/child-benefit/receipt"' in page.text


def test_a_receipt_fetched_later_has_a_larger_tree_and_still_verifies(client, corpus, database, cast) -> None:  # noqa: ANN001
    fingerprint = key_id(client)
    before = client.get("/public/v1/documents/child-benefit/receipt").json()
    make_document(database, cast, slug="later-page", state="approved")
    after = client.get("/public/v1/documents/child-benefit/receipt").json()
    assert after["tree_head"]["tree_size"] > before["tree_head"]["tree_size"]
    assert after["event"] == before["event"] and len(after["proof"]) >= len(before["proof"])
    roots = []
    for receipt in (before, after):
        roots.append(outsider_check(receipt, fingerprint)["root_hash"])
        check = provenance.verify_receipt(receipt, [fingerprint])
        assert check.ok and check.root_hash == roots[-1] and check.key_id == fingerprint
    # the older head is a prefix of the newer one: the served consistency proof says so (roots recomputed)
    old, new = before["tree_head"], after["tree_head"]
    proof = client.get("/public/v1/transparency/consistency",
                       params={"first": old["tree_size"], "second": new["tree_size"]}).json()
    assert [proof["first_root_hash"], proof["second_root_hash"]] == roots
    assert merkle.verify_consistency(old["tree_size"], new["tree_size"], bytes.fromhex(roots[0]),
                                     bytes.fromhex(roots[1]), [bytes.fromhex(p) for p in proof["proof"]])


def test_an_event_that_is_no_publication_is_named(client, corpus, database) -> None:  # noqa: ANN001
    fingerprint = key_id(client)
    with database.session() as session:
        other = provenance.receipt(session, 1, client.app.state.settings.signing_key_path)
    result = provenance.verify_receipt(other, [fingerprint])
    assert not result.ok and "not the 'version.publish' of a document" in result.problems[0]


# --- the proof endpoints --------------------------------------------------------------------------------------

def test_inclusion_and_consistency_proofs_verify(client, corpus, database) -> None:  # noqa: ANN001
    from tests.test_transparency import outsider_leaves

    leaves = outsider_leaves(database)
    head = client.get("/public/v1/transparency/tree-head").json()
    size = head["tree_size"]
    assert size == len(leaves)
    for tree_size in (size, size - 3):
        root = merkle.root([merkle.leaf_hash(leaf) for leaf in leaves[:tree_size]])
        for seq in range(1, tree_size + 1):
            proof = client.get("/public/v1/transparency/inclusion", params={"seq": seq, "tree_size": tree_size}).json()
            assert proof["leaf_hash"] == merkle.leaf_hash(leaves[seq - 1]).hex() and proof["root_hash"] == root.hex()
            assert merkle.verify_inclusion(seq - 1, tree_size, merkle.leaf_hash(leaves[seq - 1]),
                                           [bytes.fromhex(p) for p in proof["path"]], root)
            assert set(proof) == {"seq", "leaf_index", "tree_size", "leaf_hash", "root_hash", "path"}, "hashes only"
    assert client.get("/public/v1/transparency/inclusion", params={"seq": 1}).json()["root_hash"] == head["root_hash"]
    for first in range(0, size + 1):
        proof = client.get("/public/v1/transparency/consistency", params={"first": first, "second": size}).json()
        assert merkle.verify_consistency(first, size, bytes.fromhex(proof["first_root_hash"]),
                                         bytes.fromhex(proof["second_root_hash"]), [bytes.fromhex(p) for p in proof["proof"]])
        assert proof["second_root_hash"] == head["root_hash"]
    assert client.get("/public/v1/transparency/consistency", params={"first": 2}).json()["second"] == size


@pytest.mark.parametrize("url", [
    "/public/v1/transparency/inclusion?seq=0", "/public/v1/transparency/inclusion?seq=-1",
    "/public/v1/transparency/inclusion?seq={over}", "/public/v1/transparency/inclusion?seq=3&tree_size=2",
    "/public/v1/transparency/inclusion?seq=1&tree_size={over}", "/public/v1/transparency/inclusion?seq=x",
    "/public/v1/transparency/inclusion", "/public/v1/transparency/consistency?first=3&second=2",
    "/public/v1/transparency/consistency?first={over}", "/public/v1/transparency/consistency?first=1&second={over}",
    "/public/v1/transparency/consistency?first=-1", "/public/v1/transparency/consistency",
])
def test_proofs_out_of_range_are_422(client, cast, url: str) -> None:  # noqa: ANN001
    size = client.get("/public/v1/transparency/tree-head").json()["tree_size"]
    response = client.get(url.format(over=size + 1))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"


# --- the worked example of docs/transparency.md ----------------------------------------------------------------

def example_receipt() -> dict:
    """The example of docs/transparency.md: the three events of its section 4, then a version.publish, size 4."""
    page = DOCS.read_text(encoding="utf-8")
    block = page.split("## 4. A worked example", 1)[1].split("```", 2)[1]
    leaves = [line.encode("utf-8") for line in block.strip().splitlines()]
    body = "# Child benefit\n\nParents receive child benefit every quarter."
    payload = {"approval_seq": 3, "body_sha256": hashlib.sha256(body.encode("utf-8")).hexdigest(),
               "provenance_sha256": hashlib.sha256(b"example provenance record").hexdigest(), "second_review": True,
               "space": "benefits", "valid_from": None, "valid_until": None, "version": 1}
    canonical = {"separators": (",", ":"), "sort_keys": True, "ensure_ascii": False}
    event = {"action": "version.publish", "actor_id": None, "actor_name": "system", "at": "2026-12-05T08:00:02.000001Z",
             "channel": "system", "object_id": "child-benefit", "object_type": "document",
             "payload": json.dumps(payload, **canonical), "prev_hash": hashlib.sha256(leaves[2]).hexdigest(), "seq": 4}
    leaves.append(json.dumps(event, **canonical).encode("utf-8"))
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"kb transparency example key").digest())
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    head = {"tree_size": 4, "root_hash": merkle.root(hashes).hex(), "timestamp": "2026-12-05T08:00:05.000000Z",
            "key_id": hashlib.sha256(raw).hexdigest()}
    signature = key.sign(json.dumps(head, sort_keys=True, separators=(",", ":")).encode("utf-8"))
    return {"receipt": "kb-receipt/1", "event": leaves[3].decode("utf-8"),
            "proof": base64.b64encode(b"".join(merkle.inclusion_proof(3, hashes))).decode("ascii"),
            "tree_head": {"tree_size": 4, "timestamp": head["timestamp"],
                          "signature": base64.b64encode(signature).decode("ascii"),
                          "public_key": base64.b64encode(raw).decode("ascii")}}


def docs_check():  # noqa: ANN201
    """The function ``check`` of docs/transparency.md, "The check in Python, with nothing from kb"."""
    section = DOCS.read_text(encoding="utf-8").split("### The check in Python", 1)[1]
    code = section.split("```python", 1)[1].split("```", 1)[0]
    assert "kb" not in code.replace("nothing from kb", "").split("def check", 1)[0], "imports nothing from kb"
    namespace: dict = {}
    exec(compile(code, "docs/transparency.md", "exec"), namespace)  # noqa: S102  # our own page
    return namespace["check"]


def test_the_python_check_in_the_docs_accepts_served_receipts(client, corpus) -> None:  # noqa: ANN001
    check, fingerprint = docs_check(), key_id(client)
    served = client.get("/public/v1/documents/housing-allowance/receipt").content
    facts = check(served, fingerprint)
    assert facts["document"] == "housing-allowance" and facts["version"] == 1 and "title" not in facts
    changed = bytearray(served)
    at = served.index(b'"signature":"') + 20
    changed[at] = ord("0") if changed[at] != ord("0") else ord("1")
    with pytest.raises(InvalidSignature):
        check(bytes(changed), fingerprint)


def test_the_worked_example_receipt_in_the_docs_verifies() -> None:
    receipt = example_receipt()
    page = DOCS.read_text(encoding="utf-8")
    section = page.split("## 7. Receipts", 1)[1]
    shown = json.loads(section.split("```json", 1)[1].split("```", 1)[0])
    assert shown == receipt, json.dumps(receipt, indent=2, ensure_ascii=False)
    fingerprint = hashlib.sha256(base64.b64decode(receipt["tree_head"]["public_key"])).hexdigest()
    assert fingerprint in section, "the walk-through names the key id it derives"
    facts = outsider_check(shown, fingerprint)
    assert facts["document"] == "child-benefit" and facts["approval_seq"] == 3
    assert docs_check()(json.dumps(shown).encode("utf-8"), fingerprint)["body_sha256"] == hashlib.sha256(
        b"# Child benefit\n\nParents receive child benefit every quarter.").hexdigest()
    result = provenance.verify_receipt(json.dumps(shown), [fingerprint])
    assert result.ok and result.key_trusted and result.document == "child-benefit" and result.version == 1
    assert result.approval_seq == 3 and result.root_hash == facts["root_hash"] and result.key_id == fingerprint
    packed = base64.b64decode(shown["proof"])
    assert len(packed) == 64
    for at in range(0, len(packed), 32):
        assert packed[at:at + 32].hex() in section, "the walk-through names each proof node in hex"
    assert facts["root_hash"] in section
    with pytest.raises(InvalidSignature):
        Ed25519PublicKey.from_public_bytes(base64.b64decode(shown["tree_head"]["public_key"])).verify(
            base64.b64decode(shown["tree_head"]["signature"]), b"anything else")
