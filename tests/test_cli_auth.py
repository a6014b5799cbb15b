"""The CLI is a person too (issue 16): every command that changes state or acts for someone
authenticates them, with an API token (``KB_TOKEN`` or ``--token-file``, resolved as the API resolves
a bearer token) or ``--as USERNAME`` and a password at a hidden prompt (checked as a sign-in is).
A failed authentication is one red line, a non-zero exit, no event and no change; every event a
person causes through the CLI records the channel ``cli``; only the bootstrap (``kb init --admin``,
``kb demo``) acts as kb itself, channel ``system``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.actors import GlobalRole, SpaceRole
from tests.audit import audit_events, head_seq
from tests.factories import make_person, make_space, run_cli

PASSWORD = "olga-password-1"


@pytest.fixture
def people(cli_env, database, client):  # noqa: ANN001, ANN201
    """benefits (four eyes) with carl contributing and olga and otto owning it (passwords), adam an admin,
    and child-benefit in review, written by carl."""
    make_space(database, "benefits")
    made = {
        "carl": make_person(database, "carl", spaces={"benefits": SpaceRole.contributor}, password="carl-password-1"),
        "olga": make_person(database, "olga", spaces={"benefits": SpaceRole.owner}, password=PASSWORD),
        "otto": make_person(database, "otto", spaces={"benefits": SpaceRole.owner}, password="otto-password-1"),
        "adam": make_person(database, "adam", GlobalRole.admin, password="adam-password-1"),
    }
    body = {"slug": "child-benefit", "title": "Child benefit", "body_md": "# Child benefit\n\nPaid each quarter.\n",
            "audience": "public", "language": "en", "intended_use": "Tests", "licence": "CC0"}
    carl = made["carl"].headers
    assert client.post("/api/v1/spaces/benefits/documents", json=body, headers=carl).status_code == 201
    assert client.post("/api/v1/documents/child-benefit/versions/1/submit", json={}, headers=carl).status_code == 200
    return made


def _state(client, people) -> str:  # noqa: ANN001
    return client.get("/api/v1/documents/child-benefit/versions/1", headers=people["adam"].headers).json()["state"]


def _by_people(events: list[dict]) -> list[dict]:
    """The events people caused: without kb's own publication record, which follows an approval (as system)."""
    assert {e["action"] for e in events if e["actor"] == "system"} <= {"version.publish"}
    assert all(e["channel"] == "system" for e in events if e["actor"] == "system")
    return [e for e in events if e["actor"] != "system"]


def _assert_refused(result, database, before: int, message: str) -> None:  # noqa: ANN001
    assert result.exit_code != 0, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert head_seq(database) == before, "a refused authentication recorded an event"


def test_a_token_in_kb_token_acts_as_its_owner_on_the_cli_channel(people, database, client) -> None:  # noqa: ANN001
    before = head_seq(database)
    result = run_cli("approve", "child-benefit", "1", token=people["olga"].token)
    assert result.exit_code == 0 and "as olga" in result.output, result.output
    assert _state(client, people) == "approved"
    (event,) = _by_people(audit_events(database, before))
    assert (event["action"], event["actor"], event["channel"]) == ("version.approve", "olga", "cli")


def test_a_token_file_works_as_kb_token(people, database, tmp_path: Path) -> None:  # noqa: ANN001
    token_file = tmp_path / "token"
    token_file.write_text(people["otto"].token + "\n")
    result = run_cli("approve", "child-benefit", "1", "--token-file", str(token_file))
    assert result.exit_code == 0, result.output
    assert [(e["actor"], e["channel"]) for e in audit_events(database, 0) if e["action"] == "version.approve"] == [("otto", "cli")]


def test_a_password_at_the_prompt_acts_as_that_person(people, database) -> None:  # noqa: ANN001
    before = head_seq(database)
    result = run_cli("approve", "child-benefit", "1", "--as", "olga", password=PASSWORD)
    assert result.exit_code == 0, result.output
    assert "Password for olga" in result.output and PASSWORD not in result.output  # asked, and not echoed
    (event,) = _by_people(audit_events(database, before))
    assert (event["actor"], event["channel"]) == ("olga", "cli")


