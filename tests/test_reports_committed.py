"""Readers' reports (a document flagged wrong or outdated) against the log: the insider gap left by the
review of 2026-12-07.

A report waits in the owners' review queue until an approval or a retirement closes it, and that
event names it (``resolved_reports``). Before this, whoever could write the database could close or
delete a report directly and take a reader's warning out of every owner's queue, and ``kb audit
verify`` found nothing. The tamper matrix (tests/test_tamper_matrix.py) has the close and the delete;
these tests check the rest: kb's own closing is not a difference, a report moved to another document,
reopened or planted is, and reports made before ``flag.create`` named their id are matched by their
document and reason.
"""

from __future__ import annotations

import json

from sqlalchemy import text

from tests.audit import log_writable
from tests.factories import make_document


def _differences(database) -> list[str]:  # noqa: ANN001
    from kb.documents import integrity

    with database.session() as session:
        return [str(d) for d in integrity.differences(session)]


def _report(client, cast, who: str, slug: str, reason: str = "outdated") -> None:  # noqa: ANN001
    made = client.post("/api/v1/flags", json={"target": "document", "target_id": slug, "reason": reason,
                                              "note": "The April rates"}, headers=cast[who].headers)
    assert made.status_code == 201 and made.json()["status"] == "review_requested", made.text


def test_reports_made_and_closed_by_kb_are_no_difference(client, database, cast) -> None:  # noqa: ANN001
    make_document(database, cast, slug="housing", state="approved")
    _report(client, cast, "reader", "housing")
    _report(client, cast, "contributor", "child-benefit", reason="wrong")
    assert _differences(database) == []
    retired = client.post("/api/v1/documents/housing/retire", json={"reason": "Replaced by the 2027 guide"},
                          headers=cast["owner"].headers)
    assert retired.status_code == 200, retired.text
    assert _differences(database) == []


def test_a_report_moved_reopened_or_planted_is_named(client, database, cast) -> None:  # noqa: ANN001
    make_document(database, cast, slug="housing", state="approved")
    _report(client, cast, "reader", "housing")
    _report(client, cast, "contributor", "child-benefit", reason="wrong")
    assert client.post("/api/v1/documents/housing/retire", json={"reason": "Replaced by the 2027 guide"},
                       headers=cast["owner"].headers).status_code == 200
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE review_request SET resolved_at = NULL"))  # the closed report on housing reopened
        connection.execute(text("UPDATE review_request SET reason = 'outdated' WHERE reason = 'wrong'"))
        requester = connection.execute(text("SELECT requested_by_id, document_id FROM review_request LIMIT 1")).one()
        connection.execute(text("INSERT INTO review_request (document_id, reason, note, requested_by_id, created_at) "
                                "VALUES (:d, 'wrong', 'planted', :u, CURRENT_TIMESTAMP)"),
                           {"d": requester.document_id, "u": requester.requested_by_id})
    database.dispose()
    found = _differences(database)
    assert any("(document housing): resolved is false in the database" in line for line in found), found
    assert any("(document child-benefit): reason is \"outdated\" in the database, but the log committed \"wrong\"" in line
               for line in found), found
    assert any("a reader's report in the database that no flag made" in line for line in found), found


def test_reports_made_before_their_id_was_committed_match_by_document_and_reason(client, database, cast, backend) -> None:  # noqa: ANN001
    """A log written before ``flag.create`` named the report: one report per flag matches; a second row, or a
    missing one, is still named."""
    make_document(database, cast, slug="housing", state="approved")
    _report(client, cast, "reader", "housing")
    with log_writable(database, backend), database.engine.begin() as connection:
        for seq, payload in connection.execute(text("SELECT seq, payload FROM audit_event WHERE action = 'flag.create'")).all():
            data = json.loads(payload)
            assert data.pop("report") >= 1
            connection.execute(text("UPDATE audit_event SET payload = :p WHERE seq = :s"), {"p": json.dumps(data), "s": seq})
    database.dispose()
    assert _differences(database) == []
    with database.engine.begin() as connection:  # the reports are rows like any other: no trigger guards them
        row = connection.execute(text("SELECT document_id, requested_by_id FROM review_request")).one()
        connection.execute(text("INSERT INTO review_request (document_id, reason, note, requested_by_id, created_at) "
                                "VALUES (:d, 'outdated', 'a second', :u, CURRENT_TIMESTAMP)"),
                           {"d": row.document_id, "u": row.requested_by_id})
    database.dispose()
    assert [line for line in _differences(database) if "no flag made" in line], _differences(database)
    with database.engine.begin() as connection:
        connection.execute(text("DELETE FROM review_request"))
    database.dispose()
    found = _differences(database)
    assert found == [line for line in found if "report (outdated) of document housing" in line] and len(found) == 1, found
    assert "deleted outside kb" in found[0]
