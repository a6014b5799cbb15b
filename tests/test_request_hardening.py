"""Input the database cannot hold is refused as a 422 on both databases, never a 500 on one of them.

Found by schemathesis against PostgreSQL (bench/fuzz_api.py): NUL in text (PostgreSQL text refuses
it; SQLite stored it) and ids past 2**31 - 1 (INTEGER columns: "integer out of range").
"""

from __future__ import annotations

import pytest

from kb.db import MAX_ROW_ID
from tests.factories import approved_document, make_cast
from tests.factories import sign_in


@pytest.fixture
def cast(database):  # noqa: ANN001, ANN201
    return make_cast(database)


def assert_validation_error(response, where: str) -> None:  # noqa: ANN001
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error" and "NUL" in error["message"]
    assert error["details"][0]["loc"] == [where]


def test_nul_in_a_query_parameter_is_a_422(client, cast) -> None:  # noqa: ANN001
    assert_validation_error(client.get("/public/v1/search", params={"q": "child\x00benefit"}), "query")
    assert_validation_error(client.get("/api/v1/search", params={"q": "child", "space": "a\x00"},
                                       headers=cast["reader"].headers), "query")


def test_nul_in_a_json_body_is_a_422_and_nothing_is_stored(client, cast) -> None:  # noqa: ANN001
    slug = approved_document(client, cast)
    url = f"/api/v1/documents/{slug}/comments"
    for body in ('{"body_md": "a\\u0000b"}', '{"body_md": "a\\\\\\u0000b"}', '{"body_md": "a\\u0000"}'):
        response = client.post(url, content=body, headers={**cast["reader"].headers, "content-type": "application/json"})
        assert_validation_error(response, "body")
    assert client.get(url, headers=cast["reader"].headers).json()["count"] == 0
    # An escaped backslash followed by "u0000" is ordinary text, not NUL.
    kept = client.post(url, content='{"body_md": "path C:\\\\u0000"}',
                       headers={**cast["reader"].headers, "content-type": "application/json"})
    assert kept.status_code == 201, kept.text
    assert "path C:\\u0000" in kept.json()["body_html"]


def test_nul_in_a_web_form_is_a_422_page(client, database, cast) -> None:  # noqa: ANN001
    slug = approved_document(client, cast)
    csrf = sign_in(client, database, "rita")
    page = client.post(f"/d/{slug}/comments", data={"body_md": "inert\x00", "csrf": csrf})
    assert page.status_code == 422 and "NUL" in page.text and page.headers["content-type"].startswith("text/html")
    assert client.get(f"/api/v1/documents/{slug}/comments", headers=cast["reader"].headers).json()["count"] == 0


def test_ids_past_the_integer_columns_are_422_not_500(client, cast) -> None:  # noqa: ANN001
    too_big = MAX_ROW_ID + 1
    reader, moderator = cast["reader"].headers, cast["moderator"].headers
    assert client.get(f"/api/v1/questions/{MAX_ROW_ID}", headers=reader).status_code == 404
    for method, url, body, headers in [
        ("GET", f"/api/v1/questions/{too_big}", None, reader),
        ("GET", f"/api/v1/audit?after_seq={too_big}", None, cast["admin"].headers),
        ("DELETE", f"/api/v1/me/tokens/{too_big}", None, reader),
        ("POST", "/api/v1/questions/1/accept", {"answer_id": too_big}, reader),
    ]:
        response = client.request(method, url, json=body, headers=headers)
        assert response.status_code == 422, (url, response.status_code, response.text)
        assert response.json()["error"]["code"] == "validation_error"
    for target in (str(too_big), "²", "٣"):  # superscript two and Arabic-Indic three are digits to str.isdigit
        response = client.post(f"/api/v1/moderation/comment/{target}", json={"action": "hide", "reason": "spam"},
                               headers=moderator)
        assert response.status_code == 404, (target, response.text)


def test_a_path_with_nul_names_nothing(client, cast) -> None:  # noqa: ANN001
    """One rule for every route (kb.http.refuse_nul), where each lookup once had to guard itself."""
    reader, admin = cast["reader"].headers, cast["admin"].headers
    for method, url, headers in [
        ("GET", "/public/v1/documents/child-benefit%00", {}),
        ("GET", "/api/v1/people/rita%00", reader),
        ("GET", "/api/v1/experts/people/rita%00", reader),
        ("GET", "/api/v1/spaces/benefits%00", reader),
        ("PATCH", "/api/v1/users/rita%00", admin),
        ("GET", "/d/child-benefit%00", {}),
    ]:
        response = client.request(method, url, headers=headers, json={} if method == "PATCH" else None)
        assert response.status_code == 404, (url, response.status_code, response.text)