@pytest.mark.parametrize(("as_user", "password"), [("olga", "not-her-password"), ("nobody", PASSWORD), ("OLGA", PASSWORD)],
                         ids=["wrong password", "unknown user", "another spelling"])
def test_a_wrong_password_or_unknown_user_is_refused_with_no_event(people, database, client, as_user, password) -> None:  # noqa: ANN001
    before = head_seq(database)
    result = run_cli("approve", "child-benefit", "1", "--as", as_user, password=password)
    _assert_refused(result, database, before, "Unknown username or wrong password")
    assert _state(client, people) == "in_review"


def test_a_deactivated_account_is_refused_like_a_wrong_password(people, database, client) -> None:  # noqa: ANN001
    assert client.patch("/api/v1/users/olga", json={"is_active": False}, headers=people["adam"].headers).status_code == 200
    before = head_seq(database)
    by_password = run_cli("approve", "child-benefit", "1", "--as", "olga", password=PASSWORD)
    _assert_refused(by_password, database, before, "Unknown username or wrong password")
    by_token = run_cli("approve", "child-benefit", "1", token=people["olga"].token)
    _assert_refused(by_token, database, before, "token is unknown, expired or revoked")
    assert _state(client, people) == "in_review"


def test_someone_elses_token_with_as_is_refused(people, database, client) -> None:  # noqa: ANN001
    """carl holds his own token and names otto: the CLI acts as nobody but the token's owner."""
    before = head_seq(database)
    result = run_cli("approve", "child-benefit", "1", "--as", "otto", token=people["carl"].token)
    _assert_refused(result, database, before, "the API token is carl's: it cannot act as 'otto'")
    same = run_cli("approve", "child-benefit", "1", "--as", "olga", token=people["olga"].token)
    assert same.exit_code == 0, same.output  # --as naming the token's own owner is fine
    assert _state(client, people) == "approved"


def test_an_unknown_or_revoked_token_is_refused(people, database, client) -> None:  # noqa: ANN001
    before = head_seq(database)
    _assert_refused(run_cli("approve", "child-benefit", "1", token="kb_not-a-token"), database, before,
                    "token is unknown, expired or revoked")
    mine = client.get("/api/v1/me/tokens", headers=people["olga"].headers).json()["data"]
    assert client.delete(f"/api/v1/me/tokens/{mine[0]['id']}", headers=people["olga"].headers).status_code in (200, 204)
    before = head_seq(database)
    _assert_refused(run_cli("approve", "child-benefit", "1", token=people["olga"].token), database, before,
                    "token is unknown, expired or revoked")


def test_no_credentials_at_all_is_refused(people, database) -> None:  # noqa: ANN001
    before = head_seq(database)
    _assert_refused(run_cli("approve", "child-benefit", "1"), database, before, "say who you are")
    # --as without a password typed (no terminal input): no prompt answered, nothing happens
    silent = run_cli("approve", "child-benefit", "1", "--as", "otto")
    assert silent.exit_code != 0 and head_seq(database) == before


@pytest.mark.parametrize("args", [
    ["import", "{md}", "--space", "benefits"],
    ["approve", "child-benefit", "1"],
    ["user", "add", "neo"],
    ["space", "add", "legal"],
    ["space", "member", "benefits", "carl", "reader"],
    ["space", "update", "benefits", "--description", "x"],
    ["space", "remove", "benefits", "carl"],
    ["token", "create"],
    ["governance", "list"],
    ["governance", "approve", "1"],
    ["governance", "refuse", "1", "--reason", "no"],
    ["search", "child benefit", "--mode", "keyword"],
    ["experts", "child benefit", "--exclude-me"],
], ids=lambda a: " ".join(a[:2]))
def test_every_command_that_acts_for_a_person_asks_who_they_are(people, database, tmp_path: Path, args) -> None:  # noqa: ANN001
    md = tmp_path / "rent.md"
    md.write_text("# Rent\n\nRent allowance.\n")
    before = head_seq(database)
    result = run_cli(*[a.replace("{md}", str(md)) for a in args])
    assert result.exit_code != 0 and "KB_TOKEN" in result.output, result.output
    assert head_seq(database) == before


