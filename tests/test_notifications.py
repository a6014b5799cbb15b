"""Notifications (issue 17): the rule table through the API, the inbox, watches, preferences, the daily job.

Each event is caused on a real app; the recipients' inboxes, the outbox and the audit log are checked together.
"""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import select

from kb.app import create_app
from kb.db import UTCDateTime, transaction  # noqa: F401
from kb.notifications.daily import run_daily
from kb.notifications.models import Delivery, JobLease, Notification
from tests.audit import audit_events
from tests.factories import approved_document, doc_body, make_cast


def client_for(settings, database, **update) -> TestClient:  # noqa: ANN001
    return TestClient(create_app(settings.model_copy(update={"notify_poll_seconds": 0, **update}), database=database))


def inbox(client, person) -> dict:  # noqa: ANN001
    response = client.get("/api/v1/notifications", headers=person.headers)
    assert response.status_code == 200, response.text
    return response.json()


def kinds(client, person) -> list[str]:  # noqa: ANN001
    return [item["kind"] for item in inbox(client, person)["data"]]


def test_the_document_lifecycle_tells_owners_and_authors(settings, database) -> None:  # noqa: ANN001
    cast = make_cast(database)
    with client_for(settings, database) as client:
        body = doc_body("Parental leave")
        assert client.post("/api/v1/spaces/benefits/documents", json=body, headers=cast["contributor"].headers).status_code == 201
        slug = body["slug"]
        assert client.post(f"/api/v1/documents/{slug}/versions/1/submit", json={}, headers=cast["contributor"].headers).status_code == 200
        assert kinds(client, cast["owner"]) == ["review_requested"] and kinds(client, cast["owner2"]) == ["review_requested"]
        assert kinds(client, cast["contributor"]) == [] and kinds(client, cast["outsider_owner"]) == []
        rejected = client.post(f"/api/v1/documents/{slug}/versions/1/reject", json={"reason": "Cite the statute"},
                               headers=cast["owner"].headers)
        assert rejected.status_code == 200
        told = inbox(client, cast["contributor"])
        assert told["unread"] == 1 and told["data"][0]["kind"] == "version_rejected"
        assert "Cite the statute" in told["data"][0]["body"] and told["data"][0]["link"] == f"/d/{slug}/v/2"
        # people as cards name them (display name and the stable @username), documents by title
        assert told["data"][0]["body"].startswith("Olga (@olga) rejected it"), told["data"][0]["body"]
        assert "Parental leave" in told["data"][0]["title"], told["data"][0]["title"]
        assert client.post(f"/api/v1/documents/{slug}/versions/2/submit", json={}, headers=cast["contributor"].headers).status_code == 200
        assert client.post(f"/api/v1/documents/{slug}/versions/2/approve", json={"comment": "Good"},
                           headers=cast["owner2"].headers).status_code == 200
        assert kinds(client, cast["contributor"])[0] == "version_approved"
        # the owner who approved is not told of his own act; the other owner heard of both submissions
        assert kinds(client, cast["owner2"]) == ["review_requested", "review_requested"]
    keys = [n.key for n in _notifications(database)]
    assert len(keys) == len(set(keys))


def _notifications(database) -> list[Notification]:  # noqa: ANN001
    with database.session() as session:
        return list(session.execute(select(Notification).order_by(Notification.id)).scalars())


