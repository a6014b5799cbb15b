"""The hash chain's canonical form and append behaviour."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text as sql_text

from kb.provenance.chain import canonical_envelope, canonical_json

text = st.text(max_size=40)


@given(seq=st.integers(1, 2**62), at=text, actor_id=st.none() | st.integers(0, 2**62), actor_name=text, action=text,
       object_type=text, object_id=text, payload=text, prev_hash=text)
def test_fast_envelope_equals_canonical_json(**fields) -> None:  # noqa: ANN003
    assert canonical_envelope(**fields) == canonical_json(fields)


def test_chain_links_each_event_to_the_previous(database) -> None:  # noqa: ANN001
    from kb import provenance
    from kb.actors import SYSTEM
    from kb.db import transaction

    with database.session() as session:
        for i in range(3):
            with transaction(session):
                provenance.record(session, SYSTEM, "test.event", ("thing", i), {"i": i, "text": "ünïcödé"})
        events = provenance.list_events(session)
        assert [e.seq for e in events] == [1, 2, 3]
        assert events[0].prev_hash == "0" * 64
        assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
        assert provenance.head(session) == (3, events[-1].hash)
        assert provenance.verify_chain(session).ok


def test_an_append_reads_the_head_as_the_database_holds_it(database) -> None:  # noqa: ANN001
    """A session keeps its objects across commits (expire_on_commit off): one that still holds the head row
    from an earlier transaction, while another session appends, must link its next event to the new head."""
    from sqlalchemy import select

    from kb import provenance
    from kb.actors import SYSTEM
    from kb.db import transaction
    from kb.provenance.models import AuditHead

    with database.session() as first, database.session() as second:
        with transaction(first):
            provenance.record(first, SYSTEM, "test.event", ("thing", 1), {})
        kept = first.execute(select(AuditHead)).scalar_one()  # held: the session's copy outlives the transaction
        with transaction(second):
            other = provenance.record(second, SYSTEM, "test.event", ("thing", 2), {})
        assert kept.seq == 1  # the first session's copy is older than the database's head
        with transaction(first):
            event = provenance.record(first, SYSTEM, "test.event", ("thing", 3), {})
        assert (event.seq, event.prev_hash) == (3, other.hash)
        assert provenance.head(first) == (3, event.hash)
        assert provenance.verify_chain(first).ok


def test_audit_api_pages_and_filters(client, database) -> None:  # noqa: ANN001
    from tests.factories import make_cast

    cast = make_cast(database)
    first = client.get("/api/v1/audit", params={"limit": 5}, headers=cast["admin"].headers).json()
    assert [e["seq"] for e in first["data"]] == [1, 2, 3, 4, 5] and first["next_after_seq"] == 5
    second = client.get("/api/v1/audit", params={"limit": 5, "after_seq": 5}, headers=cast["admin"].headers).json()
    assert second["data"][0]["seq"] == 6 and second["data"][0]["prev_hash"] == first["data"][-1]["hash"]
    spaces = client.get("/api/v1/audit", params={"action": "space.create"}, headers=cast["admin"].headers).json()
    assert {e["object_id"] for e in spaces["data"]} == {"benefits", "elsewhere"}
    assert client.get("/api/v1/audit", headers=cast["reader"].headers).status_code == 403
    status = client.get("/api/v1/audit/verify", headers=cast["admin"].headers).json()
    assert status["ok"] is True and status["count"] == status["head_seq"] >= 15
    assert status["consistent"] is True and status["differences"] == []
    with database.engine.begin() as connection:  # a role granted outside kb: the API names it, as the CLI and the web do
        connection.execute(sql_text("UPDATE user_account SET global_role = 'admin' WHERE username = 'rita'"))
    status = client.get("/api/v1/audit/verify", headers=cast["admin"].headers).json()
    assert status["ok"] is True and status["consistent"] is False
    assert [(d["subject"], d["field"], d["logged"], d["stored"]) for d in status["differences"]] == [
        ("user rita", "global_role", "reader", "admin")]


def test_concurrent_appends_never_fork(database, backend: str) -> None:  # noqa: ANN001
    """Eight writers append at once (RELIABILITY T7): no gaps, no forks, no errors, the chain verifies.

    PostgreSQL gets the full figure (8 × 250); SQLite, whose writers queue on one file lock, a tenth.
    bench/concurrency.py does the same with 8 processes through the API.
    """
    import threading

    from kb import provenance
    from kb.actors import SYSTEM
    from kb.db import transaction

    writers, per_writer = 8, 250 if backend == "postgresql" else 25
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        with database.session() as session:
            barrier.wait()
            for i in range(per_writer):
                try:
                    with transaction(session):
                        provenance.record(session, SYSTEM, "test.event", ("worker", worker), {"i": i})
                except BaseException as exc:  # noqa: BLE001 - the figure is: 0 errors
                    errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    with database.session() as session:
        events = provenance.list_events(session, limit=10_000)
        result = provenance.verify_chain(session)
    assert errors == []
    assert [e.seq for e in events] == list(range(1, writers * per_writer + 1))
    assert len({e.prev_hash for e in events}) == len(events)  # forks = 0
    assert sorted((e.object_id, json.loads(e.payload)["i"]) for e in events) == sorted(
        (str(w), i) for w in range(writers) for i in range(per_writer))
    assert result.ok and result.count == writers * per_writer


def test_a_display_name_changed_outside_kb_is_named(client, database) -> None:  # noqa: ANN001
    """Cards show the display name beside the @username: renaming olga to "Otto Owner" in the database is a difference."""
    from kb.documents import integrity
    from tests.factories import make_cast

    make_cast(database)
    with database.engine.begin() as connection:
        connection.execute(sql_text("UPDATE user_account SET display_name = 'Otto Owner' WHERE username = 'olga'"))
    with database.session() as session:
        assert [str(d) for d in integrity.differences(session)] == [
            'user olga: display_name is "Otto Owner" in the database, but the log committed "Olga" at seq 8']
