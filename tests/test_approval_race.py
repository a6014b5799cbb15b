"""Concurrent approvals of one document yield exactly one approved version (RELIABILITY T12)."""

from __future__ import annotations

import threading

from sqlalchemy import text

from kb.db import transaction
from kb.documents import service
from kb.errors import KbError
from tests.factories import doc_body, make_cast, make_person
from kb.actors import SpaceRole

RACERS = 8
ROUNDS = 3


def test_eight_concurrent_approvals_one_winner(client, database) -> None:  # noqa: ANN001
    """K rounds of eight owners approving one version at the same instant: exactly one winner each."""
    cast = make_cast(database)
    owners = [cast["owner"], cast["owner2"]] + [
        make_person(database, f"owner{i}", spaces={"benefits": SpaceRole.owner}) for i in range(RACERS - 2)]
    for round_number in range(ROUNDS):
        title = f"Child benefit {round_number}"
        slug = title.lower().replace(" ", "-")
        client.post("/api/v1/spaces/benefits/documents", json=doc_body(title), headers=cast["contributor"].headers)
        client.post(f"/api/v1/documents/{slug}/versions/1/submit", json={}, headers=cast["contributor"].headers)
        barrier = threading.Barrier(RACERS)
        outcomes: list[str] = []
        lock = threading.Lock()

        def race(person) -> None:  # noqa: ANN001
            with database.session() as session:
                barrier.wait()
                try:
                    with transaction(session):
                        service.approve(session, actor=person.actor, slug=slug, number=1)
                    result = "approved"
                except KbError as exc:
                    result = exc.code.code
                except Exception as exc:  # noqa: BLE001 - would be a 5xx: must not happen
                    result = f"exception {exc!r}"
            with lock:
                outcomes.append(result)

        threads = [threading.Thread(target=race, args=(person,)) for person in owners]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcomes) == ["approved"] + ["illegal_transition"] * (RACERS - 1), (round_number, outcomes)
    with database.engine.connect() as connection:
        per_document = connection.execute(text(
            "SELECT count(*) FROM document_version WHERE state = 'approved' GROUP BY document_id")).scalars().all()
        approvals = connection.execute(text("SELECT count(*) FROM audit_event WHERE action = 'version.approve'")).scalar()
    assert per_document == [1] * ROUNDS and approvals == ROUNDS