def test_community_events_reach_askers_authors_and_moderators(settings, database) -> None:  # noqa: ANN001
    cast = make_cast(database)
    with client_for(settings, database) as client:
        slug = approved_document(client, cast)
        comment = client.post(f"/api/v1/documents/{slug}/comments", json={"body_md": "Is this current?"},
                              headers=cast["reader"].headers).json()
        assert "comment_on_document" in kinds(client, cast["contributor"])  # the author of the version
        client.post(f"/api/v1/documents/{slug}/comments", json={"body_md": "Yes", "parent_id": comment["id"]},
                    headers=cast["owner"].headers)
        assert kinds(client, cast["reader"]) == ["comment_reply"]
        question = client.post("/api/v1/questions", json={"title": "How long is parental leave?", "body_md": "Asking.",
                                                          "tags": ["leave"]}, headers=cast["reader"].headers).json()
        answered = client.post(f"/api/v1/questions/{question['id']}/answers", json={"body_md": "Sixteen weeks."},
                               headers=cast["contributor"].headers).json()
        assert kinds(client, cast["reader"])[0] == "question_answered"
        answer_id = answered["answers"][0]["id"]
        assert client.post(f"/api/v1/questions/{question['id']}/accept", json={"answer_id": answer_id},
                           headers=cast["reader"].headers).status_code == 200
        assert kinds(client, cast["contributor"])[0] == "answer_accepted"
        flagged = client.post("/api/v1/flags", json={"target": "answer", "target_id": str(answer_id), "reason": "spam"},
                              headers=cast["owner"].headers)
        assert flagged.status_code == 201
        assert kinds(client, cast["moderator"]) == ["content_flagged"]
        asked = client.post("/api/v1/experts/olga/ask", json={"message": "Help"}, headers=cast["reader"].headers)
        assert asked.status_code == 201
        assert kinds(client, cast["owner"])[0] == "expert_asked"


def test_mark_read_and_the_header_count(settings, database) -> None:  # noqa: ANN001
    cast = make_cast(database)
    with client_for(settings, database) as client:
        approved_document(client, cast)
        before = inbox(client, cast["owner2"])
        assert before["unread"] == 1
        first = before["data"][0]["id"]
        # someone else's id changes nothing
        assert client.post("/api/v1/notifications/read", json={"ids": [first]}, headers=cast["reader"].headers).json()["marked"] == 0
        marked = client.post("/api/v1/notifications/read", json={"ids": [first]}, headers=cast["owner2"].headers).json()
        assert marked == {"marked": 1, "unread": 0}
        assert inbox(client, cast["owner2"])["data"][0]["read"] is True
        assert client.post("/api/v1/notifications/read", json={"ids": "x"}, headers=cast["owner2"].headers).status_code == 422
        assert client.get("/api/v1/notifications").status_code == 401


def test_watches_are_audited_and_tell_watchers(settings, database) -> None:  # noqa: ANN001
    cast = make_cast(database)
    with client_for(settings, database) as client:
        slug = approved_document(client, cast)
        added = client.post("/api/v1/me/watches", json={"kind": "document", "target": slug}, headers=cast["reader"].headers)
        assert added.status_code == 201 and added.json()["target"] == slug
        assert client.post("/api/v1/me/watches", json={"kind": "tag", "target": "Leave"}, headers=cast["moderator"].headers).json()["target"] == "leave"
        assert client.post("/api/v1/me/watches", json={"kind": "document", "target": "nope"}, headers=cast["reader"].headers).status_code == 404
        assert client.post("/api/v1/me/watches", json={"kind": "planet", "target": "x"}, headers=cast["reader"].headers).status_code == 422
        # a tag of two words, as documents carry ("old age"), is a tag like any other; an empty one is a 422 that says so
        two_words = client.post("/api/v1/me/watches", json={"kind": "tag", "target": " Old Age "}, headers=cast["owner2"].headers)
        assert two_words.status_code == 201 and two_words.json()["target"] == "old age", two_words.text
        empty = client.post("/api/v1/me/watches", json={"kind": "tag", "target": "  "}, headers=cast["owner2"].headers)
        assert empty.status_code == 422 and "tag of 1 to 50" in empty.json()["error"]["message"], empty.text
        assert client.get("/api/v1/me/watches", headers=cast["reader"].headers).json()["count"] == 1
        client.put(f"/api/v1/documents/{slug}/draft", json={"body_md": "# Child benefit\n\nNow monthly."}, headers=cast["contributor"].headers)
        client.post(f"/api/v1/documents/{slug}/versions/2/submit", json={}, headers=cast["contributor"].headers)
        client.post(f"/api/v1/documents/{slug}/versions/2/approve", json={}, headers=cast["owner"].headers)
        assert kinds(client, cast["reader"]) == ["document_changed"]
        client.post("/api/v1/questions", json={"title": "Leave for fathers?", "body_md": "?", "tags": ["leave"]},
                    headers=cast["reader"].headers)
        assert kinds(client, cast["moderator"]) == ["watched_new_question"]
        assert client.delete(f"/api/v1/me/watches/document/{slug}", headers=cast["reader"].headers).status_code == 204
        assert client.get("/api/v1/me/watches", headers=cast["reader"].headers).json()["count"] == 0
    actions = [e["action"] for e in audit_events(database)]
    assert actions.count("watch.add") == 3 and actions.count("watch.remove") == 1


