"""The tamper matrix of issue 16: an insider with write access to the database attacks the log and the
served content, and ``kb audit verify`` against the latest signed tree head names each attack.

Each row runs on its own database (a fresh copy per test) whose append-only triggers are dropped, as
an insider with the database's owner rights would. The head is signed with ``kb audit checkpoint``
*before* the attack, as a routine checkpoint would have been. ``WITHOUT_HEAD`` says which attacks
``kb audit verify`` names on its own, without a head; docs/reliability.md prints this table and
``test_the_table_in_the_docs_is_this_matrix`` keeps the two equal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from kb.config import Settings
from kb.db import Database
from kb.provenance.chain import event_hash
from tests.audit import EVENTS_SELECT, log_writable, rewrite_history
from tests.factories import make_document

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def invoke(*args: str):  # noqa: ANN201
    from kb.cli import app

    return runner.invoke(app, list(args), catch_exceptions=False)


# ------------------------------------------------------------------------------------ the attacks

def _last_seq(connection) -> int:  # noqa: ANN001
    return connection.execute(text("SELECT MAX(seq) FROM audit_event")).scalar_one()


def _seq_of(connection, action: str) -> int:  # noqa: ANN001
    return connection.execute(text("SELECT MIN(seq) FROM audit_event WHERE action = :a"), {"a": action}).scalar_one()


def change_payload(connection) -> None:  # noqa: ANN001
    connection.execute(text("UPDATE audit_event SET payload = '{\"global_role\":\"admin\"}' WHERE seq = 5"))


def delete_event(connection) -> None:  # noqa: ANN001
    connection.execute(text("DELETE FROM audit_event WHERE seq = 7"))


def swap_two(connection) -> None:  # noqa: ANN001
    rows = {r.seq: r for r in connection.execute(text(EVENTS_SELECT + " WHERE seq IN (4, 5)"))}
    for target, source in ((4, 5), (5, 4)):
        connection.execute(text("UPDATE audit_event SET action = :a, object_id = :o, payload = :p WHERE seq = :s"),
                           {"a": rows[source].action, "o": rows[source].object_id, "p": rows[source].payload, "s": target})


def cut_last_three(connection) -> None:  # noqa: ANN001
    connection.execute(text("DELETE FROM audit_event WHERE seq > :s"), {"s": _last_seq(connection) - 3})


def cut_last_three_and_rewind(connection) -> None:  # noqa: ANN001
    cut_last_three(connection)
    last = connection.execute(text("SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1")).one()
    connection.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": last.seq, "h": last.hash})


def recompute_chain(connection) -> None:  # noqa: ANN001
    """Forge a rating's payload (no commitment: the content check cannot see it), recompute every later hash."""
    rewrite_history(connection, forged_seq=_seq_of(connection, "rating.set"))


def _append(connection, *, action: str, actor_id: int | None, actor_name: str, object_type: str, object_id: str,  # noqa: ANN001
            payload: dict) -> None:
    head = connection.execute(text("SELECT seq, hash FROM audit_head")).one()
    seq, at, body = head.seq + 1, "2026-12-05T10:00:00.000000Z", json.dumps(payload, sort_keys=True, separators=(",", ":"))
    digest = event_hash(seq=seq, at=at, actor_id=actor_id, actor_name=actor_name, action=action, object_type=object_type,
                        object_id=object_id, payload=body, prev_hash=head.hash, channel="api")
    connection.execute(text(
        "INSERT INTO audit_event (seq, at, actor_id, actor_name, channel, action, object_type, object_id, payload, prev_hash, hash) "
        "VALUES (:s, :at, :ai, :an, 'api', :a, :ot, :oi, :p, :ph, :h)"),
        {"s": seq, "at": at, "ai": actor_id, "an": actor_name, "a": action, "ot": object_type, "oi": object_id,
         "p": body, "ph": head.hash, "h": digest})
    connection.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": seq, "h": digest})


def _user_id(connection, username: str) -> int:  # noqa: ANN001
    return connection.execute(text("SELECT id FROM user_account WHERE username = :u"), {"u": username}).scalar_one()


def forged_approval(connection) -> None:  # noqa: ANN001
    """A well-formed version.approve appended by INSERT (not blocked), claiming otto approved the version in review."""
    _append(connection, action="version.approve", actor_id=_user_id(connection, "otto"), actor_name="otto",
            object_type="document", object_id="in-review", payload={"version": 1, "comment": "looks fine"})


