"""Which row each version, document and space is, and what a credential's revocation and expiry are: the
insider review of 2026-12-07 (F1, F3).

The log committed to the ids documents name their space, served version and original by, but not to
which row each of those was: two rows' ids swapped outside kb served one document's approved text,
author and approver under another's name, and ``kb audit verify`` found nothing. It also committed to
a token's issue but not to its revocation: a revoked token made usable again acted as its user. The
tamper matrix (tests/test_tamper_matrix.py) names each attack; these tests check what is served
meanwhile, and the upgrade that commits to the ids of rows committed before.
"""

from __future__ import annotations

import json

from sqlalchemy import text

from tests.audit import audit_events, log_writable
from tests.factories import make_document
from tests.test_tamper_matrix import swap_version_ids


def _differences(database) -> list[tuple[str, str]]:  # noqa: ANN001
    from kb.documents import integrity

    with database.session() as session:
        return sorted((d.subject, d.field) for d in integrity.differences(session))


def test_a_document_serves_only_a_version_of_its_own(client, database, cast) -> None:  # noqa: ANN001
    """After the versions' ids are swapped, child-benefit's pointer names housing's approved version: it is
    served under neither name as child-benefit's (before: housing's text, author and approver)."""
    make_document(database, cast, slug="housing", state="approved", body="# Housing\n\nRent support for tenants.")
    with database.engine.begin() as connection:
        swap_version_ids(connection)
    database.dispose()
    assert ("document child-benefit v1", "id") in _differences(database)
    public = client.get("/public/v1/documents/child-benefit")
    assert public.status_code == 404 or "Rent support" not in public.text, public.text
    card = client.get("/api/v1/documents/child-benefit", headers=cast["reader"].headers)
    assert "Rent support" not in card.text
    hits = client.get("/public/v1/search", params={"q": "rent support tenants"}).json()["data"]
    assert not any("child-benefit" in json.dumps(hit) for hit in hits), hits


def as_written_before_0025(database, backend: str) -> None:  # noqa: ANN001
    """The log as kb wrote it before commitments carried row ids (payloads edited as the database's owner could)."""
    with log_writable(database, backend), database.engine.begin() as connection:
        rows = connection.execute(text("SELECT seq, payload FROM audit_event WHERE object_type IN ('document', 'space')")).all()
        for seq, payload in rows:
            data = json.loads(payload)
            for item in data.get("served") or ():
                item.pop("id", None)
            for member in ("document", "safeguards"):
                if isinstance(data.get(member), dict):
                    data[member].pop("id", None)
            connection.execute(text("UPDATE audit_event SET payload = :p WHERE seq = :s"), {"p": json.dumps(data), "s": seq})


def test_the_upgrade_commits_to_the_row_ids_and_launders_nothing(client, database, cast, backend) -> None:  # noqa: ANN001
    """A log whose commitments predate the ids is compared without them; crossing 0025 commits to the ids of
    every object otherwise as committed (one changed outside kb meanwhile gets none and stays a
    difference); upgrading again records nothing; a later swap is named."""
    from kb import migrations

    make_document(database, cast, slug="housing", state="approved")
    as_written_before_0025(database, backend)
    assert _differences(database) == []
    with database.engine.begin() as connection:  # changed outside kb before the upgrade
        connection.execute(text("UPDATE document_version SET approver_id = (SELECT id FROM user_account WHERE username = 'otto') "
                                "WHERE document_id = (SELECT id FROM document WHERE slug = 'housing')"))
    known = len(audit_events(database))
    migrations.id_baseline(database)
    recorded = audit_events(database)[known:]
    assert {event["action"] for event in recorded} == {"audit.baseline"}
    assert {(e["object_type"], e["object_id"]) for e in recorded} >= {("document", "child-benefit"), ("space", "benefits")}
    assert _differences(database) == [("document housing v1", "approver")]
    with database.session() as session:
        from kb import provenance

        state = provenance.committed_state(session)
        assert "id" in state.versions[("child-benefit", 1)].value and "id" in state.spaces["benefits"].value
        assert "id" not in state.versions[("housing", 1)].value  # not laundered: its approver was changed
    again = len(audit_events(database))
    migrations.id_baseline(database)  # as a rewound revision would run it again
    assert len(audit_events(database)) == again
    with database.engine.begin() as connection:
        from tests.test_tamper_matrix import swap_space_ids

        swap_space_ids(connection)
    database.dispose()
    assert ("space benefits", "id") in _differences(database)


