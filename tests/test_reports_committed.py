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

import pytest

from sqlalchemy import text

from tests.audit import log_writable
from tests.factories import make_document, make_page_written_by, run_cli, sign_in


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


def _report_ids(database) -> list[int]:  # noqa: ANN001
    with database.engine.begin() as connection:
        return [row[0] for row in connection.execute(text("SELECT id FROM review_request ORDER BY id"))]


def test_a_deleted_report_whose_id_is_given_to_another_is_named(client, database, cast, backend) -> None:  # noqa: ANN001
    """The review's finding 1: delete rita's report and let the next report take its id; before, the next report's
    event stood for the deleted one and verify was clean."""
    make_document(database, cast, slug="housing", state="approved")
    _report(client, cast, "reader", "housing", reason="wrong")
    (deleted,) = _report_ids(database)
    with database.engine.begin() as connection:
        connection.execute(text("DELETE FROM review_request WHERE id = :i"), {"i": deleted})
        if backend == "postgresql":
            connection.execute(text("SELECT setval(pg_get_serial_sequence('review_request', 'id'), :i, false)"), {"i": deleted})
    database.dispose()
    _report(client, cast, "contributor", "child-benefit")
    assert _report_ids(database) == [deleted]  # the id was given to carl's report
    found = _differences(database)
    assert any("made again" in line and "its id given to another" in line for line in found), found


def test_a_reports_reporter_note_and_version_are_committed(client, database, cast) -> None:  # noqa: ANN001
    make_document(database, cast, slug="housing", state="approved")
    _report(client, cast, "reader", "housing", reason="wrong")
    with database.engine.begin() as connection:
        owner = connection.execute(text("SELECT id FROM user_account WHERE username = 'olga'")).scalar_one()
        other = connection.execute(text("SELECT v.id FROM document_version v JOIN document d ON d.id = v.document_id "
                                        "WHERE d.slug = 'child-benefit'")).scalar_one()
        connection.execute(text("UPDATE review_request SET note = 'a typo, nothing serious', requested_by_id = :o, "
                                "version_id = :v"), {"o": owner, "v": other})
    database.dispose()
    fields = {line.split(": ")[1].split(" is ")[0] for line in _differences(database)}
    assert {"by", "note_sha256", "version"} <= fields, fields


def test_a_closing_counts_only_on_its_own_document(client, database, cast, backend) -> None:  # noqa: ANN001
    """Finding 2: two reports made before flag.create named them; the closed one moved onto an open document's
    place and the open one onto the retired document. Each matches a flag by document and reason, but the
    retirement that closed report 1 was about old-guide, not housing."""
    make_document(database, cast, slug="old-guide", state="approved")
    make_document(database, cast, slug="housing", state="approved")
    _report(client, cast, "reader", "old-guide", reason="wrong")
    _report(client, cast, "reader", "housing", reason="wrong")
    assert client.post("/api/v1/documents/old-guide/retire", json={"reason": "Replaced"},
                       headers=cast["owner"].headers).status_code == 200
    with log_writable(database, backend), database.engine.begin() as connection:
        for seq, payload in connection.execute(text("SELECT seq, payload FROM audit_event WHERE action = 'flag.create'")).all():
            data = json.loads(payload)
            data.pop("report"), data.pop("report_state")
            connection.execute(text("UPDATE audit_event SET payload = :p WHERE seq = :s"), {"p": json.dumps(data), "s": seq})
    database.dispose()
    assert _differences(database) == []
    first, second = _report_ids(database)
    with database.engine.begin() as connection:
        ids = dict(connection.execute(text("SELECT slug, id FROM document")).all())
        connection.execute(text("UPDATE review_request SET document_id = :d, resolved_at = CURRENT_TIMESTAMP WHERE id = :i"),
                           {"d": ids["housing"], "i": first})
        connection.execute(text("UPDATE review_request SET document_id = :d, resolved_at = NULL WHERE id = :i"),
                           {"d": ids["old-guide"], "i": second})
    database.dispose()
    found = _differences(database)
    assert any(f"report {first} (document housing)" in line and "taken out of the owners' review queue" in line
               for line in found), found