def test_the_preference_is_audited_and_needs_an_address(settings, database) -> None:  # noqa: ANN001
    cast = make_cast(database)
    with client_for(settings, database) as client:
        assert client.get("/api/v1/me/notification-preference", headers=cast["reader"].headers).json()["mode"] == "in_app"
        changed = client.put("/api/v1/me/notification-preference", json={"mode": "digest"}, headers=cast["reader"].headers)
        assert changed.status_code == 200 and changed.json() == {"mode": "digest", "email": "rita@example.test"}
        assert client.put("/api/v1/me/notification-preference", json={"mode": "loud"}, headers=cast["reader"].headers).status_code == 422
    events = [e for e in audit_events(database) if e["action"] == "notify.preference"]
    assert len(events) == 1 and events[0]["payload"]["mode"] == "digest"


def test_the_daily_job_reminds_once_and_digests_under_a_lease(settings, database) -> None:  # noqa: ANN001
    cast = make_cast(database)
    configured = settings.model_copy(update={"smtp_host": "127.0.0.1", "notify_poll_seconds": 0})
    with TestClient(create_app(configured, database=database)) as client:
        slug = approved_document(client, cast)  # review_by 2030-01-01
        client.put("/api/v1/me/notification-preference", json={"mode": "digest"}, headers=cast["owner"].headers)
    near = dt.datetime(2029, 12, 28, 8, tzinfo=dt.UTC)
    assert run_daily(database, configured, holder="a", now=near.replace(hour=5)) == "not_due"
    # another process holds the lease: this one does nothing
    with database.session() as session, transaction(session):
        session.add(JobLease(name="daily", holder="b", until=near + dt.timedelta(minutes=5)))
    assert run_daily(database, configured, holder="a", now=near) == "held"
    assert run_daily(database, configured, holder="a", now=near + dt.timedelta(minutes=6)) == "ran"
    assert run_daily(database, configured, holder="b", now=near + dt.timedelta(minutes=7)) == "already_ran"
    reminded = [n for n in _notifications(database) if n.kind == "review_due"]
    assert sorted(n.user_id for n in reminded) == sorted({cast["owner"].actor.id, cast["owner2"].actor.id})
    assert all(slug in n.link for n in reminded)
    later = dt.datetime(2030, 1, 2, 8, tzinfo=dt.UTC)
    assert run_daily(database, configured, holder="a", now=later) == "ran"
    assert run_daily(database, configured, holder="a", now=later + dt.timedelta(days=1)) == "ran"
    kinds_now = sorted(n.kind for n in _notifications(database) if n.kind in ("review_due", "review_overdue"))
    assert kinds_now == ["review_due", "review_due", "review_overdue", "review_overdue"]  # once each, on every later day too
    with database.session() as session:  # by day: a digest's key ends with its date (no order by, no order on PostgreSQL)
        digests = list(session.execute(select(Delivery).where(Delivery.key.like("digest-%"))  # type: ignore[attr-defined]
                                       .order_by(Delivery.key)).scalars())
    # olga chose the digest: one e-mail for the first day's reminders and the approval request, one for the overdue one
    assert [d.recipient for d in digests] == ["olga@example.test", "olga@example.test"]
    assert "Review due by 2030-01-01" in digests[0].body


