"""Signed tree heads of the audit log (issue 16): the key file, the signature, `kb audit checkpoint --to`,
`kb audit verify --checkpoint` against a log that grew or was rewritten, rotation, and the public endpoint,
checked the way docs/transparency.md tells an outsider to check them (SHA-256 and Ed25519 only)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import text
from typer.testing import CliRunner

from kb import provenance
from kb.actors import SYSTEM
from kb.config import Settings
from kb.db import Database, transaction
from kb.provenance.chain import event_hash
from tests.audit import rewrite_history
from tests.factories import make_cast

runner = CliRunner()


def invoke(*args: str):  # noqa: ANN201
    from kb.cli import app

    return runner.invoke(app, list(args), catch_exceptions=False)


# --- what an outsider re-implements from docs/transparency.md ----------------------------------------

def outsider_leaves(database: Database) -> list[bytes]:
    """Leaf bytes from `kb audit export`: each line without its "hash" member, canonical JSON, UTF-8."""
    out = io.StringIO()
    with database.session() as session:
        provenance.export_jsonl(session, out)
    leaves = []
    for line in out.getvalue().splitlines():
        event = json.loads(line)
        digest = event.pop("hash")
        leaf = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        assert hashlib.sha256(leaf).hexdigest() == digest, "the leaf is exactly the bytes the chain hashes"
        leaves.append(leaf)
    return leaves


def outsider_root(leaves: list[bytes]) -> str:
    def mth(d: list[bytes]) -> bytes:
        if not d:
            return hashlib.sha256(b"").digest()
        if len(d) == 1:
            return hashlib.sha256(b"\x00" + d[0]).digest()
        k = 1
        while k * 2 < len(d):
            k *= 2
        return hashlib.sha256(b"\x01" + mth(d[:k]) + mth(d[k:])).digest()

    return mth(leaves).hex()


def outsider_verifies(head: dict, public_key_hex: str) -> bool:
    public = bytes.fromhex(public_key_hex)
    if hashlib.sha256(public).hexdigest() != head["key_id"]:
        return False
    message = (f'{{"key_id":"{head["key_id"]}","root_hash":"{head["root_hash"]}",'
               f'"timestamp":"{head["timestamp"]}","tree_size":{head["tree_size"]}}}').encode("utf-8")
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(bytes.fromhex(head["signature"]), message)
    except InvalidSignature:
        return False
    return True


def add_events(database: Database, count: int) -> None:
    with database.session() as session, transaction(session):
        for n in range(count):
            provenance.record(session, SYSTEM, "system.test", ("test", n), {"n": n})


# --- the key and the signature ---------------------------------------------------------------------

def test_init_creates_a_private_signing_key(cli_env: Settings) -> None:
    key = cli_env.signing_key_path
    assert not key.exists()
    result = invoke("init")
    assert result.exit_code == 0 and "Signing key created" in result.output
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    first = key.read_bytes()
    assert invoke("init").exit_code == 0 and key.read_bytes() == first, "kb init keeps an existing key"


def test_a_tree_head_verifies_and_any_changed_byte_fails(database: Database, settings: Settings) -> None:
    make_cast(database)
    provenance.ensure_signing_key(settings.signing_key_path)
    with database.session() as session:
        head = provenance.sign_tree_head(session, settings.signing_key_path)
        count = provenance.head(session)[0]
    assert head["tree_size"] == count and head["seq"] == count
    assert head["root_hash"] == outsider_root(outsider_leaves(database))
    assert outsider_verifies(head, head["public_key"])
    signature = bytearray(bytes.fromhex(head["signature"]))
    with database.session() as session:
        check = lambda h: provenance.check_tree_head(session, h, signing_key=settings.signing_key_path, trusted_keys=[])  # noqa: E731
        assert check(head).ok
        for index in (0, 31, 63):  # a changed byte of the signature itself, through kb's own check
            forged = bytearray(signature)
            forged[index] ^= 1
            result = check({**head, "signature": bytes(forged).hex()})
            assert not result.ok and "signature does not verify" in result.reason, index
        for name, value in (("root_hash", "0" + head["root_hash"][1:] if head["root_hash"][0] != "0" else "1" + head["root_hash"][1:]),
                            ("tree_size", head["tree_size"] - 1), ("timestamp", head["timestamp"].replace("Z", "1Z"))):
            result = check({**head, name: value})
            assert not result.ok and "signature does not verify" in result.reason, name


def test_rotation_keeps_old_heads_verifying_only_through_trusted_keys(database: Database, settings: Settings, tmp_path: Path) -> None:
    make_cast(database)
    old_key = settings.signing_key_path
    provenance.ensure_signing_key(old_key)
    with database.session() as session:
        old_head = provenance.sign_tree_head(session, old_key)
    new_key = tmp_path / "keys" / "signing-key-2.pem"
    provenance.ensure_signing_key(new_key)
    add_events(database, 3)
    with database.session() as session:
        new_head = provenance.sign_tree_head(session, new_key)
        assert new_head["key_id"] != old_head["key_id"]
        refused = provenance.check_tree_head(session, old_head, signing_key=new_key, trusted_keys=[])
        assert not refused.ok and "neither the current signing key nor in KB_TRUSTED_KEYS" in refused.reason
        trusted = provenance.check_tree_head(session, old_head, signing_key=new_key, trusted_keys=[old_head["public_key"]])
        assert trusted.ok and trusted.uncovered == 3
        assert provenance.check_tree_head(session, new_head, signing_key=new_key, trusted_keys=[]).ok
    assert Settings(trusted_keys=old_head["public_key"].upper()).trusted_keys == [old_head["public_key"]]
    with pytest.raises(ValueError, match="KB_TRUSTED_KEYS"):
        Settings(trusted_keys="abc")


# --- kb audit checkpoint --to, kb audit verify --checkpoint ---------------------------------------

@pytest.fixture
def published(database: Database, cli_env: Settings, tmp_path: Path) -> Path:
    """A log with a signed head published to a directory, then three more events."""
    make_cast(database)
    out = tmp_path / "heads"
    result = invoke("audit", "checkpoint", "--to", str(out))
    assert result.exit_code == 0, result.output
    add_events(database, 3)
    return out


def test_checkpoint_to_a_directory_then_the_log_grows(published: Path, database: Database) -> None:
    latest = json.loads((published / "latest.json").read_text())
    assert (published / f"{latest['tree_size']}.json").read_text() == (published / "latest.json").read_text()
    assert outsider_verifies(latest, latest["public_key"])
    assert latest["root_hash"] == outsider_root(outsider_leaves(database)[: latest["tree_size"]])
    strict = invoke("audit", "verify", "--checkpoint", str(published / "latest.json"))
    assert strict.exit_code == 3 and "are covered by no signed tree head" in strict.output, strict.output
    result = invoke("audit", "verify", "--checkpoint", str(published / "latest.json"), "--allow-uncovered")
    assert result.exit_code == 0, result.output
    size = latest["tree_size"]
    assert f"Signed tree head of size {size}" in result.output and "signature verifies, the log only grew" in result.output
    assert f"3 later events (seq {size + 1}..{size + 3}) are not covered by a signed head yet" in result.output
    # the next head extends the published one: a consistency proof from the old size to the new one holds
    with database.session() as session:
        newer = provenance.sign_tree_head(session, database.settings.signing_key_path)
        proof = provenance.consistency_proof(session, size)
    from kb.provenance import merkle

    assert merkle.verify_consistency(size, newer["tree_size"], bytes.fromhex(latest["root_hash"]),
                                     bytes.fromhex(newer["root_hash"]), [bytes.fromhex(p) for p in proof])


def test_the_file_argument_still_writes_a_checkpoint(database: Database, cli_env: Settings, tmp_path: Path) -> None:
    make_cast(database)
    point = tmp_path / "checkpoint.json"
    assert invoke("audit", "checkpoint", str(point)).exit_code == 0
    data = json.loads(point.read_text())
    assert {"seq", "hash", "tree_size", "root_hash", "signature"} <= set(data)
    assert invoke("audit", "verify", "--checkpoint", str(point)).exit_code == 0
    assert invoke("audit", "checkpoint").exit_code != 0


@pytest.fixture
def copy_env(published: Path, database: Database, cli_env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             backend: str) -> Database:
    """A copy of the database whose audit triggers are dropped; the CLI points at it, with the original key."""
    if backend != "sqlite":
        pytest.skip("the copy is a SQLite file")
    database.dispose()
    copy_dir = tmp_path / "copy"
    copy_dir.mkdir()
    for suffix in ("", "-wal", "-shm"):
        if (cli_env.data_dir / f"kb.sqlite3{suffix}").exists():
            shutil.copy(cli_env.data_dir / f"kb.sqlite3{suffix}", copy_dir / f"kb.sqlite3{suffix}")
    copy = Database(Settings(data_dir=copy_dir))
    with copy.engine.begin() as connection:
        connection.execute(text("DROP TRIGGER audit_event_no_update"))
        connection.execute(text("DROP TRIGGER audit_event_no_delete"))
    monkeypatch.setenv("KB_DATA_DIR", str(copy_dir))
    monkeypatch.setenv("KB_SIGNING_KEY_FILE", str(cli_env.signing_key_path))
    yield copy
    copy.dispose()


def verify_output(published: Path, *extra: str) -> tuple[int, str]:
    """``kb audit verify`` against the published head; the fixture appended three legitimate events after it."""
    result = invoke("audit", "verify", "--checkpoint", str(published / "latest.json"), *extra)
    return result.exit_code, result.output


def test_a_deleted_event_below_the_head_is_named(copy_env: Database, published: Path) -> None:
    code, output = verify_output(published, "--allow-uncovered")
    assert code == 0, output
    with copy_env.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_event WHERE seq = 4"))
    code, output = verify_output(published, "--allow-uncovered")
    assert code == 3
    assert "no longer hash to the signed root" in output and "chain broken at seq 4" in output


def test_a_rewritten_history_with_a_recomputed_chain_is_named(copy_env: Database, published: Path) -> None:
    """Edit an event and recompute every later hash and the head row, and forge the checkpoint's unsigned
    chain fields too: the chain is self-consistent, and only the signed root still tells."""
    with copy_env.engine.begin() as connection:
        rewrite_history(connection, forged_seq=3)
        size = json.loads((published / "latest.json").read_text())["tree_size"]
        forged_hash = connection.execute(text("SELECT hash FROM audit_event WHERE seq = :s"), {"s": size}).scalar_one()
    latest = json.loads((published / "latest.json").read_text())
    (published / "latest.json").write_text(json.dumps({**latest, "hash": forged_hash}))
    alone = invoke("audit", "verify")
    assert "chain broken" not in alone.output, "a recomputed chain verifies on its own"
    # seq 3 created rita: with its payload forged, the log no longer commits to her standing
    assert alone.exit_code == 3 and "user rita: in the database but never recorded in the log" in alone.output
    code, output = verify_output(published, "--allow-uncovered")
    assert code == 3
    assert f"signed tree head of size {size} does not hold" in output and "no longer hash to the signed root" in output
    assert "chain broken" not in output


def test_a_forged_insert_after_the_head_is_reported_as_not_covered(copy_env: Database, published: Path) -> None:
    """INSERT is not blocked: a well-formed event appended to the copy verifies as a chain, and is named as one
    no signed head covers."""
    with copy_env.engine.begin() as connection:
        head = connection.execute(text("SELECT seq, hash FROM audit_head")).one()
        seq, at = head.seq + 1, "2026-01-01T00:00:00.000000Z"
        payload = '{"version":1}'
        digest = event_hash(seq=seq, at=at, actor_id=None, actor_name="olga", action="version.approve",
                            object_type="document", object_id="forged", payload=payload, prev_hash=head.hash)
        connection.execute(text("INSERT INTO audit_event (seq, at, actor_id, actor_name, action, object_type, object_id, "
                                "payload, prev_hash, hash) VALUES (:s, :at, NULL, 'olga', 'version.approve', 'document', "
                                "'forged', :p, :ph, :h)"), {"s": seq, "at": at, "p": payload, "ph": head.hash, "h": digest})
        connection.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": seq, "h": digest})
    code, output = verify_output(published)
    assert code == 3
    size = json.loads((published / "latest.json").read_text())["tree_size"]
    assert f"4 events (seq {size + 1}..{seq}) are covered by no signed tree head" in output
    assert f"not covered: seq {seq} 2026-01-01T00:00:00.000000Z version.approve document forged by olga" in output


def test_a_tampered_tree_head_file_is_refused(published: Path) -> None:
    latest = json.loads((published / "latest.json").read_text())
    (published / "latest.json").write_text(json.dumps({**latest, "tree_size": latest["tree_size"] - 1}))
    code, output = verify_output(published)
    assert code == 3 and "signature does not verify" in output


# --- the public endpoint ---------------------------------------------------------------------------

def test_the_public_tree_head_verifies_with_the_returned_key(client, database: Database) -> None:  # noqa: ANN001
    make_cast(database)
    response = client.get("/public/v1/transparency/tree-head")
    assert response.status_code == 200, response.text
    head = response.json()
    assert outsider_verifies(head, head["public_key"])
    assert head["root_hash"] == outsider_root(outsider_leaves(database))
    assert head["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    with database.session() as session:
        assert head["tree_size"] == provenance.head(session)[0]
    add_events(database, 2)
    later = client.get("/public/v1/transparency/tree-head").json()
    assert later["tree_size"] == head["tree_size"] + 2 and later["key_id"] == head["key_id"]
    assert later["root_hash"] == outsider_root(outsider_leaves(database))


def test_the_public_endpoint_signs_no_head_over_a_broken_chain(client, database: Database, backend: str) -> None:  # noqa: ANN001
    make_cast(database)
    assert client.get("/public/v1/transparency/tree-head").status_code == 200
    add_events(database, 1)
    with database.engine.begin() as connection:  # the newest event's link is forged
        if backend == "sqlite":
            connection.execute(text("DROP TRIGGER audit_event_no_update"))
        else:
            connection.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
        connection.execute(text("UPDATE audit_event SET payload = :p WHERE seq = (SELECT MAX(seq) FROM audit_event)"),
                           {"p": '{"n":99}'})
    response = client.get("/public/v1/transparency/tree-head")
    assert response.status_code == 503 and response.json()["error"]["code"] == "service_unavailable"


# --- the worked example of docs/transparency.md --------------------------------------------------------

def test_the_worked_example_in_the_docs_is_right() -> None:
    import re

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from kb.provenance import merkle

    page = (Path(__file__).resolve().parent.parent / "docs/transparency.md").read_text(encoding="utf-8")
    block = page.split("## 4. A worked example", 1)[1].split("```", 2)[1]
    leaves = [line.encode("utf-8") for line in block.strip().splitlines()]
    assert len(leaves) == 3
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    seed = hashlib.sha256(b"kb transparency example key").digest()
    key = Ed25519PrivateKey.from_private_bytes(seed)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    head = {"key_id": hashlib.sha256(raw).hexdigest(), "root_hash": merkle.root(hashes).hex(),
            "timestamp": "2026-12-05T08:00:03.000000Z", "tree_size": 3}
    message = json.dumps(head, sort_keys=True, separators=(",", ":")).encode()
    expected = [hashlib.sha256(leaf).hexdigest() for leaf in leaves] + [h.hex() for h in hashes] + [
        merkle.root(hashes[:2]).hex(), head["root_hash"], seed.hex(), raw.hex(), head["key_id"],
        message.decode(), key.sign(message).hex()]
    for value in expected:
        assert value in page, value
    assert json.loads(leaves[1])["prev_hash"] == hashlib.sha256(leaves[0]).hexdigest()
    assert merkle.inclusion_proof(2, hashes) == [merkle.root(hashes[:2])]
    assert merkle.inclusion_proof(0, hashes) == [hashes[1], hashes[2]]
    assert merkle.consistency_proof(2, hashes) == [hashes[2]]
    short = re.findall(r"`\[([0-9a-f…, ]+)\]`", page)
    assert short == [f"{merkle.root(hashes[:2]).hex()[:8]}…", f"{hashes[1].hex()[:8]}…, {hashes[2].hex()[:8]}…",
                     f"{hashes[2].hex()[:8]}…"]