def test_every_event_a_person_causes_through_the_cli_records_cli(people, database, tmp_path: Path) -> None:  # noqa: ANN001
    md = tmp_path / "rent.md"
    md.write_text("# Rent allowance\n\nRent allowance is paid monthly.\n")
    before = head_seq(database)
    adam, carl, olga = people["adam"].token, people["carl"].token, people["olga"].token
    steps = [
        run_cli("import", str(md), "--space", "benefits", "--intended-use", "Tests", token=carl),
        run_cli("approve", "child-benefit", "1", token=olga),
        run_cli("user", "add", "neo", "--name", "Neo", token=adam),
        run_cli("user", "add", "root2", "--name", "Root Two", "--role", "admin", token=adam),
        run_cli("space", "add", "legal", "--owner", "olga", token=adam),
        run_cli("space", "member", "benefits", "neo", "reader", "--as", "olga", password=PASSWORD),
        run_cli("token", "create", token=carl),
    ]
    assert [s.exit_code for s in steps] == [0] * len(steps), [s.output for s in steps]
    events = _by_people(audit_events(database, before))
    assert {e["channel"] for e in events} == {"cli"}
    assert {e["actor"] for e in events} == {"adam", "carl", "olga"}


def test_the_bootstrap_acts_as_kb_itself(cli_env, database) -> None:  # noqa: ANN001
    made = run_cli("init", "--admin", "root", "--name", "Root Admin", env={"KB_NEW_PASSWORD": "root-password-1"})
    assert made.exit_code == 0, made.output
    refused = run_cli("demo")  # the demo's known passwords never come into a database with real people (issue 16)
    assert refused.exit_code == 2 and "other people in it (root)" in refused.output
    events = audit_events(database)
    assert events and {e["channel"] for e in events} == {"system"}
    assert events[0]["action"] == "user.create" and events[0]["actor"] == "system"
    assert events[0]["payload"].get("global_role", "admin") == "admin"
    # the first admin can act at once, through the CLI, as a person
    added = run_cli("user", "add", "neo", "--as", "root", password="root-password-1")
    assert added.exit_code == 0, added.output
    assert audit_events(database, events[-1]["seq"])[0]["channel"] == "cli"


def test_init_admin_asks_the_password_twice_when_not_in_the_environment(cli_env, database) -> None:  # noqa: ANN001
    made = run_cli("init", "--admin", "root", env={"KB_NEW_PASSWORD": None}, password="root-password-1\nroot-password-1")  # type: ignore[dict-item]
    assert made.exit_code == 0, made.output
    assert run_cli("token", "create", "--as", "root", password="root-password-1").stdout.strip().startswith("kb_")


def test_init_admin_is_refused_once_an_active_admin_exists(cli_env, database) -> None:  # noqa: ANN001
    assert run_cli("init", "--admin", "root", env={"KB_NEW_PASSWORD": "root-password-1"}).exit_code == 0
    before = head_seq(database)
    again = run_cli("init", "--admin", "root2", env={"KB_NEW_PASSWORD": "root-password-2"})
    assert again.exit_code != 0 and "An active admin exists already (root)" in again.output, again.output
    assert head_seq(database) == before
    assert "root2" not in run_cli("governance", "list", "--as", "root", password="root-password-1").output


def test_init_admin_is_refused_after_the_demo(cli_env, database) -> None:  # noqa: ANN001
    assert run_cli("demo").exit_code == 0
    before = head_seq(database)
    refused = run_cli("init", "--admin", "mallory", env={"KB_NEW_PASSWORD": "mallory-password"})
    assert refused.exit_code != 0 and "An active admin exists already" in refused.output
    assert head_seq(database) == before


def test_a_second_person_decides_through_the_cli(people, database, client) -> None:  # noqa: ANN001
    """olga asks for four eyes off (API); otto sees it with `kb governance list` and approves it;
    a request olga refuses… she cannot: it is her own."""
    asked = client.patch("/api/v1/spaces/benefits", json={"four_eyes": False}, headers=people["olga"].headers)
    assert asked.status_code == 202
    request_id = asked.json()["id"]
    listed = run_cli("governance", "list", token=people["otto"].token)
    assert f"{request_id}  pending" in listed.stdout and "you may decide it" in listed.stdout
    before = head_seq(database)
    own = run_cli("governance", "approve", str(request_id), token=people["olga"].token)
    assert own.exit_code == 2 and "Separation of duties" in own.output
    assert head_seq(database) == before
    done = run_cli("governance", "approve", str(request_id), "--as", "otto", password="otto-password-1")
    assert done.exit_code == 0, done.output
    assert client.get("/api/v1/spaces/benefits", headers=people["olga"].headers).json()["four_eyes"] is False
    events = audit_events(database, before)
    assert [(e["action"], e["actor"], e["channel"]) for e in events] == [
        ("governance.approve", "otto", "cli"), ("space.update", "otto", "cli")]