def test_a_tokens_expiry_moved_outside_kb_is_named(client, database, cast) -> None:  # noqa: ANN001
    """A token issued for 30 days, its expiry moved a year on: verify names it (before: nothing)."""
    made = client.post("/api/v1/me/tokens", json={"name": "laptop", "expires_in_days": 30}, headers=cast["owner2"].headers)
    assert made.status_code == 201, made.text
    assert _differences(database) == []
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE api_token SET expires_at = expires_at + INTERVAL '365 days' WHERE id = :i"
                                if database.engine.dialect.name != "sqlite" else
                                "UPDATE api_token SET expires_at = datetime(expires_at, '+365 days') WHERE id = :i"),
                           {"i": made.json()["id"]})
    assert _differences(database) == [(f"api token {made.json()['id']}", "expires_at")]


def test_a_signed_out_session_made_live_again_is_named(client, database, cast) -> None:  # noqa: ANN001
    """A web session ended by signing out, its revocation cleared outside kb: the cookie would sign in again."""
    from tests.factories import sign_in

    csrf = sign_in(client, database, "otto")
    assert client.post("/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    with database.engine.begin() as connection:
        ended = connection.execute(text("UPDATE web_session SET revoked_at = NULL WHERE revoked_at IS NOT NULL")).rowcount
    assert ended == 1
    assert [field for _, field in _differences(database)] == ["revoked"]


def test_a_versions_history_edited_outside_kb_is_named(client, database, cast) -> None:  # noqa: ANN001
    """F2: who rejected or retired a version, why, when it was created and submitted, and the body digest column
    cards and receipts show: each edited outside kb is named (before: served in the history and PROV as edited)."""
    make_document(database, cast, slug="turned-down", state="rejected")
    make_document(database, cast, slug="ended", state="retired")
    assert _differences(database) == []
    edits = {
        ("document turned-down v1", "rejected_by"): "UPDATE document_version SET rejected_by_id = "
        "(SELECT id FROM user_account WHERE username = 'otto') WHERE rejected_by_id IS NOT NULL",
        ("document turned-down v1", "rejection_reason_sha256"): "UPDATE document_version SET rejection_reason = 'plagiarised' "
        "WHERE rejection_reason IS NOT NULL",
        ("document ended v1", "ended_by"): "UPDATE document_version SET ended_by_id = "
        "(SELECT id FROM user_account WHERE username = 'carl') WHERE ended_by_id IS NOT NULL",
        ("document ended v1", "end_reason_sha256"): "UPDATE document_version SET end_reason = 'unlawful' WHERE end_reason IS NOT NULL",
        ("document child-benefit v1", "created_at"): "UPDATE document_version SET created_at = '2019-01-01 00:00:00' "
        "WHERE document_id = (SELECT id FROM document WHERE slug = 'child-benefit')",
        ("document child-benefit v1", "submitted_at"): "UPDATE document_version SET submitted_at = '2019-01-02 00:00:00' "
        "WHERE document_id = (SELECT id FROM document WHERE slug = 'child-benefit')",
        ("document child-benefit v1", "body_sha256 column"): "UPDATE document_version SET body_sha256 = '"
        + "0" * 64 + "' WHERE document_id = (SELECT id FROM document WHERE slug = 'child-benefit')",
    }
    with database.engine.begin() as connection:
        for statement in edits.values():
            assert connection.execute(text(statement)).rowcount >= 1, statement
    assert set(edits) <= set(_differences(database)), _differences(database)
