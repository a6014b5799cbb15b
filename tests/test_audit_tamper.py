"""Tamper detection (RELIABILITY T6) on a copy of the database, plus a checkpoint for truncation and recomputation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from kb import provenance
from kb.config import Settings
from kb.db import Database
from tests.audit import EVENTS_SELECT, rewrite_history
from tests.factories import make_cast



@pytest.fixture
def tampered(database, backend: str, settings: Settings, tmp_path: Path):  # noqa: ANN001, ANN201
    """A database with a chain of events, and a copy of it that the test may tamper with."""
    make_cast(database)  # 2 spaces, 7 users with memberships and tokens: about 20 events
    if backend == "sqlite":
        copy_dir = tmp_path / "copy"
        copy_dir.mkdir()
        database.dispose()
        shutil.copy(settings.data_dir / "kb.sqlite3", copy_dir / "kb.sqlite3")
        copy = Database(Settings(data_dir=copy_dir))
        with copy.engine.begin() as connection:
            connection.execute(text("DROP TRIGGER audit_event_no_update"))
            connection.execute(text("DROP TRIGGER audit_event_no_delete"))
        yield copy
        copy.dispose()
    else:
        with database.engine.begin() as connection:  # each PostgreSQL test has its own emptied schema
            connection.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
        yield database
        with database.engine.begin() as connection:
            connection.execute(text("ALTER TABLE audit_event ENABLE TRIGGER USER"))


def verify(database: Database, checkpoint: dict | None = None) -> provenance.VerifyResult:
    with database.session() as session:
        return provenance.verify_chain(session, checkpoint)


def checkpoint_of(database: Database, path: Path) -> dict:
    with database.session() as session:
        return provenance.write_checkpoint(session, path)


def test_intact_chain_verifies(tampered: Database) -> None:
    result = verify(tampered)
    assert result.ok and result.count >= 15 and result.head_seq == result.count


def test_edit_is_named(tampered: Database) -> None:
    with tampered.engine.begin() as connection:
        connection.execute(text("UPDATE audit_event SET payload = '{\"role\":\"admin\"}' WHERE seq = 5"))
    result = verify(tampered)
    assert not result.ok and result.first_bad_seq == 5


def test_delete_is_named(tampered: Database) -> None:
    with tampered.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_event WHERE seq = 7"))
    result = verify(tampered)
    assert not result.ok and result.first_bad_seq == 7


def test_swap_is_named(tampered: Database) -> None:
    with tampered.engine.begin() as connection:
        rows = {r.seq: r for r in connection.execute(text(EVENTS_SELECT + " WHERE seq IN (4, 5)"))}
        for target, source in ((4, 5), (5, 4)):
            connection.execute(text("UPDATE audit_event SET action = :a, object_id = :o, payload = :p WHERE seq = :s"),
                               {"a": rows[source].action, "o": rows[source].object_id, "p": rows[source].payload, "s": target})
    result = verify(tampered)
    assert not result.ok and result.first_bad_seq == 4


def test_insert_is_named(tampered: Database) -> None:
    head_seq, head_hash = verify(tampered).head_seq, verify(tampered).head_hash
    with tampered.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO audit_event (seq, at, actor_id, actor_name, action, object_type, object_id, payload, prev_hash, hash) "
            "VALUES (:s, '2026-01-01T00:00:00.000000Z', NULL, 'mallory', 'user.update', 'user', 'mallory', '{}', :p, :h)"),
            {"s": head_seq + 1, "p": head_hash, "h": "f" * 64})
    result = verify(tampered)
    assert not result.ok and result.first_bad_seq == head_seq + 1


def test_truncation_caught_only_with_checkpoint(tampered: Database, tmp_path: Path) -> None:
    point = checkpoint_of(tampered, tmp_path / "checkpoint.json")
    with tampered.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_event WHERE seq > :s"), {"s": point["seq"] - 3})
        last = connection.execute(text("SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1")).one()
        connection.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": last.seq, "h": last.hash})
    assert verify(tampered).ok, "a plain chain cannot see truncation"
    result = verify(tampered, point)
    assert not result.ok and "truncated" in result.reason and result.first_bad_seq == point["seq"] - 2


def test_recompute_caught_only_with_checkpoint(tampered: Database, tmp_path: Path) -> None:
    point = checkpoint_of(tampered, tmp_path / "checkpoint.json")
    with tampered.engine.begin() as connection:
        rewrite_history(connection, forged_seq=3)
    assert verify(tampered).ok, "a recomputed chain is self-consistent"
    result = verify(tampered, point)
    assert not result.ok and "recomputed" in result.reason and result.first_bad_seq == point["seq"]
