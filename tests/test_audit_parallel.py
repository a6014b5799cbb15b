"""``kb audit verify`` on two cores (kb.provenance.parallel) gives exactly the one pass's answer.

The log is cut at the largest power of two below its size, and each part is checked by its own
process. On a sound log it must find what the one pass finds (the chain's head, the Merkle root at
every signed size, the same replayed commitments) without running the one pass; on a tampered log
it must give up, so that the one pass names the failure in its own words. Tampering is tried at the
cut itself, on either side of it, in the first and the last event.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from kb import provenance
from kb.actors import SYSTEM
from kb.db import Database, transaction
from kb.provenance import chain, parallel
from tests.audit import log_writable

EVENTS = 300  # the cut falls at 256
CUT = 256


def _record(database: Database, start: int, stop: int) -> None:
    """Events ``start``..``stop - 1``: commitments to a few documents, spaces and people, many times over."""
    with database.session() as session, transaction(session):
        for i in range(start, stop):
            slug = f"doc-{i % 7}"
            if i % 3 == 0:
                payload = {"served": [{"version": i % 5 + 1, "state": "approved", "n": i}],
                           "document": {"space": 1, "current_version_id": i}}
                provenance.record(session, SYSTEM, "version.approve", ("document", slug), payload)
            elif i % 3 == 1:
                provenance.record(session, SYSTEM, "space.update", ("space", f"s{i % 4}"), {"safeguards": {"four_eyes": i % 2 == 0}})
            else:
                provenance.record(session, SYSTEM, "user.update", ("user", f"u{i % 5}"), {"standing": {"id": i}})


@pytest.fixture
def key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The signing key; and the two-part check on for logs of any length."""
    monkeypatch.setattr(parallel, "MIN_EVENTS", 0)
    path = tmp_path / "signing-key.pem"
    provenance.ensure_signing_key(path)
    return path


@pytest.fixture
def log(database: Database, key: Path) -> Path:
    _record(database, 0, EVENTS)
    return key


@pytest.fixture
def one_pass_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = chain.verify

    def counted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(chain, "verify", counted)
    return calls


def test_a_sound_log_is_checked_in_two_parts_with_the_one_pass_answer(database: Database, log: Path,
                                                                       one_pass_calls: list[int]) -> None:
    with database.session() as session:
        one = provenance.audit_log(session, parallel=False)
    assert one_pass_calls == [1]
    with database.session() as session:
        two = provenance.audit_log(session, parallel=True)
    assert one_pass_calls == [1], "the two-part check fell back to the one pass on a sound log"
    assert two.chain.as_dict() == one.chain.as_dict() and two.chain.ok and two.chain.count == EVENTS
    assert {k: (v.seq, v.value) for k, v in two.state.versions.items()} == \
        {k: (v.seq, v.value) for k, v in one.state.versions.items()}
    for name in ("documents", "spaces", "people"):
        assert {k: v.seq for k, v in getattr(two.state, name).items()} == {k: v.seq for k, v in getattr(one.state, name).items()}


@pytest.mark.parametrize("size", [1, 2, 255, CUT, 257, 299, EVENTS])
def test_a_head_signed_at_any_size_checks_as_in_the_one_pass(database: Database, key: Path, size: int,
                                                              one_pass_calls: list[int]) -> None:
    """Heads signed when the log had ``size`` events, on both sides of the cut; the log grew to 300 since."""
    _record(database, 0, size)
    with database.session() as session:
        head = provenance.sign_tree_head(session, key)
    _record(database, size, EVENTS)
    assert head["tree_size"] == size
    with database.session() as session:
        two = provenance.audit_log(session, head, signing_key=key, parallel=True)
    assert one_pass_calls == [], "the two-part check fell back to the one pass on a sound log"
    with database.session() as session:
        one = provenance.audit_log(session, head, signing_key=key, parallel=False)
    assert two.chain.as_dict() == one.chain.as_dict() and two.chain.ok
    assert two.head is not None and two.head.ok, two.head
    assert two.head == one.head


TAMPERS = {
    "edit the first event": "UPDATE audit_event SET payload = '{}' WHERE seq = 1",
    "edit the last event of part one": f"UPDATE audit_event SET payload = '{{}}' WHERE seq = {CUT}",
    "edit the first event of part two": f"UPDATE audit_event SET payload = '{{}}' WHERE seq = {CUT + 1}",
    "edit the last event": f"UPDATE audit_event SET payload = '{{}}' WHERE seq = {EVENTS}",
    "delete the event at the cut": f"DELETE FROM audit_event WHERE seq = {CUT}",
    "delete after the cut": f"DELETE FROM audit_event WHERE seq = {CUT + 10}",
    "strip a MAC in part two": f"UPDATE audit_event SET mac = NULL WHERE seq = {CUT + 5}",
    "strip a MAC in part one": "UPDATE audit_event SET mac = NULL WHERE seq = 5",
    "rewrite the hash at the cut": f"UPDATE audit_event SET hash = '{'0' * 64}' WHERE seq = {CUT}",
    "cut the tail, head row left": f"DELETE FROM audit_event WHERE seq > {EVENTS - 3}",
}


@pytest.mark.parametrize("tamper", list(TAMPERS), ids=list(TAMPERS))
def test_a_tampered_log_gets_the_one_pass_answer(database: Database, log: Path, backend: str, tamper: str,
                                                 one_pass_calls: list[int]) -> None:
    with database.session() as session:
        head = provenance.sign_tree_head(session, log)
    with log_writable(database, backend):
        with database.engine.begin() as connection:
            connection.execute(text(TAMPERS[tamper]))
        with database.session() as session:
            one = provenance.audit_log(session, head, signing_key=log, parallel=False)
        with database.session() as session:
            two = provenance.audit_log(session, head, signing_key=log, parallel=True)
    assert not one.chain.ok, "the tamper went unnoticed: not a test of the fallback"
    assert one_pass_calls == [1, 1], "the two-part check did not leave a tampered log to the one pass"
    assert two.chain.as_dict() == one.chain.as_dict()
    assert two.head == one.head
