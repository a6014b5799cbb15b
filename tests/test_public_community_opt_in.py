"""A space's public-community opt-in covers only comments written after it (issue 16, point 6).

Employees who commented before an owner opted the space in were never told their words could reach
citizens: those comments stay internal. The comment form of an opted-in space says that a comment
will be shown publicly, without a name. Opting out and in again starts afresh.
"""

from __future__ import annotations

from sqlalchemy import text

from tests.factories import change_space_with_second_person, sign_in

COMMUNITY = "/public/v1/documents/child-benefit/community"
COMMENTS = "/api/v1/documents/child-benefit/comments"




def comment(client, cast, text_md: str) -> None:  # noqa: ANN001
    response = client.post(COMMENTS, json={"body_md": text_md}, headers=cast["reader"].headers)
    assert response.status_code == 201, response.text


def opt(client, cast, value: bool) -> dict:  # noqa: ANN001
    # opting in lowers a safeguard: olga asks, otto approves (issue 16); opting out is immediate
    return change_space_with_second_person(client, cast, {"public_community": value}).json()


def public_texts(client) -> list[str]:  # noqa: ANN001
    response = client.get(COMMUNITY)
    assert response.status_code == 200, response.text
    return [c["body_html"] for c in response.json()["comments"]]


def test_an_earlier_comment_never_appears_a_later_one_does(client, cast) -> None:  # noqa: ANN001
    comment(client, cast, "Written before the opt-in")
    space = opt(client, cast, True)
    assert space["public_community_since"] is not None
    assert public_texts(client) == []
    comment(client, cast, "Written after the opt-in")
    assert public_texts(client) == ["<p>Written after the opt-in</p>\n"]
    internal = client.get(COMMENTS, headers=cast["reader"].headers).json()  # employees still see both
    assert internal["count"] == 2 and internal["public_since"] == space["public_community_since"]


def test_switching_off_and_on_again_resets_the_time(client, cast) -> None:  # noqa: ANN001
    first = opt(client, cast, True)["public_community_since"]
    comment(client, cast, "Written in the first opt-in")
    assert public_texts(client) == ["<p>Written in the first opt-in</p>\n"]
    off = opt(client, cast, False)
    assert off["public_community"] is False and off["public_community_since"] is None
    assert client.get(COMMUNITY).status_code == 404
    assert client.get(COMMENTS, headers=cast["reader"].headers).json()["public_since"] is None
    comment(client, cast, "Written while opted out")
    again = opt(client, cast, True)["public_community_since"]
    assert again > first
    assert public_texts(client) == []  # neither the opted-out comment nor the one of the first opt-in
    comment(client, cast, "Written in the second opt-in")
    assert public_texts(client) == ["<p>Written in the second opt-in</p>\n"]


def test_a_space_created_opted_in_serves_comments_written_since(client, database, cast) -> None:  # noqa: ANN001
    """Asked for at creation, the opt-in is a lowering that a second admin approves (docs/governance.md);
    it then counts from that moment."""
    from kb.actors import GlobalRole
    from tests.factories import make_person

    created = client.post("/api/v1/spaces", json={"slug": "open", "name": "Open", "public_community": True},
                          headers=cast["admin"].headers)
    assert created.status_code == 201, created.text
    assert created.json()["public_community"] is False and created.json()["public_community_since"] is None
    second = make_person(database, "ada", GlobalRole.admin)
    (pending,) = [r for r in client.get("/api/v1/governance/requests", headers=second.headers).json()["data"]
                  if r["target"] == "open"]
    assert client.post(f"/api/v1/governance/requests/{pending['id']}/approve", headers=second.headers).status_code == 200
    space = client.get("/api/v1/spaces/open", headers=second.headers).json()
    assert space["public_community"] is True and space["public_community_since"] is not None


def test_the_comment_form_says_the_comment_will_be_shown_publicly(client, database, cast) -> None:  # noqa: ANN001
    sign_in(client, database, "rita")
    assert "comment-public-notice" not in client.get("/d/child-benefit").text
    opt(client, cast, True)
    page = client.get("/d/child-benefit").text
    assert 'id="comment-public-notice"' in page and "shown publicly" in page and "without your name" in page


def test_a_space_opted_in_before_the_migration_keeps_earlier_comments_private(tmp_path) -> None:  # noqa: ANN001
    from kb.config import Settings
    from kb.db import Database
    from kb.migrations import upgrade

    database = Database(Settings(data_dir=tmp_path))
    upgrade(database, "0009")
    with database.engine.begin() as connection:  # two spaces as the 0009 schema had them
        connection.execute(text("INSERT INTO space (id, slug, name, description, four_eyes, public_community, created_at) "
                                "VALUES (1, 'open', 'Open', '', 1, 1, '2026-01-01 00:00:00'), "
                                "(2, 'closed', 'Closed', '', 1, 0, '2026-01-01 00:00:00')"))
        connection.execute(text("INSERT INTO user_account (id, username, display_name, global_role, is_active, created_at) "
                                "VALUES (1, 'rita', 'Rita', 'reader', 1, '2026-01-01 00:00:00')"))
    upgrade(database, "0010")
    with database.engine.connect() as connection:
        rows = dict(connection.execute(text("SELECT slug, public_community_since FROM space")).all())
    database.dispose()
    assert rows["closed"] is None
    assert rows["open"] is not None and str(rows["open"]) > "2026-01-01 00:00:00"  # opted in at migration time, not before