def edit_body(connection) -> None:  # noqa: ANN001
    connection.execute(text("UPDATE document_version SET body_md = 'Everyone gets a bonus of 1000 euro.' "
                            "WHERE state = 'approved' AND document_id = (SELECT id FROM document WHERE slug = 'child-benefit')"))


def rewrite_approver(connection) -> None:  # noqa: ANN001
    connection.execute(text("UPDATE document_version SET approver_id = :o WHERE approver_id = :a"),
                       {"o": _user_id(connection, "otto"), "a": _user_id(connection, "olga")})


def edit_state(connection) -> None:  # noqa: ANN001
    connection.execute(text("UPDATE document_version SET state = 'approved' "
                            "WHERE document_id = (SELECT id FROM document WHERE slug = 'in-review')"))


def edit_safeguard(connection) -> None:  # noqa: ANN001
    connection.execute(text("UPDATE space SET four_eyes = :f WHERE slug = 'benefits'"), {"f": False})


def edit_served_pointer(connection) -> None:  # noqa: ANN001
    connection.execute(text("UPDATE document SET current_version_id = NULL WHERE slug = 'child-benefit'"))


def swap_people(connection) -> None:  # noqa: ANN001
    """olga's approvals would read "Otto (@otto)": swap the two rows' usernames and display names."""
    for old, new in (("olga", "tmp-olga"), ("otto", "olga"), ("tmp-olga", "otto")):
        connection.execute(text("UPDATE user_account SET username = :n WHERE username = :o"), {"n": new, "o": old})
    for username, name in (("olga", "Olga"), ("otto", "Otto")):
        connection.execute(text("UPDATE user_account SET display_name = :d, display_name_key = :k WHERE username = :u"),
                           {"d": f"{name} ", "k": f"{username}-swapped", "u": username})
        connection.execute(text("UPDATE user_account SET display_name = :d WHERE username = :u"), {"d": name, "u": username})


def set_password(connection) -> None:  # noqa: ANN001
    """A password the insider knows, so as to sign in as otto (and approve as him through any surface)."""
    from kb.accounts.service import hash_password

    connection.execute(text("UPDATE user_account SET password_hash = :h WHERE username = 'otto'"),
                       {"h": hash_password("insider-knows-it")})


def plant_token(connection) -> None:  # noqa: ANN001
    """An API token for otto inserted directly: with it, anyone approves as otto through the API."""
    import hashlib

    raw = "kb_planted-by-an-insider-0123456789abcdefghij"
    connection.execute(text("INSERT INTO api_token (user_id, name, prefix, token_hash, created_at) "
                            "VALUES (:u, 'cli', :p, :h, '2026-12-05 10:00:00')"),
                       {"u": _user_id(connection, "otto"), "p": raw[:10], "h": hashlib.sha256(raw.encode()).hexdigest()})


def edit_passage(connection) -> None:  # noqa: ANN001
    """Search indexes and shows passages (``document_chunk``), not the body: forge one, then `kb reindex` serves it."""
    connection.execute(text("UPDATE document_chunk SET text = 'Everyone gets a bonus of 1000 euro.' WHERE version_id = "
                            "(SELECT current_version_id FROM document WHERE slug = 'child-benefit')"))


def consistent_forgery(connection) -> None:  # noqa: ANN001
    """Edit a body *and* append an event committing to the edited row: the content check agrees; only the head tells."""
    from sqlalchemy.orm import Session as OrmSession

    from kb.documents.commitments import commitment
    from kb.documents.models import Version

    edit_body(connection)
    with OrmSession(bind=connection) as orm:
        version = orm.execute(text("SELECT id FROM document_version WHERE state = 'approved' AND document_id = "
                                   "(SELECT id FROM document WHERE slug = 'child-benefit')")).scalar_one()
        served = commitment(orm.get(Version, version))
        document = orm.execute(text("SELECT space_id, owner_id, current_version_id, translation_of_id FROM document "
                                    "WHERE slug = 'child-benefit'")).one()
    _append(connection, action="version.edit", actor_id=_user_id(connection, "carl"), actor_name="carl",
            object_type="document", object_id="child-benefit",
            payload={"version": served["version"], "served": [served],
                     "document": {"space": document.space_id, "owner": document.owner_id,
                                  "current_version_id": document.current_version_id,
                                  "translation_of": document.translation_of_id}})