def test_the_web_inbox_header_count_and_watch_buttons(settings, database) -> None:  # noqa: ANN001
    from tests.factories import sign_in

    cast = make_cast(database)
    with client_for(settings, database) as client:
        slug = approved_document(client, cast)
        csrf = sign_in(client, database, "otto")
        page = client.get("/notifications")
        assert page.status_code == 200 and "Review requested" in page.text
        assert 'aria-label="1 unread"' in client.get("/experts").text  # the header of every page
        watched = client.post("/watch", data={"kind": "document", "target": slug, "csrf": csrf, "next": f"/d/{slug}"},
                              follow_redirects=False)
        assert watched.status_code == 303 and watched.headers["location"] == f"/d/{slug}?done=watching"
        assert client.post("/watch", data={"kind": "document", "target": "nope", "csrf": csrf}).status_code == 404
        assert client.post("/notifications/read", data={"csrf": csrf}, follow_redirects=False).status_code == 303
        assert 'aria-label="1 unread"' not in client.get("/experts").text
        assert client.post("/notifications/preference", data={"mode": "email", "csrf": csrf},
                           follow_redirects=False).status_code == 303
        assert client.post("/notifications/read", data={"csrf": "forged"}).status_code == 403
    actions = [e["action"] for e in audit_events(database)]
    assert "watch.add" in actions and "notify.preference" in actions


def test_the_document_and_question_pages_offer_watch_and_stop_watching(settings, database) -> None:  # noqa: ANN001
    """The buttons of issue 17 ("watch and unwatch documents, spaces, questions"): each page says which it
    offers from the watches the person has, and the button's form changes them."""
    from tests.factories import sign_in

    cast = make_cast(database)
    with client_for(settings, database) as client:
        slug = approved_document(client, cast)
        asked = client.post("/api/v1/questions", json={"title": "Who approves leave?", "body_md": "Asking for a friend."},
                            headers=cast["contributor"].headers)
        assert asked.status_code == 201, asked.text
        question = asked.json()["id"]
        csrf = sign_in(client, database, "rita")
        page = client.get(f"/d/{slug}").text
        assert "Watch this document" in page and "Watch the space benefits" in page and "Stop watching" not in page
        for kind, target, where in (("document", slug, f"/d/{slug}"), ("space", "benefits", f"/d/{slug}"),
                                    ("question", str(question), f"/questions/{question}")):
            done = client.post("/watch", data={"kind": kind, "target": target, "csrf": csrf, "next": where},
                               follow_redirects=False)
            assert done.status_code == 303 and done.headers["location"].startswith(where), done.text
        page = client.get(f"/d/{slug}").text
        assert "Stop watching this document" in page and "Stop watching the space benefits" in page
        assert "Stop watching this question" in client.get(f"/questions/{question}").text
        watched = {(w["kind"], w["target"]) for w in
                   client.get("/api/v1/me/watches", headers=cast["reader"].headers).json()["data"]}
        assert watched == {("document", slug), ("space", "benefits"), ("question", str(question))}
        stopped = client.post("/watch", data={"kind": "document", "target": slug, "csrf": csrf, "stop": "yes",
                                              "next": f"/d/{slug}"}, follow_redirects=False)
        assert stopped.status_code == 303
        assert "Watch this document" in client.get(f"/d/{slug}").text