def test_a_report_row_verify_cannot_read_is_named_and_the_queue_still_shows(client, database, cast, backend) -> None:  # noqa: ANN001
    """Finding 4 and 7: a reporter who does not exist broke every owner's queue (500), and a closing moment that is
    not a date broke verify (SQLite stores what it is given)."""
    make_document(database, cast, slug="housing", state="approved")
    _report(client, cast, "reader", "housing", reason="wrong")
    if backend == "sqlite":  # foreign keys off, as the database's owner can (a connection of its own: kb's turn them on)
        import sqlite3

        raw = sqlite3.connect(database.engine.url.database)
        raw.execute("PRAGMA foreign_keys = OFF")
        raw.execute("UPDATE review_request SET requested_by_id = 999999")
        raw.commit()
        raw.close()
    else:
        with database.engine.begin() as connection:
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            connection.execute(text("UPDATE review_request SET requested_by_id = 999999"))
    database.dispose()
    queue = client.get("/api/v1/review-queue", headers=cast["owner"].headers)
    assert queue.status_code == 200 and any(item["author"] == "(unknown reader)" for item in queue.json()["data"]), queue.text
    assert any(": by is 999999" in line for line in _differences(database))
    if backend == "sqlite":
        with database.engine.begin() as connection:
            connection.execute(text("UPDATE review_request SET resolved_at = 'closed'"))
        database.dispose()
        assert any("taken out of the owners' review queue" in line for line in _differences(database))


@pytest.mark.parametrize("legacy", [False, True], ids=["report", "report made before migration 0026"])
def test_an_approval_by_the_reported_texts_writer_leaves_the_report_open(client, database, cast, cli_env,  # noqa: ANN001
                                                                         legacy: bool) -> None:
    """Finding 6: olga wrote v1 (otto approved it) and a reader reports it wrong; carl submits an unchanged copy,
    olga approves it. The approval stands, but the report stays in the queue: olga may not close it. A report
    made before its version was kept (``version_id`` NULL) is about the version served when the approval
    is decided, v1, not the v2 it serves (the re-read of 2026-12-07)."""
    from kb.db import transaction
    from kb.documents import service as documents
    from kb.documents.schemas import DraftSave

    make_page_written_by(database, cast, slug="her-page", author="owner", approver="owner2")
    _report(client, cast, "reader", "her-page", reason="wrong")
    if legacy:
        with database.engine.begin() as connection:
            connection.execute(text("UPDATE review_request SET version_id = NULL"))
        database.dispose()
    with database.session() as session:
        with transaction(session):
            documents.save_draft(session, actor=cast["contributor"].actor, slug="her-page", data=DraftSave())
        with transaction(session):
            documents.submit(session, actor=cast["contributor"].actor, slug="her-page", number=2, intended_use="Tests")
    approved = client.post("/api/v1/documents/her-page/versions/2/approve", json={}, headers=cast["owner"].headers)
    assert approved.status_code == 200, approved.text
    queue = client.get("/api/v1/review-queue", headers=cast["owner2"].headers).json()["data"]
    reports = [item for item in queue if item["report"]]
    assert [item["document"] for item in reports] == ["her-page"]
    if not legacy:
        assert _differences(database) == []
    refused = client.post(f"/api/v1/reports/{reports[0]['report']}/dismiss", json={"reason": "Fine"},
                          headers=cast["owner"].headers)
    assert refused.status_code == 409, refused.text  # the report is about v1, olga's text, though v2 is carl's
    # Every surface's queue shows the version the report is about, and the one served now beside it.
    assert (reports[0]["version"], reports[0]["served_version"]) == (1, 2), reports[0]
    shown = run_cli("review-queue", token=cast["owner2"].token)
    assert shown.exit_code == 0 and "her-page v1 (v2 served now)" in shown.output, shown.output
    sign_in(client, database, "otto")
    page = client.get("/review")
    assert page.status_code == 200 and 'href="/d/her-page/v/1"' in page.text and "v1 <small>(v2 served now)</small>" in page.text