def test_a_refusal_through_the_cli_keeps_the_reason(people, database, client) -> None:  # noqa: ANN001
    asked = client.put("/api/v1/spaces/benefits/members/carl", json={"role": "owner"}, headers=people["olga"].headers)
    assert asked.status_code == 202
    done = run_cli("governance", "refuse", str(asked.json()["id"]), "--reason", "carl writes; others approve",
                   token=people["adam"].token)
    assert done.exit_code == 0, done.output
    (refusal,) = [e for e in audit_events(database) if e["action"] == "governance.refuse"]
    assert refusal["actor"] == "adam" and refusal["channel"] == "cli"
    assert refusal["payload"]["reason"] == "carl writes; others approve"
    members = client.get("/api/v1/spaces/benefits", headers=people["adam"].headers).json()["members"]
    assert {m["username"]: m["role"] for m in members}["carl"] == "contributor"


def test_a_token_is_created_for_oneself_only(people, database) -> None:  # noqa: ANN001
    before = head_seq(database)
    others = run_cli("token", "create", "olga", token=people["carl"].token)
    assert others.exit_code == 2 and "only create tokens for yourself" in others.output, others.output
    assert head_seq(database) == before
    mine = run_cli("token", "create", "olga", password=PASSWORD)  # olga's own, after her password
    assert mine.exit_code == 0 and mine.stdout.strip().startswith("kb_")


def test_init_admin_reads_the_log_not_only_the_rows(cli_env, database) -> None:  # noqa: ANN001
    """The insider review of 2026-12-07 (F3): an operator marked every admin inactive in the database, ran
    the bootstrap to mint an admin "as kb itself" with a password he chose, and marked them active again;
    ``kb audit verify`` then found nothing. The bootstrap now asks the log who is an active admin."""
    from sqlalchemy import text

    assert run_cli("init", "--admin", "root", env={"KB_NEW_PASSWORD": "root-password-1"}).exit_code == 0
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE user_account SET is_active = false WHERE username = 'root'"))
    before = head_seq(database)
    refused = run_cli("init", "--admin", "backup", env={"KB_NEW_PASSWORD": "operator-chose-this"})
    assert refused.exit_code != 0 and "The audit log holds an active admin (root)" in refused.output, refused.output
    assert head_seq(database) == before
    verified = run_cli("audit", "verify")
    assert verified.exit_code != 0 and "user root" in verified.output, verified.output  # the edit itself is named


def test_the_demo_refuses_an_organisations_admin_who_happens_to_be_called_adam(cli_env, database) -> None:  # noqa: ANN001
    """The insider review of 2026-12-07 (F3, related): a real first admin named like the demo's (adam) let
    ``kb demo`` add its owners with published passwords. A demo username whose password is not the demo's
    is someone else; the demo refuses and records nothing, and runs again over its own users."""
    assert run_cli("init", "--admin", "adam", env={"KB_NEW_PASSWORD": "our-own-admin-pw"}).exit_code == 0
    before = head_seq(database)
    refused = run_cli("demo")
    assert refused.exit_code == 2 and "other people in it (adam)" in refused.output, refused.output
    assert head_seq(database) == before


def test_the_demo_runs_again_over_its_own_users(cli_env, database, client) -> None:  # noqa: ANN001
    """…even one an admin deactivated since (a second review found it then called rita someone else)."""
    assert run_cli("demo").exit_code == 0
    token = client.post("/api/v1/auth/token", json={"username": "adam", "password": "adam-demo-2026"}).json()["token"]
    deactivated = client.patch("/api/v1/users/rita", json={"is_active": False}, headers={"Authorization": f"Bearer {token}"})
    assert deactivated.status_code == 200, deactivated.text
    again = run_cli("demo")
    assert again.exit_code == 0, again.output