def test_the_inbox_pages_newest_first(settings, database) -> None:  # noqa: ANN001
    """An inbox of any length: ``limit`` per page and ``before`` the next, older one; nothing skipped or repeated."""
    cast = make_cast(database)
    with database.session() as session, transaction(session):
        rita = cast["reader"].actor.id
        for n in range(5):
            session.add(Notification(key=f"test-{n}", user_id=rita, kind="test", title=f"Notice {n}"))
    with client_for(settings, database) as client:
        headers, seen, before = cast["reader"].headers, [], None
        while True:
            page = client.get("/api/v1/notifications", params={"limit": 2, **({"before": before} if before else {})},
                              headers=headers).json()
            seen += [item["title"] for item in page["data"]]
            before = page["next_before"]
            if before is None:
                break
        assert seen == [f"Notice {n}" for n in (4, 3, 2, 1, 0)]
        assert client.get("/api/v1/notifications", params={"limit": 0}, headers=headers).status_code == 422
        assert client.get("/api/v1/notifications", params={"limit": 201}, headers=headers).status_code == 422


def test_the_owners_hear_once_that_a_validity_ends_soon(settings, database) -> None:  # noqa: ANN001
    """Validity ending (issue 17): within KB_NOTIFY_VALIDITY_DAYS of valid_until the owners are told, once per
    version and end date, however often the daily job runs; by e-mail only in the digest."""
    cast = make_cast(database)
    configured = settings.model_copy(update={"notify_poll_seconds": 0, "notify_validity_days": 14})
    with TestClient(create_app(configured, database=database)) as client:
        body = {**doc_body("Winter fuel payment"), "valid_until": "2030-03-31"}
        assert client.post("/api/v1/spaces/benefits/documents", json=body, headers=cast["contributor"].headers).status_code == 201
        slug = body["slug"]
        assert client.post(f"/api/v1/documents/{slug}/versions/1/submit", json={},
                           headers=cast["contributor"].headers).status_code == 200
        assert client.post(f"/api/v1/documents/{slug}/versions/1/approve", json={},
                           headers=cast["owner2"].headers).status_code == 200

    def ending() -> list[Notification]:
        return [n for n in _notifications(database) if n.kind == "validity_ending"]

    assert run_daily(database, configured, holder="a", now=dt.datetime(2030, 3, 1, 8, tzinfo=dt.UTC)) == "ran"
    assert ending() == []  # 30 days before: not yet
    for day in (20, 21, 25):
        assert run_daily(database, configured, holder="a", now=dt.datetime(2030, 3, day, 8, tzinfo=dt.UTC)) == "ran"
    told = ending()
    assert sorted(n.user_id for n in told) == sorted({cast["owner"].actor.id, cast["owner2"].actor.id})
    assert all(n.title == "Validity ends 2030-03-31: Winter fuel payment" and slug in n.link for n in told)


def test_a_bulk_import_submitted_tells_each_owner_once_not_once_per_file(settings, database, tmp_path) -> None:  # noqa: ANN001
    """A thousand files submitted in one import are one notice per owner, counting and naming them, not a thousand."""
    cast = make_cast(database)
    folder = tmp_path / "batch"
    folder.mkdir()
    for n in range(3):
        (folder / f"page-{n}.md").write_text(f"# Page {n}\n\nAbout page {n}.\n", encoding="utf-8")
    with client_for(settings, database) as client:
        import io
        import zipfile

        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for path in sorted(folder.iterdir()):
                archive.write(path, path.name)
        imported = client.post("/api/v1/spaces/benefits/bulk-import", headers=cast["contributor"].headers,
                               files={"file": ("batch.zip", buffer.getvalue(), "application/zip")},
                               data={"intended_use": "Tests", "licence": "CC0", "submit": "true"})
        assert imported.status_code == 200, imported.text
        assert imported.json()["counts"] == {"created": 3, "refused": 0}, imported.json()
        for owner in ("owner", "owner2"):
            told = inbox(client, cast[owner])
            assert [item["kind"] for item in told["data"]] == ["review_batch"], told
            notice = told["data"][0]
            assert notice["title"] == "Review requested: 3 documents of one bulk import", notice
            assert [line for line in notice["body"].splitlines() if line.startswith("- ")] == [
                "- Page 0 (version 1)", "- Page 1 (version 1)", "- Page 2 (version 1)"], notice["body"]
        assert kinds(client, cast["contributor"]) == []  # the importer is not told of their own act
        # a single submission still tells of itself
        body = doc_body("Parental leave")
        assert client.post("/api/v1/spaces/benefits/documents", json=body, headers=cast["contributor"].headers).status_code == 201
        assert client.post(f"/api/v1/documents/{body['slug']}/versions/1/submit", json={},
                           headers=cast["contributor"].headers).status_code == 200
        assert kinds(client, cast["owner"]) == ["review_requested", "review_batch"]


