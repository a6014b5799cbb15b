"""An existing database migrates (issue 16): crossing revision 0014, a log written before commitments
existed gets its baseline once — the commitments of every object, a ``version.publish`` per public
version — and a first signed tree head; ``kb audit verify`` then holds, and later tampering shows."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner

from kb import provenance
from kb.config import Settings
from kb.db import Database
from kb.documents.chunking import chunk_markdown
from kb.migrations import upgrade
from kb.provenance.chain import event_hash

runner = CliRunner()

USERS = "(1, 'olga', 'Olga', 'olga', 'reader', {true}, '2026-01-01 00:00:00'), (2, 'carl', 'Carl', 'carl', 'reader', {true}, '2026-01-01 00:00:00')"


def _old_database(tmp_path: Path) -> Database:
    """A database at revision 0012 with a space, two people, a public approved document and a draft, and
    a chained log whose events carry no channel and no commitments, as such a database had them."""
    database = Database(Settings(data_dir=tmp_path))
    upgrade(database, "0012")
    with database.engine.begin() as connection:
        connection.execute(text("INSERT INTO user_account (id, username, display_name, display_name_key, global_role, "
                                "is_active, created_at) VALUES " + USERS.format(true=1)))
        connection.execute(text("INSERT INTO space (id, slug, name, description, four_eyes, public_community, created_at) "
                                "VALUES (1, 'benefits', 'Benefits', '', 1, 0, '2026-01-01 00:00:00')"))
        connection.execute(text("INSERT INTO space_membership (space_id, user_id, role, created_at) VALUES (1, 1, 'owner', '2026-01-01 00:00:00'), (1, 2, 'contributor', '2026-01-01 00:00:00')"))
        connection.execute(text("INSERT INTO document (id, slug, space_id, owner_id, created_by_id, current_version_id, created_at) "
                                "VALUES (1, 'child-benefit', 1, 1, 2, 1, '2026-01-01 00:00:00'), "
                                "(2, 'draft-note', 1, 1, 2, NULL, '2026-01-01 00:00:00')"))
        columns = ("id, document_id, number, state, title, body_md, body_sha256, source_kind, author_id, contributor_ids, "
                   "owner_id, intended_use, audience, licence, language, tags, derived_from, created_at, updated_at, "
                   "four_eyes, approver_id, approved_at")
        connection.execute(text(
            f"INSERT INTO document_version ({columns}) VALUES "
            "(1, 1, 1, 'approved', 'Child benefit', 'Paid every quarter.', '6255cc516f0759c08674d3585cb6b717b763eeb52596cc4fbfdcd8c08d5be007', 'authored', 2, '[]', 1, 'Citizens', "
            "'public', 'CC0', 'en', '[]', '[]', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 1, 1, '2026-01-02 00:00:00'), "
            "(2, 2, 1, 'draft', 'Draft note', 'Not yet.', '46438371960f0974b3c15f54488a09d835f9c48094ef97ad65355a1765ae921f', 'authored', 2, '[]', 1, '', "
            "'internal', '', 'en', '[]', '[]', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 1, NULL, NULL)"))
        for chunk in chunk_markdown("Paid every quarter.", "Child benefit"):  # what submit wrote for it
            connection.execute(text("INSERT INTO document_chunk (version_id, ordinal, heading_path, text, word_count) "
                                    "VALUES (1, :o, :h, :t, :w)"),
                               {"o": chunk.ordinal, "h": json.dumps(list(chunk.heading_path)), "t": chunk.text,
                                "w": chunk.word_count})
        prev = "0" * 64
        for seq, (actor, action, kind, oid, payload) in enumerate([
                ("system", "user.create", "user", "olga", "{}"), ("system", "user.create", "user", "carl", "{}"),
                ("system", "space.create", "space", "benefits", "{}"),
                ("carl", "document.create", "document", "child-benefit", '{"version":1}'),
                ("olga", "version.approve", "document", "child-benefit", '{"version":1}')], 1):
            at = f"2026-01-01T00:00:0{seq}.000000Z"
            digest = event_hash(seq=seq, at=at, actor_id=None, actor_name=actor, action=action, object_type=kind,
                                object_id=oid, payload=payload, prev_hash=prev)
            connection.execute(text("INSERT INTO audit_event (seq, at, actor_id, actor_name, action, object_type, object_id, "
                                    "payload, prev_hash, hash) VALUES (:s, :at, NULL, :an, :a, :ot, :oi, :p, :ph, :h)"),
                               {"s": seq, "at": at, "an": actor, "a": action, "ot": kind, "oi": oid, "p": payload,
                                "ph": prev, "h": digest})
            prev = digest
        connection.execute(text("UPDATE audit_head SET seq = 5, hash = :h"), {"h": prev})
    return database


def test_an_old_log_gets_a_baseline_and_a_first_signed_head(tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    from kb.cli import app
    from kb.documents import integrity

    database = _old_database(tmp_path)
    upgrade(database)
    printed = capsys.readouterr().out
    heads = tmp_path / "tree-heads"
    assert "baseline of" in printed and str(heads) in printed
    latest = json.loads((heads / "latest.json").read_text())
    with database.session() as session:
        events = provenance.list_events(session, after_seq=5, limit=100)
        assert sorted((e.action, e.object_type, e.object_id) for e in events) == sorted([
            ("audit.baseline", "user", "olga"), ("audit.baseline", "user", "carl"), ("audit.baseline", "space", "benefits"),
            ("audit.baseline", "document", "child-benefit"), ("audit.baseline", "document", "draft-note"),
            ("version.publish", "document", "child-benefit"), ("audit.macs_begin", "log", "kb")])
        assert events[0].action == "audit.macs_begin" and json.loads(events[0].payload) == {"legacy_events": 5}
        assert all(e.mac for e in events), "every event since the upgrade is authenticated by kb"
        assert {e.actor_name for e in events} == {"system"} and {e.channel for e in events} == {"system"}
        publish = next(e for e in events if e.action == "version.publish")
        assert json.loads(publish.payload)["approval_seq"] == 5  # the old approval event it attests
        assert latest["tree_size"] == 5 + len(events)
        check = provenance.check_tree_head(session, latest, signing_key=database.settings.signing_key_path, trusted_keys=[])
        assert check.ok and check.uncovered == 0
        assert [str(d) for d in integrity.differences(session)] == []
    database.dispose()

    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    verified = runner.invoke(app, ["audit", "verify", "--checkpoint", str(heads / "latest.json")], catch_exceptions=False)
    assert verified.exit_code == 0, verified.output

    upgrade(database)  # at head already: nothing recorded again
    with database.session() as session:
        assert provenance.head(session)[0] == latest["tree_size"]
    with database.engine.begin() as connection:  # a row changed outside kb after the baseline is named
        connection.execute(text("UPDATE document_version SET body_md = 'Paid every month.' WHERE id = 1"))
    tampered = runner.invoke(app, ["audit", "verify", "--checkpoint", str(heads / "latest.json")], catch_exceptions=False)
    assert tampered.exit_code == 3 and "differs: document child-benefit v1: body_sha256" in tampered.output
    database.dispose()


def test_a_fresh_database_records_no_baseline(tmp_path: Path) -> None:
    database = Database(Settings(data_dir=tmp_path))
    upgrade(database)
    with database.session() as session:
        assert provenance.head(session)[0] == 0
    assert not (tmp_path / "tree-heads").exists()
    database.dispose()


def test_the_replay_finds_every_version_whatever_order_its_events_came_in() -> None:
    """The lazy replay stops early only when every version up to the highest named has its newest commitment:
    a retirement of v1 after v2's draft was opened must not hide v2."""
    from kb.provenance.replay import CommittedState

    def served(*items: tuple[int, str]) -> str:
        return json.dumps({"version": items[0][0], "served": [{"version": n, "state": st} for n, st in items]})

    state = CommittedState()
    for seq, payload in enumerate([served((1, "draft")), served((1, "approved")), served((2, "draft")),
                                   served((1, "retired")), served((3, "draft"), (2, "rejected"))], 1):
        state.add("version.edit", "document", "d", payload, seq)
    state.add("space.update", "space", "s", json.dumps({"safeguards": {"four_eyes": True}}), 6)
    state.add("space.update", "space", "s", json.dumps({"safeguards": {"four_eyes": False}}), 7)
    state.finish()
    assert {key: (c.seq, c.value["state"]) for key, c in state.versions.items()} == {
        ("d", 1): (4, "retired"), ("d", 2): (5, "rejected"), ("d", 3): (5, "draft")}
    assert state.spaces["s"].seq == 7 and state.spaces["s"].value == {"four_eyes": False}