def _swap_ids(connection, table: str, first: int, second: int, moved: tuple[tuple[str, str], ...]) -> None:  # noqa: ANN001
    """Swap two rows' ids in ``table``, and move the rows of ``moved`` (table, column) that name them along,
    with the foreign keys' checks put off as the database's owner can (SQLite: deferred to the commit;
    PostgreSQL: the replication role, which skips the FK triggers)."""
    if connection.dialect.name == "sqlite":
        connection.execute(text("PRAGMA defer_foreign_keys = ON"))
    else:
        connection.execute(text("SET LOCAL session_replication_role = replica"))
    spare = connection.execute(text(f"SELECT max(id) + 1000 FROM {table}")).scalar_one()
    for old, new in ((first, spare), (second, first), (spare, second)):
        connection.execute(text(f"UPDATE {table} SET id = :new WHERE id = :old"), {"new": new, "old": old})
        for other, column in moved:
            connection.execute(text(f"UPDATE {other} SET {column} = :new WHERE {column} = :old"), {"new": new, "old": old})


def _approved_version(connection, slug: str) -> int:  # noqa: ANN001
    return connection.execute(text("SELECT v.id FROM document_version v JOIN document d ON d.id = v.document_id "
                                   "WHERE d.slug = :s AND v.state = 'approved'"), {"s": slug}).scalar_one()


def swap_version_ids(connection) -> None:  # noqa: ANN001
    """child-benefit would serve housing's approved text, author and approver: the two versions' row ids
    swapped, their passages and concept uses moved along, every committed field of each row intact."""
    _swap_ids(connection, "document_version", _approved_version(connection, "child-benefit"),
              _approved_version(connection, "housing"), (("document_chunk", "version_id"), ("concept_use", "version_id")))


def swap_document_ids(connection) -> None:  # noqa: ANN001
    """Two documents' row ids swapped, their versions moved along: what names a document by id (its
    ratings, comments, a translation's original) would now name the other."""
    first, second = (connection.execute(text("SELECT id FROM document WHERE slug = :s"), {"s": slug}).scalar_one()
                     for slug in ("child-benefit", "housing"))
    _swap_ids(connection, "document", first, second, (("document_version", "document_id"),))


def swap_space_ids(connection) -> None:  # noqa: ANN001
    """benefits' pages would move under elsewhere's owners and safeguards: the two spaces' row ids swapped,
    their members moved along."""
    first, second = (connection.execute(text("SELECT id FROM space WHERE slug = :s"), {"s": slug}).scalar_one()
                     for slug in ("benefits", "elsewhere"))
    _swap_ids(connection, "space", first, second, (("space_membership", "space_id"),))


def unrevoke_token(connection) -> None:  # noqa: ANN001
    """A token otto revoked made usable again: whoever kept it acts as otto through the API."""
    connection.execute(text("UPDATE api_token SET revoked_at = NULL WHERE revoked_at IS NOT NULL"))


def repoint_merge(connection) -> None:  # noqa: ANN001
    """Cards of pages for *lodger* (merged into *tenant*) would read *student*: the signed ids are untouched."""
    connection.execute(text("UPDATE concept SET replaced_by_id = (SELECT id FROM concept WHERE key = 'student') "
                            "WHERE key = 'lodger'"))


def close_report(connection) -> None:  # noqa: ANN001
    """A reader's report that housing is outdated closed directly: it leaves every owner's review queue unseen."""
    connection.execute(text("UPDATE review_request SET resolved_at = CURRENT_TIMESTAMP"))


def delete_report(connection) -> None:  # noqa: ANN001
    """The same report deleted (its flag kept, so the reader sees nothing amiss)."""
    connection.execute(text("DELETE FROM review_request"))


@dataclass(frozen=True)
class Row:
    attack: str
    tamper: Callable
    with_head: str
    """A phrase ``kb audit verify --checkpoint LATEST`` prints for it."""
    without_head: str | None
    """The phrase ``kb audit verify`` prints without a head, or None where it cannot see the attack."""