def test_a_batch_notice_goes_to_the_spaces_active_owners_at_each_submission(settings, database) -> None:  # noqa: ANN001
    """An owner removed from the space or deactivated during a long import hears of nothing submitted after it, and
    one added hears of what follows; only their delivery preference and the importer's name are read once a batch."""
    import pytest
    from sqlalchemy import text

    from kb.actors import SpaceRole
    from kb.notifications.service import batch_audience
    from tests.factories import make_person, space_of

    cast = make_cast(database)
    olga, otto, carl = (cast[who].actor.id for who in ("owner", "owner2", "contributor"))

    with database.session() as session:
        space_id = space_of(session).id
        first = batch_audience(session, settings, "b1", space_id, actor_name=lambda: "Carl", skip_user=carl)
        assert set(first.digest) == {olga, otto} and first.actor_name == "Carl"
        session.commit()  # one file's transaction ends
        with database.engine.begin() as connection:  # meanwhile, otto leaves the space and olga's account is closed
            connection.execute(text("DELETE FROM space_membership WHERE user_id = :otto"), {"otto": otto})
            connection.execute(text("UPDATE user_account SET is_active = :no WHERE id = :olga"), {"no": False, "olga": olga})
        later = batch_audience(session, settings, "b1", space_id, skip_user=carl,
                               actor_name=lambda: pytest.fail("the importer's name is read once a batch"))
        assert later.digest == {} and later.actor_name == "Carl"
        session.commit()
        newcomer = make_person(database, "nina", spaces={"benefits": SpaceRole.owner}).actor.id
        assert set(batch_audience(session, settings, "b1", space_id, actor_name=lambda: "?", skip_user=carl).digest) == {newcomer}


def test_a_submissions_notice_uses_the_rows_it_was_handed_only_when_they_are_the_submitted_ones(settings, database) -> None:  # noqa: ANN001
    """``Recorded.rows`` spares a read only when they are the event's own document and version; rows of another
    document (or none) are never trusted: the rule reads what the event names."""
    from sqlalchemy import select as sql_select

    from kb.documents.models import Document, Version
    from kb.events import Recorded
    from kb.notifications.rules import _submitted

    cast = make_cast(database)
    with client_for(settings, database) as client:
        slugs = [approved_document(client, cast, title) for title in ("Child benefit", "Housing benefit")]
    with database.session() as session:
        (a, a1), (b, b1) = (session.execute(sql_select(Document, Version).join(Version, Version.document_id == Document.id)
                                            .where(Document.slug == slug)).one() for slug in slugs)

        def event(slug: str, rows: tuple) -> Recorded:
            return Recorded(seq=1, action="version.submit", object_type="document", object_id=slug, actor_id=None,
                            actor_name="t", detail={"version": 1}, rows=rows)

        session.expunge_all()  # what _submitted reads again is a new object, what it was handed is not
        held = _submitted(session, event(slugs[0], (a, a1)))
        assert held[0] is a and held[1] is a1
        read = _submitted(session, event(slugs[1], (a, a1)))  # another document's rows: read B
        assert read[0] is not a and (read[0].slug, read[1].title) == (slugs[1], b1.title)
        assert _submitted(session, event(slugs[1], ()))[0].slug == slugs[1]  # none handed: read
