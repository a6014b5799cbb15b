"""Comments in the web UI (issue 17): reply under a comment, and edit one's own within the edit window;
the page offers each only to whom it may do it."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import update

from tests.audit import audit_events, head_seq
from tests.factories import sign_in


def _comment_id(client, cast, text: str) -> int:  # noqa: ANN001
    data = client.get("/api/v1/documents/child-benefit/comments", headers=cast["reader"].headers).json()["data"]
    return next(c["id"] for c in data if c["body_html"] and text in c["body_html"])


def test_a_reply_is_shown_under_its_comment(client, database, cast) -> None:  # noqa: ANN001
    csrf = sign_in(client, database, "rita")
    client.post("/d/child-benefit/comments", data={"csrf": csrf, "body_md": "Is it paid per child?"})
    parent = _comment_id(client, cast, "Is it paid per child?")
    csrf = sign_in(client, database, "carl")
    page = client.get("/d/child-benefit").text
    assert f'<input type="hidden" name="parent_id" value="{parent}">' in page  # a Reply form under it
    posted = client.post("/d/child-benefit/comments", data={"csrf": csrf, "body_md": "Yes, for each child.",
                                                           "parent_id": str(parent)}, follow_redirects=False)
    reply = _comment_id(client, cast, "Yes, for each child.")
    assert posted.status_code == 303 and posted.headers["location"].endswith(f"#comment-{reply}")
    page = client.get("/d/child-benefit").text
    nested = re.search(rf'id="comment-{parent}".*?<ol class="comments replies">.*?id="comment-{reply}"', page, re.S)
    assert nested, "the reply is inside its parent's item"
    assert page.count(f'id="comment-{reply}"') == 1
    api = client.get("/api/v1/documents/child-benefit/comments", headers=cast["reader"].headers).json()["data"]
    assert [c["parent_id"] for c in api] == [None, parent]


def test_the_author_edits_within_the_window_and_nobody_else_is_offered_it(client, database, cast) -> None:  # noqa: ANN001
    csrf = sign_in(client, database, "rita")
    client.post("/d/child-benefit/comments", data={"csrf": csrf, "body_md": "Frist post"})
    comment = _comment_id(client, cast, "Frist post")
    page = client.get("/d/child-benefit").text
    assert f'action="/comments/{comment}/edit"' in page and ">Frist post</textarea>" in page
    before = head_seq(database)
    edited = client.post(f"/comments/{comment}/edit", data={"csrf": csrf, "body_md": "First post"}, follow_redirects=False)
    assert edited.status_code == 303 and edited.headers["location"] == f"/d/child-benefit?done=comment_edited#comment-{comment}"
    assert "First post" in client.get("/d/child-benefit").text
    [event] = audit_events(database, before)
    assert (event["action"], event["actor"], event["channel"]) == ("comment.edit", "rita", "web")
    sign_in(client, database, "carl")
    assert f'action="/comments/{comment}/edit"' not in client.get("/d/child-benefit").text
    # past the window (KB_COMMENT_EDIT_MINUTES), the author is no longer offered it, and the API says so
    from kb.social.models import Comment

    with database.session() as session:
        session.execute(update(Comment).where(Comment.id == comment)
                        .values(created_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)))
        session.commit()
    csrf = sign_in(client, database, "rita")
    assert f'action="/comments/{comment}/edit"' not in client.get("/d/child-benefit").text
    mine = client.get("/api/v1/documents/child-benefit/comments", headers=cast["reader"].headers).json()["data"][0]
    assert mine["editable_until"] is None and mine["body_md"] is None
    late = client.post(f"/comments/{comment}/edit", data={"csrf": csrf, "body_md": "Too late"}, follow_redirects=False)
    assert late.status_code == 409


def test_the_api_tells_the_author_until_when_they_may_edit(client, cast) -> None:  # noqa: ANN001
    created = client.post("/api/v1/documents/child-benefit/comments", json={"body_md": "Mine"},
                          headers=cast["reader"].headers).json()
    listed = client.get("/api/v1/documents/child-benefit/comments", headers=cast["reader"].headers).json()["data"][0]
    assert listed["editable_until"] and listed["body_md"] == "Mine"
    others = client.get("/api/v1/documents/child-benefit/comments", headers=cast["owner"].headers).json()["data"][0]
    assert others["editable_until"] is None and others["body_md"] is None and others["id"] == created["id"]