ROWS = [
    Row("change a payload", change_payload, "chain broken at seq 5", "chain broken at seq 5"),
    Row("delete an event", delete_event, "chain broken at seq 7", "chain broken at seq 7"),
    Row("swap two events", swap_two, "chain broken at seq 4", "chain broken at seq 4"),
    Row("cut the last three events", cut_last_three, "truncated", "chain head row disagrees"),
    Row("cut the last three events and rewind the head row", cut_last_three_and_rewind, "truncated", None),
    Row("edit a payload and recompute every later hash", recompute_chain, "no longer hash to the signed root",
        "was not written by kb: its MAC does not verify"),
    Row("append a forged `version.approve` event (INSERT is not blocked)", forged_approval,
        "are covered by no signed tree head", "was not written by kb: it carries no MAC"),
    Row("edit an approved version's `body_md` directly", edit_body,
        "differs: document child-benefit v1: body_sha256", "differs: document child-benefit v1: body_sha256"),
    Row("rewrite an approval's `approver_id` to someone else", rewrite_approver,
        "differs: document child-benefit v1: approver", "differs: document child-benefit v1: approver"),
    Row("set a version's `state` directly (in review → approved)", edit_state,
        "differs: document in-review v1: state", "differs: document in-review v1: state"),
    Row("switch a space's four-eyes safeguard off directly", edit_safeguard,
        "differs: space benefits: four_eyes", "differs: space benefits: four_eyes"),
    Row("withdraw a document by clearing its served version (`current_version_id`)", edit_served_pointer,
        "differs: document child-benefit: current_version_id", "differs: document child-benefit: current_version_id"),
    Row("swap two people's usernames and display names (olga's approvals read otto)", swap_people,
        "differs: user olga: id", "differs: user olga: id"),
    Row("set a person's password hash directly, to sign in as them", set_password,
        "differs: user otto: password", "differs: user otto: password"),
    Row("plant an API token for someone, to act as them through the API", plant_token,
        "in the database but never recorded in the log", "in the database but never recorded in the log"),
    Row("edit a searchable passage (`document_chunk.text`) directly", edit_passage,
        "differs: document child-benefit v1: chunks", "differs: document child-benefit v1: chunks"),
    Row("point a merged taxonomy concept's replacement elsewhere (how signed cards read it)", repoint_merge,
        "differs: concept situation:lodger (id 2): replaced_by", "differs: concept situation:lodger (id 2): replaced_by"),
    Row("swap two approved versions' row ids (one page serves the other's text and approver)", swap_version_ids,
        "differs: document child-benefit v1: id", "differs: document child-benefit v1: id"),
    Row("swap two documents' row ids", swap_document_ids,
        "differs: document child-benefit: id", "differs: document child-benefit: id"),
    Row("swap two spaces' row ids (one space's pages move under the other's owners)", swap_space_ids,
        "differs: space benefits: id", "differs: space benefits: id"),
    Row("make a revoked API token usable again", unrevoke_token,
        "revoked is false in the database", "revoked is false in the database"),
    Row("close a reader's report (outdated) directly: it leaves the owners' review queue", close_report,
        "taken out of the owners' review queue outside kb", "taken out of the owners' review queue outside kb"),
    Row("delete a reader's report", delete_report,
        "a reader's report deleted outside kb", "a reader's report deleted outside kb"),
    Row("edit a body and append an event committing to the edit", consistent_forgery,
        "are covered by no signed tree head", "was not written by kb: it carries no MAC"),
]


# ----------------------------------------------------------------------------------- the fixture

def _situations(database: Database, admin) -> None:  # noqa: ANN001
    """A taxonomy: tenant, lodger (merged into tenant) and student."""
    from kb.taxonomy import actions
    from kb.taxonomy.schemas import ConceptCreate, SchemeCreate

    with database.session() as session:
        actions.create_scheme(session, admin, data=SchemeCreate(key="situation", field="applies_to", titles={"en": "Situation"}))
        for key in ("tenant", "lodger", "student"):
            actions.create_concept(session, admin, scheme="situation", data=ConceptCreate(key=key, preferred={"en": key.title()}))
        actions.merge_concept(session, admin, scheme="situation", key="lodger", into="tenant")


