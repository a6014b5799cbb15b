"""Authentication, authorisation and the one error shape (issue 2's 401/403/404/413 demands)."""

from __future__ import annotations

import pytest

from tests.audit import audit_events, head_seq
from tests.factories import make_cast


def assert_error_shape(response, status: int, code: str | None = None) -> dict:  # noqa: ANN001
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body


@pytest.fixture
def cast(database):  # noqa: ANN001, ANN201
    return make_cast(database)


def test_no_token_is_401_on_api(client, cast) -> None:  # noqa: ANN001
    response = client.get("/api/v1/me")
    assert_error_shape(response, 401, "not_authenticated")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Bearer kb_not-a-real-token", "Bearer ", "Basic cml0YTpwdw==", "Bearer x" * 100])
def test_bad_token_is_401(client, cast, header: str) -> None:  # noqa: ANN001
    assert_error_shape(client.get("/api/v1/me", headers={"Authorization": header}), 401)


def test_reader_token_gets_403_on_owner_action(client, cast, database) -> None:  # noqa: ANN001
    before = head_seq(database)
    response = client.put("/api/v1/spaces/benefits/members/rita", json={"role": "owner"}, headers=cast["reader"].headers)
    assert_error_shape(response, 403, "forbidden")
    assert head_seq(database) == before  # nothing recorded, nothing changed
    me = client.get("/api/v1/me", headers=cast["reader"].headers).json()
    assert me["memberships"] == []


def test_owner_of_another_space_gets_403(client, cast) -> None:  # noqa: ANN001
    response = client.put("/api/v1/spaces/benefits/members/rita", json={"role": "contributor"},
                          headers=cast["outsider_owner"].headers)
    assert_error_shape(response, 403, "forbidden")


def test_owner_grants_role_and_it_is_audited(client, cast, database) -> None:  # noqa: ANN001
    before = head_seq(database)
    response = client.put("/api/v1/spaces/benefits/members/rita", json={"role": "contributor"}, headers=cast["owner"].headers)
    assert response.status_code == 200, response.text
    assert {"username": "rita", "display_name": "Rita", "role": "contributor"} in response.json()["members"]
    events = audit_events(database, before)
    assert [(e["actor"], e["action"], e["object_id"], e["payload"]["user"], e["payload"]["role"]) for e in events] == [
        ("olga", "space.member.set", "benefits", "rita", "contributor")]


@pytest.mark.parametrize("path", ["/api/v1/users/nobody", "/api/v1/spaces/nowhere"])
def test_unknown_id_is_404(client, cast, path: str) -> None:  # noqa: ANN001
    assert_error_shape(client.get(path, headers=cast["admin"].headers), 404, "not_found")


def test_unknown_route_is_404_with_error_shape(client) -> None:  # noqa: ANN001
    assert_error_shape(client.get("/api/v1/no-such-thing"), 404, "not_found")


def test_method_not_allowed_has_error_shape(client) -> None:  # noqa: ANN001
    assert_error_shape(client.delete("/api/v1/health"), 405, "method_not_allowed")


def test_oversized_body_is_413(client, cast, settings) -> None:  # noqa: ANN001
    body = b'{"name": "' + b"x" * (settings.max_request_bytes + 10) + b'"}'
    response = client.post("/api/v1/me/tokens", content=body, headers={**cast["reader"].headers, "content-type": "application/json"})
    assert_error_shape(response, 413, "payload_too_large")