def test_rewinding_the_revision_does_not_launder_a_direct_edit(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """An insider edits a body, sets alembic_version back to 0013 and upgrades: no baseline commits to the edit."""
    from kb.actors import SYSTEM
    from kb.db import transaction
    from kb.documents import integrity
    from kb.accounts import service as accounts
    from kb.accounts.schemas import UserCreate

    database = Database(Settings(data_dir=tmp_path))
    upgrade(database)
    with database.session() as session, transaction(session):
        accounts.create_user(session, actor=SYSTEM, data=UserCreate(username="olga", display_name="Olga"))
    with database.engine.begin() as connection:  # also drop every MAC, hoping the upgrade will call them old
        connection.execute(text("UPDATE user_account SET global_role = 'admin' WHERE username = 'olga'"))
        connection.execute(text("ALTER TABLE audit_event DROP COLUMN mac"))
        connection.execute(text("UPDATE alembic_version SET version_num = '0013'"))
    upgrade(database, "0015")  # through the baseline step again (later migrations' tables exist still)
    assert "baseline" not in capsys.readouterr().out
    with database.session() as session:
        assert [str(d) for d in integrity.differences(session)] == [
            'user olga: global_role is "admin" in the database, but the log committed "reader" at seq 1']
        audit = provenance.audit_log(session)
    assert not audit.chain.ok and audit.chain.first_bad_seq == 1
    assert "comes from after channels were recorded" in audit.chain.reason
    database.dispose()
