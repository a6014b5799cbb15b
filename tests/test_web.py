"""The web UI through HTTP (no browser): sign-in, cookies, CSRF, security headers, every page per role,
and the main flows. The browser tests in tests/browser/ drive the same pages in chromium."""

from __future__ import annotations

import re
from pathlib import Path


from kb.db import transaction
from tests.factories import make_document, make_person, sign_in

SAMPLE_DOCX = Path(__file__).resolve().parent.parent / "kb" / "sample" / "documents" / "parental-leave-policy.docx"
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)> [click](javascript:alert(1)) <a href="javascript:alert(2)">a</a>'






def login_csrf(client) -> str:  # noqa: ANN001
    page = client.get("/login")
    assert page.status_code == 200
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


# ---------------------------------------------------------------------------------- sign-in

def test_sign_in_sets_a_session_cookie_that_scripts_cannot_read(client, database) -> None:  # noqa: ANN001
    make_person(database, "wendy", password="correct horse battery")
    token = login_csrf(client)
    wrong = client.post("/login", data={"username": "wendy", "password": "nope", "csrf": token}, follow_redirects=False)
    assert wrong.status_code == 401 and "kb_session" not in wrong.headers.get("set-cookie", "")
    assert "wrong password" in wrong.text
    forged = client.post("/login", data={"username": "wendy", "password": "correct horse battery", "csrf": "forged"},
                         follow_redirects=False)
    assert forged.status_code == 403
    ok = client.post("/login", data={"username": "wendy", "password": "correct horse battery", "csrf": token, "next": "/questions"},
                     follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/questions"
    cookie = ok.headers["set-cookie"]
    assert "kb_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert client.get("/questions").status_code == 200


def test_cookie_is_secure_over_tls_and_next_never_leaves_the_site(app, database) -> None:  # noqa: ANN001
    from fastapi.testclient import TestClient

    make_person(database, "wendy", password="correct horse battery")
    with TestClient(app, base_url="https://kb.example") as tls:
        token = login_csrf(tls)
        ok = tls.post("/login", data={"username": "wendy", "password": "correct horse battery", "csrf": token,
                                      "next": "//evil.example/phish"}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    assert "Secure" in ok.headers["set-cookie"]


def test_sign_out_ends_the_session(client, database, cast) -> None:  # noqa: ANN001
    csrf = sign_in(client, database, "rita")
    assert client.post("/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    client.cookies.clear()
    again = client.get("/search?q=child", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/login")


# ------------------------------------------------------------------------------ guards

PAGES = ["/login", "/public", "/public?q=child+benefit", "/", "/search?q=child+benefit", "/d/child-benefit",
         "/d/child-benefit/v/1", "/questions", "/questions/ask", "/experts?q=child", "/people/olga", "/write", "/import",
         "/review", "/moderation", "/audit?verify=1", "/insights"]


def test_every_page_has_a_csp_without_inline_code(client, database, cast) -> None:  # noqa: ANN001
    for path in PAGES:
        sign_in(client, database, "olga" if path == "/review" else "adam")  # the review queue is for owners
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert not re.search(r"<script(?![^>]*\bsrc=)", response.text), path  # no inline scripts
        assert not re.search(r"\sstyle=|\son[a-z]+=", response.text), path  # no inline styles or handlers


ROLE_PAGES = {
    # page: roles that get 200; everyone else signed in gets 403
    "/review": {"olga"},  # owners, as GET /api/v1/review-queue (issue 15: every surface refuses alike)
    "/moderation": {"mona", "adam"},
    "/audit": {"adam"},
    "/insights": {"olga", "adam"},
}


def test_pages_admit_exactly_their_roles(client, database, cast) -> None:  # noqa: ANN001
    for username in ("rita", "carl", "olga", "mona", "adam"):
        sign_in(client, database, username)
        for path, admitted in ROLE_PAGES.items():
            expected = 200 if username in admitted else 403
            assert client.get(path).status_code == expected, (username, path)
    client.cookies.clear()
    for path in ["/", "/search?q=x", "/d/child-benefit", "/questions", "/review", "/audit", "/insights", "/write"]:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login"), path


def test_a_form_without_the_csrf_token_changes_nothing(client, database, cast) -> None:  # noqa: ANN001
    sign_in(client, database, "rita")
    refused = client.post("/d/child-benefit/comments", data={"body_md": "Hello"}, follow_redirects=False)
    assert refused.status_code == 403 and "expired" in refused.text
    comments = client.get("/api/v1/documents/child-benefit/comments", headers=cast["reader"].headers).json()
    assert comments["count"] == 0


def test_bad_input_is_an_html_page_with_the_status(client, database, cast) -> None:  # noqa: ANN001
    sign_in(client, database, "rita")
    assert client.get("/search?q=x&page=0").status_code == 422
    missing = client.get("/d/no-such-thing")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")


# ------------------------------------------------------------------------------- flows

def test_employee_searches_reads_comments_and_rates(client, database, cast) -> None:  # noqa: ANN001
    csrf = sign_in(client, database, "rita")
    results = client.get("/search?q=child+benefit+paid")
    assert results.status_code == 200
    assert 'href="/d/child-benefit"' in results.text and "Approved by" in results.text and "Olga" in results.text
    assert "<mark>" in results.text and "Did this answer your question?" in results.text
    assert "From the community" in results.text
    assert client.post("/feedback", data={"csrf": csrf, "document": "child-benefit", "helpful": "yes",
                                          "query": "child benefit"}, follow_redirects=False).status_code == 303
    page = client.get("/d/child-benefit")
    assert "Download PROV" in page.text and "Timeline" in page.text and "v1 approved" in page.text
    posted = client.post("/d/child-benefit/comments", data={"csrf": csrf, "body_md": f"Useful **page**. {XSS}"},
                         follow_redirects=False)
    assert posted.status_code == 303
    rated = client.post("/d/child-benefit/rating", data={"csrf": csrf, "stars": "4"}, follow_redirects=False)
    assert rated.status_code == 303
    page = client.get("/d/child-benefit?done=commented")
    assert "<strong>page</strong>" in page.text and "Rated 4.0 / 5 by 1" in page.text
    assert "Your comment is posted." in page.text
    assert "&lt;script&gt;" in page.text  # shown as text, inert
    assert not re.search(r"<script(?![^>]*\bsrc=)|<img|<[^>]+\son\w+=|<a\s[^>]*href=[\x22']?javascript:", page.text, re.I)
    prov = client.get("/d/child-benefit/prov?format=json")
    assert prov.status_code == 200 and "attachment" in prov.headers["content-disposition"] and '"prov:' in prov.text


def test_no_results_offers_to_ask_with_experts(client, database, cast) -> None:  # noqa: ANN001
    sign_in(client, database, "rita")
    page = client.get("/search?q=zqxv+wobblefrotz")
    assert "No good answer in curated knowledge" in page.text and "/questions/ask?q=zqxv" in page.text


def test_contributor_writes_previews_submits_and_owner_approves(client, database, cast) -> None:  # noqa: ANN001
    csrf = sign_in(client, database, "carl")
    form = {"csrf": csrf, "space": "benefits", "slug": "housing-help", "title": "Housing help",
            "body_md": "# Housing help\n\nRent support for **tenants** with a low income.\n\n| a | b |\n|---|---|\n| 1 | 2 |",
            "audience": "public", "language": "en", "tags": "housing", "intended_use": "Explains rent support",
            "licence": "CC-BY-4.0", "valid_from": "", "valid_until": "", "review_by": "2030-01-01"}
    preview = client.post("/write", data={**form, "action": "preview"})
    assert preview.status_code == 200 and "<strong>tenants</strong>" in preview.text and "<table>" in preview.text
    assert client.get("/api/v1/documents/housing-help", headers=cast["contributor"].headers).status_code == 404
    bad = client.post("/write", data={**form, "action": "save", "valid_until": "not-a-date"})
    assert bad.status_code == 422 and "Enter a date as YYYY-MM-DD" in bad.text and "Rent support" in bad.text  # the text is kept
    submitted = client.post("/write", data={**form, "action": "submit"}, follow_redirects=False)
    assert submitted.status_code == 303
    state = client.get("/api/v1/documents/housing-help/versions/1", headers=cast["contributor"].headers).json()["state"]
    assert state == "in_review"
    assert client.post("/review/housing-help/1/approve", data={"csrf": csrf}).status_code == 403  # not an owner here

    csrf = sign_in(client, database, "olga")
    queue = client.get("/review")
    assert "/review/housing-help/1" in queue.text
    item = client.get("/review/housing-help/1")
    assert "Approve" in item.text and "Rent support" in item.text
    approved = client.post("/review/housing-help/1/approve", data={"csrf": csrf, "comment": "Good"}, follow_redirects=False)
    assert approved.status_code == 303
    assert 'href="/d/housing-help"' in client.get("/search?q=rent+support+tenants").text


def test_owner_cannot_approve_own_work_from_the_page(client, database, cast) -> None:  # noqa: ANN001
    csrf = sign_in(client, database, "olga")
    form = {"csrf": csrf, "space": "benefits", "slug": "own-work", "title": "Own work", "body_md": "Text.",
            "audience": "internal", "language": "en", "intended_use": "Tests", "action": "submit"}
    assert client.post("/write", data=form, follow_redirects=False).status_code == 303
    refused = client.post("/review/own-work/1/approve", data={"csrf": csrf})
    assert refused.status_code == 409 and "four" in refused.text.lower()


def test_contributor_imports_a_docx_and_submits(client, database, cast) -> None:  # noqa: ANN001
    csrf = sign_in(client, database, "carl")
    with SAMPLE_DOCX.open("rb") as handle:
        response = client.post("/import", data={"csrf": csrf, "space": "benefits", "audience": "internal",
                                                "intended_use": "Tells staff about leave", "submit": "yes"},
                               files={"file": ("parental-leave-policy.docx", handle, "application/octet-stream")},
                               follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/d/parental-leave-policy/v/1")
    version = client.get("/api/v1/documents/parental-leave-policy/versions/1", headers=cast["contributor"].headers).json()
    assert version["state"] == "in_review" and version["provenance"]["source_kind"] == "imported_file"
    garbage = client.post("/import", data={"csrf": csrf, "space": "benefits"},
                          files={"file": ("x.docx", b"PK\x03\x04 not a zip", "application/octet-stream")})
    assert garbage.status_code == 422 and "error" in garbage.text


def test_the_same_file_again_says_unchanged_not_submitted(client, database, cast) -> None:  # noqa: ANN001
    """The page said "Submitted for review" for a file imported already as a draft, while nothing was submitted
    (the review of 2026-12-07); it now says the file is unchanged, as the API's outcome and the CLI say."""
    csrf = sign_in(client, database, "carl")
    for submit, done in (("", "imported"), ("yes", "unchanged")):
        with SAMPLE_DOCX.open("rb") as handle:
            response = client.post("/import", data={"csrf": csrf, "space": "benefits", "intended_use": "Leave", "submit": submit},
                                   files={"file": ("parental-leave-policy.docx", handle, "application/octet-stream")},
                                   follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].endswith(f"done={done}"), response.headers
    version = client.get("/api/v1/documents/parental-leave-policy/versions/1", headers=cast["contributor"].headers).json()
    assert version["state"] == "draft"
    assert "nothing was changed or submitted" in client.get(response.headers["location"]).text


def test_questions_answers_and_accept_from_the_pages(client, database, cast) -> None:  # noqa: ANN001
    csrf = sign_in(client, database, "rita")
    asked = client.post("/questions", data={"csrf": csrf, "title": "When is child benefit paid?",
                                            "body_md": "Which months exactly?", "tags": "family"}, follow_redirects=False)
    assert asked.status_code == 303
    question_path = asked.headers["location"].split("?")[0]
    question_id = int(question_path.rsplit("/", 1)[1])
    assert "When is child benefit paid?" in client.get("/questions").text
    csrf_carl = sign_in(client, database, "carl")
    assert client.post(f"{question_path}/answers", data={"csrf": csrf_carl, "body_md": "In January, April, July and October."},
                       follow_redirects=False).status_code == 303
    csrf = sign_in(client, database, "rita")
    page = client.get(question_path)
    answer_id = int(re.search(r'id="answer-(\d+)"', page.text).group(1))
    assert client.post(f"/votes/answers/{answer_id}", data={"csrf": csrf, "value": "1", "question": question_id},
                       follow_redirects=False).status_code == 303
    assert client.post(f"{question_path}/accept", data={"csrf": csrf, "answer_id": answer_id},
                       follow_redirects=False).status_code == 303
    page = client.get(question_path)
    assert "accepted answer" in page.text and 'aria-label="score">1<' in page.text


def answered_question(database, cast) -> int:  # noqa: ANN001
    """Rita asks in the benefits space, Carl answers; the question's id."""
    from kb.social import service as social
    from kb.social.schemas import AnswerCreate, QuestionCreate

    with database.session() as session, transaction(session):
        question = social.ask(session, actor=cast["reader"].actor,
                              data=QuestionCreate(title="Which form for twins?", body_md="One or two?", space="benefits"))
        social.answer(session, actor=cast["contributor"].actor, question_id=question.id,
                      data=AnswerCreate(body_md="One form for both."))
        return question.id


def test_answered_questions_show_however_many_wait_for_an_answer(client, database, cast) -> None:  # noqa: ANN001
    """The answered list once took a page of all questions (unanswered first) and kept the answered: empty here."""
    from kb.social import service as social
    from kb.social.schemas import QuestionCreate

    answered_question(database, cast)
    with database.session() as session:
        for n in range(21):
            with transaction(session):
                social.ask(session, actor=cast["reader"].actor,
                           data=QuestionCreate(title=f"Open question number {n}", body_md="Anyone?", space="benefits"))
    sign_in(client, database, "rita")
    listing = client.get("/questions").text
    assert "Which form for twins?" in listing and "1 answer " in listing
    assert 'href="/questions?page=2"' in listing  # 21 unanswered: a second page


def test_an_owner_of_the_space_may_accept_from_the_page_too(client, database, cast) -> None:  # noqa: ANN001
    question_id = answered_question(database, cast)
    accept_form = f'action="/questions/{question_id}/accept"'
    sign_in(client, database, "olga")  # owner of the space: the service lets her accept
    assert accept_form in client.get(f"/questions/{question_id}").text
    sign_in(client, database, "mona")  # a moderator is neither asker nor owner
    assert accept_form not in client.get(f"/questions/{question_id}").text


def test_profile_skills_get_the_api_checks(client, database, cast) -> None:  # noqa: ANN001
    csrf = sign_in(client, database, "carl")
    too_long = client.post("/me/profile", data={"csrf": csrf, "skills": "x" * 61}, follow_redirects=False)
    assert too_long.status_code == 422 and too_long.headers["content-type"].startswith("text/html")
    saved = client.post("/me/profile", data={"csrf": csrf, "skills": "child benefit, housing"}, follow_redirects=False)
    assert saved.status_code == 303
    assert "housing" in client.get("/api/v1/experts/people/carl", headers=cast["reader"].headers).text


def test_a_public_page_address_names_that_page_whatever_the_browser_prefers(client, database, cast) -> None:  # noqa: ANN001
    make_document(database, cast, slug="winter-help", state="approved", title="Winter help",
                  body="# Winter help\n\nPaid every quarter.")
    make_document(database, cast, slug="winterhulp", state="approved", language="nl", translation_of="winter-help",
                  title="Winterhulp", body="# Winterhulp\n\nElk kwartaal betaald.")
    dutch = client.get("/public/d/winterhulp", headers={"Accept-Language": "en"})  # a "Nederlands" link, followed
    assert dutch.status_code == 200 and "Elk kwartaal betaald" in dutch.text
    assert 'href="/public/d/winter-help"' in dutch.text  # its translation, without a language that would swap it back
    chosen = client.get("/public/d/winterhulp", params={"lang": "en"})  # an explicit choice still swaps
    assert "Paid every quarter" in chosen.text


def test_public_page_shows_only_public_content_and_no_people(client, database, cast) -> None:  # noqa: ANN001
    make_document(database, cast, slug="staff-canteen-menu", state="approved", audience="internal",
                  body="# Staff canteen\n\nChild benefit staff lunch menu.")
    make_document(database, cast, slug="kinderbijslag", state="approved", audience="public", language="nl",
                  title="Kinderbijslag", body="# Kinderbijslag\n\nU krijgt kinderbijslag voor elk kind.",
                  translation_of="child-benefit")
    client.cookies.clear()
    page = client.get("/public?q=child+benefit")
    assert page.status_code == 200 and "/public/d/child-benefit" in page.text
    assert "staff-canteen" not in page.text and "Staff canteen" not in page.text
    for person in ("olga", "Olga", "carl", "Carl", "example.test"):
        assert person not in page.text
    assert "Benefits" in page.text  # the organisation (space) stands behind the answer
    dutch = client.get("/public?q=kinderbijslag&lang=nl")
    assert 'lang="nl"' in dutch.text and "Gepubliceerd door" in dutch.text and "Nederlands" in dutch.text
    assert client.get("/public/d/staff-canteen-menu").status_code == 404
    document = client.get("/public/d/child-benefit?lang=en")
    assert document.status_code == 200 and "Published by" in document.text and "Olga" not in document.text


def test_insights_show_the_search_gaps_and_figures(client, database, cast) -> None:  # noqa: ANN001
    sign_in(client, database, "rita")
    client.get("/search?q=quantum+teleportation+allowance")
    client.get("/search?q=child+benefit")
    sign_in(client, database, "olga")
    page = client.get("/insights")
    assert page.status_code == 200
    assert "quantum teleportation allowance" in page.text
    assert re.search(r"<dt>Searches</dt><dd>2</dd>", page.text)
    assert re.search(r"“No good answer” rate</dt><dd>50.0 %", page.text)
    assert "<svg" in page.text and 'role="img"' in page.text


def test_moderator_hides_a_flagged_comment_from_the_queue_page(client, database, cast) -> None:  # noqa: ANN001
    csrf = sign_in(client, database, "rita")
    client.post("/d/child-benefit/comments", data={"csrf": csrf, "body_md": "Buy cheap pills at spam.example"})
    comment_id = client.get("/api/v1/documents/child-benefit/comments", headers=cast["reader"].headers).json()["data"][0]["id"]
    csrf = sign_in(client, database, "carl")
    assert client.post("/flags", data={"csrf": csrf, "target": "comment", "target_id": str(comment_id), "reason": "spam",
                                       "next": "/d/child-benefit"}, follow_redirects=False).status_code == 303
    csrf = sign_in(client, database, "mona")
    assert "Buy cheap pills" in client.get("/moderation").text
    done = client.post(f"/moderation/comment/{comment_id}", data={"csrf": csrf, "action": "hide", "reason": "Spam link"},
                       follow_redirects=False)
    assert done.status_code == 303
    assert "Hidden by a moderator: Spam link" in client.get("/d/child-benefit").text  # moderators still see it, labelled
    sign_in(client, database, "carl")
    assert "Buy cheap pills" not in client.get("/d/child-benefit").text


def test_the_sign_in_form_has_the_login_rate_limit(app, client, database) -> None:  # noqa: ANN001
    make_person(database, "wendy", password="correct horse battery")
    limit = int(app.state.settings.rate_limit_login.split("/")[0])
    token = login_csrf(client)
    statuses = [client.post("/login", data={"username": "wendy", "password": "wrong", "csrf": token},
                            follow_redirects=False).status_code for _ in range(limit + 2)]
    assert statuses == [401] * limit + [429, 429]
    refused = client.post("/login", data={"username": "wendy", "password": "correct horse battery", "csrf": token},
                          follow_redirects=False)
    assert refused.status_code == 429 and "Retry-After" in refused.headers and "kb_session" not in refused.headers.get("set-cookie", "")


def test_community_forms_take_no_more_than_the_server_does(client, database, cast) -> None:  # noqa: ANN001
    """The ask form let one type a 300-character title and a 20,000-character body, then refused both (caps 200 and
    10,000); comments and answers likewise. The forms now carry the server's caps."""
    from kb.social.schemas import MAX_BODY, MAX_TITLE

    sign_in(client, database, "rita")
    ask = client.get("/questions/ask").text
    assert f'name="title" value="" required maxlength="{MAX_TITLE}"' in ask
    assert f'required maxlength="{MAX_BODY}">' in ask
    document = client.get("/d/child-benefit").text
    assert f'name="body_md" rows="4" required maxlength="{MAX_BODY}"' in document
    assert 'maxlength="20000"' not in ask + document