def test_oversized_streamed_body_is_413(client, cast, settings) -> None:  # noqa: ANN001
    def chunks():  # no content-length: the limit must hold while streaming
        for _ in range(settings.max_request_bytes // 65536 + 2):
            yield b"x" * 65536

    response = client.post("/api/v1/me/tokens", content=chunks(), headers={**cast["reader"].headers, "content-type": "application/json"})
    assert_error_shape(response, 413, "payload_too_large")


def test_malformed_json_is_422_with_error_shape(client, cast, database) -> None:  # noqa: ANN001
    before = head_seq(database)
    response = client.post("/api/v1/me/tokens", content=b'{"name": ', headers={**cast["reader"].headers, "content-type": "application/json"})
    body = assert_error_shape(response, 422, "validation_error")
    assert "JSON" in body["error"]["message"]
    assert head_seq(database) == before


def test_unknown_field_is_422(client, cast) -> None:  # noqa: ANN001
    response = client.post("/api/v1/users", json={"username": "zed", "display_name": "Zed", "is_admin": True},
                           headers=cast["admin"].headers)
    body = assert_error_shape(response, 422, "validation_error")
    assert any("is_admin" in str(error["loc"]) for error in body["error"]["details"])


def test_token_lifecycle(client, cast, database) -> None:  # noqa: ANN001
    created = client.post("/api/v1/me/tokens", json={"name": "laptop"}, headers=cast["reader"].headers)
    assert created.status_code == 201
    raw, token_id = created.json()["token"], created.json()["id"]
    assert raw.startswith("kb_")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert me.json()["username"] == "rita"
    listed = client.get("/api/v1/me/tokens", headers=cast["reader"].headers).json()
    laptop = next(t for t in listed["data"] if t["name"] == "laptop")
    assert "token" not in laptop and laptop["last_used_at"] is not None
    # someone else cannot revoke it, and cannot even tell it exists
    assert_error_shape(client.delete(f"/api/v1/me/tokens/{token_id}", headers=cast["owner"].headers), 404)
    revoked = client.delete(f"/api/v1/me/tokens/{token_id}", headers=cast["reader"].headers)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert_error_shape(client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}), 401)
    actions = [e["action"] for e in audit_events(database) if e["object_type"] == "token" and e["object_id"] == str(token_id)]
    assert actions == ["token.create", "token.revoke"]


def test_tokens_are_stored_hashed(cast, database) -> None:  # noqa: ANN001
    from sqlalchemy import text

    with database.engine.connect() as connection:
        stored = [row[0] for row in connection.execute(text("SELECT token_hash FROM api_token"))]
    assert cast["reader"].token not in stored
    assert all(len(value) == 64 for value in stored)


def test_password_login_issues_token(client, database) -> None:  # noqa: ANN001
    from tests.factories import make_person

    make_person(database, "pia", password="correct horse battery")
    wrong = client.post("/api/v1/auth/token", json={"username": "pia", "password": "wrong password!"})
    assert_error_shape(wrong, 401, "invalid_credentials")
    unknown = client.post("/api/v1/auth/token", json={"username": "nobody", "password": "whatever123"})
    assert unknown.json()["error"]["message"] == wrong.json()["error"]["message"]
    ok = client.post("/api/v1/auth/token", json={"username": "pia", "password": "correct horse battery"})
    assert ok.status_code == 201
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {ok.json()['token']}"}).json()["username"] == "pia"


def test_the_unknown_usernames_hash_is_made_by_a_starting_server_not_at_import(app) -> None:  # noqa: ANN001
    """A failed sign-in of an unknown username verifies a dummy argon2 hash, so it takes as long as a wrong
    password. Importing the accounts service no longer makes it (0.1 CPU-s at each process's start, every
    CLI command's included); a server makes it as it starts, so no sign-in request waits for it."""
    import subprocess
    import sys

    from fastapi.testclient import TestClient

    from kb.accounts import service

    probe = "from kb.accounts import service\nprint(service.dummy_hash.cache_info().currsize)\n"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip() == "0"
    service.dummy_hash.cache_clear()
    with TestClient(app):
        assert service.dummy_hash.cache_info().currsize == 1
    assert service.dummy_hash().startswith("$argon2")


def test_deactivated_user_loses_access(client, cast) -> None:  # noqa: ANN001
    response = client.patch("/api/v1/users/rita", json={"is_active": False}, headers=cast["admin"].headers)
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert_error_shape(client.get("/api/v1/me", headers=cast["reader"].headers), 401)


def test_admin_cannot_demote_themselves(client, cast) -> None:  # noqa: ANN001
    response = client.patch("/api/v1/users/adam", json={"global_role": "reader"}, headers=cast["admin"].headers)
    assert_error_shape(response, 409, "conflict")


def test_health_is_anonymous(client) -> None:  # noqa: ANN001
    body = client.get("/api/v1/health").json()
    assert body["status"] == "ok" and body["database"] in {"sqlite", "postgresql"}


def test_public_colleague_view_hides_email(client, cast) -> None:  # noqa: ANN001
    space = client.get("/api/v1/spaces/benefits", headers=cast["reader"].headers).json()
    assert "@" not in str(space)


def test_front_door_leads_a_visitor_to_sign_in(client) -> None:  # noqa: ANN001
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert client.get("/docs").status_code == 200  # the API documentation stays where it was