@pytest.fixture
def signed(database: Database, client, cast, cli_env: Settings, backend: str, tmp_path: Path):  # noqa: ANN001, ANN201
    """The cast, child-benefit approved, a version in review, a reader's report and three ratings (the last three
    events); a head signed over all of it; then the append-only triggers dropped, as the insider would."""
    make_document(database, cast, slug="in-review", state="in_review")
    _situations(database, cast["admin"].actor)
    make_document(database, cast, slug="housing", state="approved")
    made = client.post("/api/v1/me/tokens", json={"name": "old laptop"}, headers=cast["owner2"].headers)
    assert made.status_code == 201, made.text
    assert client.delete(f"/api/v1/me/tokens/{made.json()['id']}", headers=cast["owner2"].headers).status_code == 200
    report = client.post("/api/v1/flags", json={"target": "document", "target_id": "housing", "reason": "outdated",
                                                "note": "The rates changed in April"}, headers=cast["reader"].headers)
    assert report.status_code == 201 and report.json()["status"] == "review_requested", report.text
    for who, stars in (("reader", 4), ("owner2", 5), ("moderator", 3)):
        assert client.put("/api/v1/documents/child-benefit/rating", json={"stars": stars},
                          headers=cast[who].headers).status_code == 200
    head = tmp_path / "latest.json"
    result = invoke("audit", "checkpoint", str(head))
    assert result.exit_code == 0, result.output
    clean = invoke("audit", "verify", "--checkpoint", str(head))
    assert clean.exit_code == 0, clean.output
    with log_writable(database, backend):
        yield head


@pytest.mark.parametrize("row", ROWS, ids=[row.attack for row in ROWS])
def test_each_attack_is_named_against_the_latest_signed_head(signed: Path, database: Database, row: Row) -> None:
    with database.engine.begin() as connection:
        row.tamper(connection)
    database.dispose()  # no cached connection or tree carries the state from before the attack
    with_head = invoke("audit", "verify", "--checkpoint", str(signed))
    assert with_head.exit_code == 3, with_head.output
    assert row.with_head in with_head.output, with_head.output
    without = invoke("audit", "verify")
    if row.without_head is None:
        assert without.exit_code == 0, f"{row.attack} is now detected without a head too: update the table\n{without.output}"
    else:
        assert without.exit_code == 3 and row.without_head in without.output, without.output


def markdown_table() -> str:
    lines = ["| # | tamper (on the database, as its owner) | `kb audit verify --checkpoint LATEST` | `kb audit verify` alone |",
             "|---|---|---|---|"]
    for number, row in enumerate(ROWS, 1):
        lines.append(f"| {number} | {row.attack} | detected: {row.with_head} | "
                     f"{'detected: ' + row.without_head if row.without_head else 'missed'} |")
    return "\n".join(lines) + "\n"


def test_the_table_in_the_docs_is_this_matrix() -> None:
    assert markdown_table() in (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8"), \
        "docs/reliability.md's tamper matrix differs from tests/test_tamper_matrix.py's ROWS: paste markdown_table()"


def test_the_admin_web_page_names_a_direct_edit_as_the_cli_does(client, database: Database, cast) -> None:  # noqa: ANN001
    """The web's /audit?verify=1 runs the same check (kb.documents.actions.audit_database) and lists the difference."""
    from tests.factories import sign_in

    sign_in(client, database, "adam")
    clean = client.get("/audit?verify=1").text
    assert "is what the log commits to" in clean and "changed outside kb" not in clean
    assert '<span class="badge">api</span>' in clean  # each event's line names its channel (issue 17's audit page)
    with database.engine.begin() as connection:
        edit_body(connection)
    page = client.get("/audit?verify=1").text
    assert "1 difference between the database and what the log commits to" in page
    assert "document child-benefit v1: body_sha256 is" in page


def test_no_head_and_no_receipt_is_signed_over_an_event_kb_did_not_write(client, database: Database, cast,  # noqa: ANN001
                                                                           backend: str) -> None:
    """The review's attack: append a forged event, then fetch a head or a receipt anonymously so that the server
    signs over it. kb refuses (503) until the event is gone: it carries no MAC under the event key."""
    assert client.get("/public/v1/transparency/tree-head").status_code == 200
    assert client.get("/public/v1/documents/child-benefit/receipt").status_code == 200
    with database.engine.begin() as connection:
        consistent_forgery(connection)
    head = client.get("/public/v1/transparency/tree-head")
    assert head.status_code == 503 and "was not written by kb" in head.json()["error"]["message"], head.text
    receipt = client.get("/public/v1/documents/child-benefit/receipt")
    assert receipt.status_code == 503, receipt.text
