"""People are told apart (issue 16, point 2): display names are unique after Unicode confusable folding,
and employees' cards show the stable username beside the display name.

The attack: an admin creates a second account named like an owner ("Otto Owner", or "0tto Owner",
or with a Greek Omicron) and approves his own work with it; the card read "approved by Otto Owner".
Now the name is refused on every surface that names people (API create and update, ``kb user add``,
the demo fixtures, which create users through the same action), and a card names ``@username`` too.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from kb.accounts.names import display_name_key
from kb.cli import app as cli_app
from tests.audit import head_seq
from tests.factories import approved_document, make_cast, sign_in

CONFUSABLE = ["0tto Owner", "\u039ftto Owner", "otto owner", "OTTO  OWNER", "Otto Owner\u200b", "\u039ftto \u039fwner"]
DISTINCT = ["Otto Owens", "Ottó Owner", "Otto Owner 2"]


def test_the_key_folds_confusables_case_width_and_spacing() -> None:
    key = display_name_key("Otto Owner")
    assert all(display_name_key(name) == key for name in CONFUSABLE)
    assert all(display_name_key(name) != key for name in DISTINCT)
    assert display_name_key("\uff2f\uff54\uff54\uff4f Owner") == key  # fullwidth letters (NFKC)
    assert display_name_key(key) == key


@pytest.fixture
def cast(database, client):  # noqa: ANN001, ANN201
    people = make_cast(database)
    renamed = client.patch("/api/v1/users/otto", json={"display_name": "Otto Owner"}, headers=people["admin"].headers)
    assert renamed.status_code == 200, renamed.text
    return people


def _refusal(response) -> dict:  # noqa: ANN001
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "display_name_confusable"
    assert "unique after Unicode confusable folding" in error["message"]
    assert error["details"] == {"rule": "display_name_unique_after_confusable_folding", "conflicts_with": "otto"}
    return error


@pytest.mark.parametrize("name", CONFUSABLE)
def test_the_api_refuses_a_confusable_new_user(client, database, cast, name: str) -> None:  # noqa: ANN001
    before = head_seq(database)
    _refusal(client.post("/api/v1/users", json={"username": "adam2", "display_name": name}, headers=cast["admin"].headers))
    assert head_seq(database) == before
    assert client.get("/api/v1/users/adam2", headers=cast["admin"].headers).status_code == 404


@pytest.mark.parametrize("name", DISTINCT)
def test_the_api_accepts_a_distinct_name(client, cast, name: str) -> None:  # noqa: ANN001
    created = client.post("/api/v1/users", json={"username": "adam2", "display_name": name}, headers=cast["admin"].headers)
    assert created.status_code == 201 and created.json()["display_name"] == name


def test_an_invisible_name_is_refused(client, cast) -> None:  # noqa: ANN001
    response = client.post("/api/v1/users", json={"username": "ghost", "display_name": "\u200b\u2060"},
                           headers=cast["admin"].headers)
    assert response.status_code == 422 and response.json()["error"]["code"] == "validation_error"
    assert "visible character" in response.json()["error"]["message"]


def test_the_api_refuses_renaming_someone_to_a_confusable_name(client, database, cast) -> None:  # noqa: ANN001
    admin = cast["admin"].headers
    before = head_seq(database)
    _refusal(client.patch("/api/v1/users/rita", json={"display_name": "0tto Owner"}, headers=admin))
    assert head_seq(database) == before
    assert client.get("/api/v1/users/rita", headers=admin).json()["display_name"] == "Rita"
    # a person may respell their own name: it is no one else's
    assert client.patch("/api/v1/users/otto", json={"display_name": "OTTO OWNER"}, headers=admin).status_code == 200
    # and a freed name may be taken
    assert client.patch("/api/v1/users/otto", json={"display_name": "Otto"}, headers=admin).status_code == 200
    assert client.patch("/api/v1/users/rita", json={"display_name": "0tto Owner"}, headers=admin).status_code == 200


def test_kb_user_add_refuses_with_one_line(database, cast, cli_env) -> None:  # noqa: ANN001
    before = head_seq(database)
    refused = CliRunner().invoke(cli_app, ["user", "add", "adam2", "--name", "\u039ftto Owner"],
                                 env={"KB_TOKEN": cast["admin"].token}, catch_exceptions=False)
    assert refused.exit_code != 0 and "unique after Unicode confusable folding" in refused.output
    assert "Traceback" not in refused.output and head_seq(database) == before
    accepted = CliRunner().invoke(cli_app, ["user", "add", "adam2", "--name", "Adam Second"],
                                  env={"KB_TOKEN": cast["admin"].token}, catch_exceptions=False)
    assert accepted.exit_code == 0, accepted.output


def test_the_demo_users_are_told_apart(database) -> None:  # noqa: ANN001
    from kb.fixtures import DEMO_USERS, load_demo

    load_demo(database)
    keys = [display_name_key(user.display_name) for user in DEMO_USERS]
    assert len(set(keys)) == len(keys)
    with database.session() as session:
        stored = session.execute(text("SELECT count(DISTINCT display_name_key), count(*) FROM user_account")).one()
    assert stored[0] == stored[1] >= len(keys)


def test_the_database_refuses_a_duplicate_key_too(database, cast) -> None:  # noqa: ANN001
    from sqlalchemy.exc import IntegrityError

    with database.session() as session, pytest.raises(IntegrityError):
        session.execute(text("UPDATE user_account SET display_name_key = 'otto owner' WHERE username = 'rita'"))
        session.commit()


def test_employee_cards_show_the_username_and_public_cards_name_no_person(client, database, cast) -> None:  # noqa: ANN001
    slug = approved_document(client, cast)  # carl writes, olga approves
    card = client.get(f"/api/v1/documents/{slug}", headers=cast["reader"].headers).json()["current"]["provenance"]
    assert card["approved_by"] == {"username": "olga", "display_name": "Olga"}
    assert card["author"] == {"username": "carl", "display_name": "Carl"}
    sign_in(client, database, "rita")
    page = client.get(f"/d/{slug}").text
    assert "Olga</a> <span class=\"username\">(@olga)</span>" in page
    assert "Carl</a> <span class=\"username\">(@carl)</span>" in page
    public = client.get(f"/public/d/{slug}").text + client.get(f"/public/v1/documents/{slug}").text
    assert "@olga" not in public and "@carl" not in public and "Olga" not in public and "Carl" not in public


def test_the_migration_keeps_the_older_name_and_suffixes_the_newer(tmp_path) -> None:  # noqa: ANN001
    from kb.config import Settings
    from kb.db import Database
    from kb.migrations import upgrade

    database = Database(Settings(data_dir=tmp_path))
    upgrade(database, "0010")
    with database.engine.begin() as connection:  # users as the 0010 schema had them: two look alike
        connection.execute(text(
            "INSERT INTO user_account (id, username, display_name, global_role, is_active, created_at) VALUES "
            "(1, 'adam2', '\u039ftto Owner', 'reader', 1, '2026-02-01 00:00:00'), "
            "(2, 'otto', 'Otto Owner', 'reader', 1, '2026-01-01 00:00:00'), "
            "(3, 'rita', 'Rita', 'reader', 1, '2026-01-01 00:00:00')"))
    upgrade(database)
    with database.engine.connect() as connection:
        rows = {username: (name, key) for username, name, key in connection.execute(
            text("SELECT username, display_name, display_name_key FROM user_account")).all()}
    assert rows["otto"] == ("Otto Owner", "otto owner")
    assert rows["adam2"][0] == "\u039ftto Owner (adam2)" and rows["adam2"][1] == display_name_key("Otto Owner (adam2)")
    assert rows["rita"] == ("Rita", "rita")
    database.dispose()