def _differences(database) -> list[tuple[str, str]]:  # noqa: ANN001
    from kb.documents import integrity

    with database.session() as session:
        return [(d.subject, d.field) for d in integrity.differences(session)]


def _backdate(database, slug: str = "benefits") -> None:  # noqa: ANN001
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE space SET public_community_since = :t WHERE slug = :s"),
                           {"t": "2000-01-01 00:00:00.000000", "s": slug})


def test_moving_the_opening_back_outside_kb_is_a_difference(client, database, cast) -> None:  # noqa: ANN001
    """The insider review of 2026-12-07 (F5): an operator moved ``public_community_since`` back in the
    database, and comments written as internal (with a claimant's name in them) were served to citizens
    while ``kb audit verify`` said nothing. The space's safeguards now commit to it."""
    comment(client, cast, "Claimant J. Jansen was wrongly refused")
    opt(client, cast, True)
    assert _differences(database) == []
    _backdate(database)
    assert public_texts(client) == ["<p>Claimant J. Jansen was wrongly refused</p>\n"]  # what the edit does…
    assert _differences(database) == [("space benefits", "public_community_since")]  # …and verify names it


def as_written_before_0024(database) -> None:  # noqa: ANN001
    """The log as kb wrote it before safeguards carried ``public_community_since`` (the append-only trigger
    opened as the database's owner could)."""
    import json

    sqlite = database.engine.dialect.name == "sqlite"
    with database.engine.begin() as connection:
        connection.execute(text("DROP TRIGGER IF EXISTS audit_event_no_update") if sqlite
                           else text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
        for seq, payload in connection.execute(text("SELECT seq, payload FROM audit_event WHERE object_type = 'space'")).all():
            data = json.loads(payload)
            if "safeguards" in data:
                data["safeguards"].pop("public_community_since", None)
                connection.execute(text("UPDATE audit_event SET payload = :p WHERE seq = :s"),
                                   {"p": json.dumps(data), "s": seq})
        if not sqlite:
            connection.execute(text("ALTER TABLE audit_event ENABLE TRIGGER USER"))


def test_the_upgrade_commits_to_an_opening_recorded_before_and_launders_nothing(client, database, cast) -> None:  # noqa: ANN001
    """A log whose safeguards predate the commitment gets it when it crosses 0024, for a space whose other
    safeguards are as committed; a space changed outside kb meanwhile (a planted owner) gets none and stays a
    difference; upgrading again records nothing, and a later backdating is named."""
    from kb import migrations
    from tests.audit import audit_events

    opt(client, cast, True)
    change_space_with_second_person(client, cast, {"public_community": True}, by="outsider_owner", approver="admin",
                                    space="elsewhere")
    as_written_before_0024(database)
    assert sorted(_differences(database)) == [("space benefits", "public_community_since"),
                                              ("space elsewhere", "public_community_since")]
    with database.engine.begin() as connection:  # an owner planted outside kb before the upgrade
        connection.execute(text("INSERT INTO space_membership (space_id, user_id, role, created_at) SELECT s.id, u.id, 'owner', "
                                "s.created_at FROM space s, user_account u WHERE s.slug = 'elsewhere' AND u.username = 'rita'"))
    migrations.community_baseline(database)
    assert audit_events(database)[-1]["action"] == "audit.baseline"
    assert sorted(_differences(database)) == [("space elsewhere", "members"), ("space elsewhere", "public_community_since")]
    known = len(audit_events(database))
    migrations.community_baseline(database)  # as a rewound revision would run it again
    assert len(audit_events(database)) == known
    _backdate(database)
    assert ("space benefits", "public_community_since") in _differences(database)


def test_a_comments_time_moved_forward_outside_kb_does_not_publish_it(client, database, cast) -> None:  # noqa: ANN001
    """The second insider review of 2026-12-07: with the opening committed, the operator moved the
    *comment's* time forward instead, and it was served. When a comment was posted is now read from its
    ``comment.create`` event as well: the edit publishes nothing, and a comment no event posted neither."""
    comment(client, cast, "Claimant J. Jansen was wrongly refused")
    opt(client, cast, True)
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE comment SET created_at = :t"), {"t": "2099-01-01 00:00:00.000000"})
        connection.execute(text("INSERT INTO comment (document_id, version_number, author_id, body_md, body_html, hidden, "
                                "created_at) SELECT document_id, version_number, author_id, 'planted', '<p>planted</p>', "
                                "hidden, created_at FROM comment"))
    assert public_texts(client) == []
    comment(client, cast, "Written after the opt-in")
    assert public_texts(client) == ["<p>Written after the opt-in</p>\n"]


def test_the_upgrade_does_not_commit_to_an_opening_moved_back_before_it(client, database, cast) -> None:  # noqa: ANN001
    """The second insider review of 2026-12-07: the operator moved the opening back *before* upgrading, and
    the baseline committed to the forged time. The baseline now takes the row only if it is not earlier
    than the event that opened the community: here it records nothing, and the difference stays."""
    from kb import migrations
    from tests.audit import audit_events

    opt(client, cast, True)
    as_written_before_0024(database)
    _backdate(database)
    known = len(audit_events(database))
    migrations.community_baseline(database)
    assert len(audit_events(database)) == known
    assert _differences(database) == [("space benefits", "public_community_since")]
