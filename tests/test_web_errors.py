"""Errors that keep the user (issue 17): every error page of the employees' web UI has the signed-in header
and a way back; a refused form comes back with what was typed and the message at the field, in plain words.
On SQLite and PostgreSQL (the ``client`` fixture)."""

from __future__ import annotations

import re

import pytest

from kb.web import forms
from tests.factories import make_document, sign_in
from tests.test_web import SAMPLE_DOCX

HOST = "http://testserver"


def header(html: str) -> str:
    return html[html.index("<header"):html.index("</header>")]


def way_back(html: str) -> str:
    return re.search(r'<p class="way-back"><a href="([^"]*)"', html).group(1)


def assert_signed_in_error(response, status: int, name: str = "Rita") -> None:  # noqa: ANN001
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    top = header(response.text)
    assert name in top and 'href="/search"' in top and "Sign out" in top and "Sign in" not in top


# ------------------------------------------------------------------------------- error pages

@pytest.mark.parametrize("status", [404, 403, 409, 422, 429, 500])
def test_every_error_page_keeps_the_header_and_the_way_back(client, database, cast, monkeypatch, status) -> None:  # noqa: ANN001
    who = {409: "olga", 403: "rita"}.get(status, "rita")
    csrf = sign_in(client, database, who)
    came_from = {"referer": f"{HOST}/search?q=child+benefit"}
    if status == 404:
        response = client.get("/d/no-such-thing", headers=came_from)
    elif status == 403:
        response = client.get("/review", headers=came_from)
    elif status == 409:  # an owner may not approve her own version (four eyes)
        form = {"csrf": csrf, "space": "benefits", "slug": "own-work", "title": "Own work", "body_md": "Text.",
                "audience": "internal", "language": "en", "intended_use": "Tests", "action": "submit"}
        assert client.post("/write", data=form, follow_redirects=False).status_code == 303
        response = client.post("/review/own-work/1/approve", data={"csrf": csrf}, headers=came_from)
    elif status == 422:
        response = client.get("/search?q=x&page=0", headers=came_from)
    elif status == 429:
        from kb.errors import ErrorCode, KbError
        from kb.web import social

        def refuse(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            raise KbError(ErrorCode.RATE_LIMITED, "Too many posts: wait a minute", headers={"Retry-After": "60"})
        monkeypatch.setattr(social.actions, "create_comment", refuse)
        response = client.post("/d/child-benefit/comments", data={"csrf": csrf, "body_md": "Hello"}, headers=came_from)
        assert response.headers["retry-after"] == "60"
    else:
        from kb.web import documents

        def fail(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            raise RuntimeError("a bug")
        monkeypatch.setattr(documents.actions, "read_document", fail)
        response = client.get("/d/child-benefit", headers=came_from)
        assert "a bug" not in response.text and "Traceback" not in response.text
    assert_signed_in_error(response, status, {"olga": "Olga"}.get(who, "Rita"))
    assert way_back(response.text) == "/search?q=child+benefit"


def test_the_way_back_is_the_start_page_without_a_referrer_of_this_site(client, database, cast) -> None:  # noqa: ANN001
    sign_in(client, database, "rita")
    for headers in ({}, {"referer": "https://evil.example/phish"}, {"referer": f"{HOST}/d/no-such-thing"}):
        response = client.get("/d/no-such-thing", headers=headers)
        assert_signed_in_error(response, 404)
        assert way_back(response.text) == "/" and "Go to the start page" in response.text


def test_an_unknown_address_is_a_page_for_a_browser_and_json_for_the_api(client, database, cast) -> None:  # noqa: ANN001
    sign_in(client, database, "rita")
    page = client.get("/no/such/page", headers={"accept": "text/html,application/xhtml+xml"})
    assert_signed_in_error(page, 404)
    api = client.get("/api/v1/no-such-thing", headers={"accept": "text/html"})
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
    signed_out = client.get("/login")
    client.cookies.clear()
    anonymous = client.get("/no/such/page", headers={"accept": "text/html"})
    assert anonymous.status_code == 404 and "Sign in" in header(anonymous.text) and signed_out.status_code == 200


# --------------------------------------------------------------------------------- refused forms

def test_a_refused_comment_comes_back_with_its_text_and_can_be_sent_again(client, database, cast) -> None:  # noqa: ANN001
    csrf = sign_in(client, database, "rita")
    text = "Is this paid <b>monthly</b> too?\n\nSecond paragraph."
    refused = client.post("/d/child-benefit/comments", data={"csrf": csrf, "body_md": text, "parent_id": "999"},
                          headers={"referer": f"{HOST}/d/child-benefit"})
    assert refused.status_code in (404, 422) and "Send again" in refused.text
    kept = re.search(r'<textarea id="kept-body_md" name="body_md"[^>]*>(.*?)</textarea>', refused.text, re.S).group(1)
    assert kept == "Is this paid &lt;b&gt;monthly&lt;/b&gt; too?\n\nSecond paragraph."
    assert 'action="/d/child-benefit/comments"' in refused.text and f'value="{csrf}"' in refused.text
    assert way_back(refused.text) == "/d/child-benefit"
    again = client.post("/d/child-benefit/comments", data={"csrf": csrf, "body_md": text}, follow_redirects=False)
    assert again.status_code == 303
    comments = client.get("/api/v1/documents/child-benefit/comments", headers=cast["reader"].headers).json()
    assert comments["count"] == 1


def test_a_post_with_a_wrong_csrf_token_shows_the_text_to_copy_but_never_a_form_to_send_it(client, database, cast) -> None:  # noqa: ANN001
    """A forged approval (another site's form, the owner's cookie) must not come back as kb's own one-click
    form with the owner's valid token: the typed text is shown to copy, nothing is offered to send."""
    make_document(database, cast, slug="probe", state="in_review")
    csrf = sign_in(client, database, "olga")
    for path, data in (("/review/probe/1/approve", {"csrf": "forged", "comment": "LGTM"}),
                       ("/d/child-benefit/comments", {"csrf": "stale", "body_md": "Is this paid monthly too?"})):
        refused = client.post(path, data=data, headers={"referer": f"{HOST}/d/child-benefit"})
        assert refused.status_code == 403 and "Olga" in refused.text  # the signed-in header stays
        assert "<form method=\"post\" action=\"" + path not in refused.text and "Send again" not in refused.text
        assert csrf not in refused.text.split("<main", 1)[1].split("</main>", 1)[0]  # no token in the page's body
        typed = next(v for k, v in data.items() if k != "csrf")
        assert re.search(r'<textarea id="kept-\w+" rows="6" readonly>' + re.escape(typed) + "</textarea>", refused.text)
    version = client.get("/api/v1/documents/probe/versions/1", headers=cast["owner"].headers).json()
    assert version["state"] == "in_review"  # and nothing was approved


def test_a_refused_answer_names_the_field_in_plain_words(client, database, cast) -> None:  # noqa: ANN001
    csrf = sign_in(client, database, "rita")
    asked = client.post("/questions", data={"csrf": csrf, "title": "When is child benefit paid?", "body_md": "Which months?"},
                        follow_redirects=False)
    question = asked.headers["location"].split("?")[0]
    refused = client.post(f"{question}/answers", data={"csrf": csrf, "body_md": "   "})
    assert_signed_in_error(refused, 422)
    assert '<p class="field-error" id="kept-body_md-error">Fill this in</p>' in refused.text
    assert "String should" not in refused.text


def test_a_bad_slug_is_said_in_plain_words_at_the_field_and_everything_typed_stays(client, database, cast) -> None:  # noqa: ANN001
    csrf = sign_in(client, database, "carl")
    form = {"csrf": csrf, "space": "benefits", "slug": "Child Benefit 2", "title": "Child benefit, again",
            "body_md": "# Child benefit\n\nMy long text.", "audience": "public", "language": "nl", "tags": "family, money",
            "intended_use": "Tells citizens", "licence": "CC-BY-4.0", "valid_until": "2031-01-01", "action": "save"}
    refused = client.post("/write", data=form)
    assert_signed_in_error(refused, 422, "Carl")
    assert ('<p class="field-error" id="slug-error">Use lower-case letters, digits and hyphens, starting with a letter or digit</p>'
            in refused.text)
    assert 'aria-describedby="slug-error"' in refused.text and "^[a-z0-9]" not in refused.text
    for typed in ('value="Child Benefit 2"', "My long text.", 'value="family, money"', "Tells citizens", 'value="2031-01-01"',
                  '<option value="public" selected>', '<option value="nl" selected>'):
        assert typed in refused.text, typed
    taken = client.post("/write", data={**form, "slug": "child-benefit"})
    assert taken.status_code == 409
    assert '<p class="field-error" id="slug-error">This short name is taken by another document: choose another</p>' in taken.text


def test_valid_until_before_valid_from_is_said_at_the_field(client, database, cast) -> None:  # noqa: ANN001
    """The page said "Please check the fields marked below." and marked none (the review of 2026-12-07)."""
    csrf = sign_in(client, database, "carl")
    form = {"csrf": csrf, "space": "benefits", "slug": "dates", "title": "Dates", "body_md": "# Dates\n\nText.",
            "audience": "internal", "language": "en", "valid_from": "2031-01-01", "valid_until": "2030-01-01", "action": "save"}
    refused = client.post("/write", data=form)
    assert_signed_in_error(refused, 422, "Carl")
    assert '<p class="field-error" id="valid_until-error">Choose a date after the \u201cvalid from\u201d date</p>' in refused.text
    assert 'value="2031-01-01"' in refused.text and 'value="2030-01-01"' in refused.text


def test_a_refused_import_keeps_the_space_and_fields_and_asks_for_the_file_again(client, database, cast) -> None:  # noqa: ANN001
    from tests.factories import make_space, make_person
    from kb.actors import SpaceRole

    make_space(database, "housing")
    make_person(database, "hugo", spaces={"benefits": SpaceRole.contributor, "housing": SpaceRole.contributor})
    csrf = sign_in(client, database, "hugo")
    fields = {"csrf": csrf, "space": "housing", "audience": "public", "language": "en", "tags": "rent",
              "intended_use": "Tells citizens about rent", "licence": "CC-BY-4.0", "review_by": "2030-06-01", "submit": "yes"}
    refused = client.post("/import", data=fields, files={"file": ("rent.exe", b"MZ\x90\x00", "application/octet-stream")})
    assert_signed_in_error(refused, 415, "hugo")
    assert '<option value="housing" selected>' in refused.text and '<option value="public" selected>' in refused.text
    for typed in ('value="rent"', "Tells citizens about rent", 'value="CC-BY-4.0"', 'value="2030-06-01"', 'value="yes" checked'):
        assert typed in refused.text, typed
    assert "Choose the file again (rent.exe)" in refused.text and 'id="file-error"' in refused.text
    bad_date = client.post("/import", data={**fields, "review_by": "2030-13-01"},
                           files={"file": ("leave.docx", SAMPLE_DOCX.read_bytes(), "application/octet-stream")})
    assert bad_date.status_code == 422
    assert '<p class="field-error" id="review_by-error">Enter a date as YYYY-MM-DD</p>' in bad_date.text
    # A field over its length is said at the field, the rest kept (it was the generic error page).
    for field, typed in (("intended_use", "x" * 2001), ("licence", "y" * 201), ("review_by", "2030-06-01T00:00:00")):
        too_long = client.post("/import", data={**fields, field: typed},
                               files={"file": ("leave.docx", SAMPLE_DOCX.read_bytes(), "application/octet-stream")})
        assert too_long.status_code == 422, (field, too_long.status_code)
        assert f'id="{field}-error"' in too_long.text and '<option value="housing" selected>' in too_long.text, field
        assert 'value="rent"' in too_long.text


def test_a_refused_question_keeps_what_was_typed(client, database, cast) -> None:  # noqa: ANN001
    csrf = sign_in(client, database, "rita")
    refused = client.post("/questions", data={"csrf": csrf, "title": "Why", "body_md": "My details here", "tags": "pay"})
    assert_signed_in_error(refused, 422)
    assert '<p class="field-error" id="title-error">Write at least 5 characters</p>' in refused.text
    assert "My details here" in refused.text and 'value="pay"' in refused.text


# ------------------------------------------------------------------------------- plain words

@pytest.mark.parametrize(("error", "words"), [
    ({"type": "string_pattern_mismatch", "msg": "String should match pattern '^[a-z0-9][a-z0-9-]{0,119}$'"},
     "Use lower-case letters, digits and hyphens, starting with a letter or digit"),
    ({"type": "string_pattern_mismatch", "ctx": {"pattern": "^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$"}, "msg": "x"},
     "Use a language code such as en, nl or pt-BR"),
    ({"type": "string_too_long", "msg": "String should have at most 300 characters"}, "Shorten this to at most 300 characters"),
    ({"type": "missing", "msg": "Field required"}, "Fill this in"),
    ({"type": "value_error", "msg": "Value error, valid_until must be after valid_from"}, "Valid_until must be after valid_from"),
    ({"type": "greater_than_equal", "ctx": {"ge": 1}, "msg": "Input should be greater than or equal to 1"}, "Enter 1 or more"),
])
def test_pydantic_errors_in_plain_words(error, words) -> None:  # noqa: ANN001
    assert forms.plain(error) == words


def test_field_errors_key_by_field_and_keep_the_first() -> None:
    errors = [{"loc": ["body", "slug"], "type": "missing", "msg": ""}, {"loc": ["body", "slug"], "type": "string_too_long", "msg": ""},
              {"loc": ["body", "tags", 0], "type": "string_too_long", "ctx": {"max_length": 50}, "msg": ""}]
    assert forms.field_errors(errors) == {"slug": "Fill this in", "tags": "Shorten this to at most 50 characters"}
    assert forms.field_errors(errors, known=("tags",)) == {"": "Fill this in", "tags": "Shorten this to at most 50 characters"}


def test_a_file_over_the_size_limit_is_refused_with_a_page_and_the_way_back(settings, database, cast) -> None:  # noqa: ANN001
    """A refused import keeps the user even when the file is too large to read: the web form gets the error
    page (signed-in header, the way back to the form), refused before a byte is read; the API keeps JSON."""
    from fastapi.testclient import TestClient

    from kb.app import create_app

    small = settings.model_copy(update={"max_request_bytes": 4096, "notify_poll_seconds": 0})
    with TestClient(create_app(small, database=database)) as client:
        csrf = sign_in(client, database, "carl")
        big = b"# Big\n\n" + b"word " * 2000
        page = client.post("/import", data={"space": "benefits", "csrf": csrf}, files={"file": ("big.md", big, "text/markdown")},
                           headers={"Accept": "text/html", "Referer": "http://testserver/import"}, follow_redirects=False)
        assert_signed_in_error(page, 413, name="Carl")
        assert "choose a smaller file" in page.text and way_back(page.text) == "/import"
        api = client.post("/api/v1/spaces/benefits/import", files={"file": ("big.md", big, "text/markdown")},
                          headers=cast["contributor"].headers)
        assert api.status_code == 413 and api.json()["error"]["code"] == "payload_too_large"
