"""Every search is logged, whichever door it came through: the API, the web pages and the CLI.

The query log (kb.search.models.QueryLog) feeds the search-gap insights. The search actions write it
(kb.search.actions), so `kb search` on the CLI, which once wrote nothing, now logs like the API:
one row per search, public or employee, the result count, the mode, the language and the latency,
never the person.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from kb.app import create_app
from kb.cli import app as cli_app
from kb.search.models import QueryLog
from tests.factories import make_cast, make_document

COLUMNS = {"id", "at", "audience", "query", "mode", "language", "result_count", "answered", "latency_ms"}


@pytest.fixture
def corpus(database):  # noqa: ANN001, ANN201
    cast = make_cast(database)
    make_document(database, cast, slug="child-benefit", state="approved",
                  body="# Child benefit\n\nChild benefit is paid every quarter for each child under 18.")
    make_document(database, cast, slug="failover-runbook", state="approved", audience="internal",
                  body="# Failover runbook\n\nPromote the standby database when the primary fails.")
    return cast


def logged(database) -> list[QueryLog]:  # noqa: ANN001
    with database.session() as session:
        return list(session.execute(select(QueryLog).order_by(QueryLog.id)).scalars())


def kb(*args: str, token: str | None = None, password: str | None = None):  # noqa: ANN201
    """``kb ARGS``, authenticated by ``token`` (KB_TOKEN) or ``password`` (the prompt of --as) when given."""
    return CliRunner().invoke(cli_app, list(args), env={"KB_TOKEN": token}, catch_exceptions=False,  # type: ignore[dict-item]
                              input=None if password is None else f"{password}\n")


def test_the_log_holds_no_person() -> None:
    assert set(QueryLog.__table__.columns.keys()) == COLUMNS


def test_cli_search_writes_one_query_log_row_as_employee_and_as_citizen(cli_env, database, corpus) -> None:  # noqa: ANN001
    employee = kb("search", "standby database failover", "--mode", "keyword", token=corpus["reader"].token)
    assert employee.exit_code == 0, employee.output
    assert "Failover runbook" in employee.output
    (row,) = logged(database)
    assert (row.audience, row.query, row.mode, row.language) == ("employee", "standby database failover", "keyword", None)
    assert row.result_count >= 1 and row.latency_ms >= 0

    citizen = kb("search", "zzqx nothing matches this", "--public", "--lang", "en")
    assert citizen.exit_code == 0, citizen.output
    assert "No results." in citizen.output
    rows = logged(database)
    assert len(rows) == 2
    public = rows[1]
    assert (public.audience, public.query, public.mode, public.language, public.result_count) == (
        "public", "zzqx nothing matches this", "hybrid", "en", 0)
    assert public.latency_ms >= 0


def test_a_refused_or_empty_cli_search_writes_nothing(cli_env, database, corpus) -> None:  # noqa: ANN001
    assert kb("search", "   ", token=corpus["reader"].token).exit_code != 0
    assert kb("search", "child benefit", "--as", "nobody", password="no-such-password").exit_code != 0
    assert logged(database) == []


def test_web_and_api_searches_are_logged_alike(settings, database, corpus) -> None:  # noqa: ANN001
    from tests.factories import sign_in

    with TestClient(create_app(settings, database=database)) as client:
        assert client.get("/api/v1/search", params={"q": "child benefit"}, headers=corpus["reader"].headers).status_code == 200
        assert client.get("/public/v1/search", params={"q": "child benefit"}).status_code == 200
        assert client.get("/public", params={"q": "child benefit"}).status_code == 200
        sign_in(client, database, "rita")
        assert client.get("/search", params={"q": "child benefit"}).status_code == 200
    rows = logged(database)
    assert [r.audience for r in rows] == ["employee", "public", "public", "employee"]
    assert all(r.query == "child benefit" and r.mode == "hybrid" and r.result_count >= 1 for r in rows)


# ------------------------------------------------------- a writer holds the database (issue 16)

BUSY_TIMEOUT_MS = 100


def _short_busy_timeout(engine) -> None:  # noqa: ANN001
    """New connections of ``engine`` wait ``BUSY_TIMEOUT_MS`` for the write lock instead of 30 s."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _busy(dbapi_connection, _record) -> None:  # noqa: ANN001
        dbapi_connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    engine.dispose()


@pytest.fixture
def write_lock(settings, database, corpus, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN001, ANN201
    """Another connection holding SQLite's write lock (BEGIN IMMEDIATE), as a long import once did."""
    import sqlite3

    from kb import db as kb_db

    if settings.database_url:
        pytest.skip("SQLite's write lock")
    from kb.accounts import actions as accounts

    with database.session() as session:  # rita's token was just used: its last-used stamp (a write) is fresh
        accounts.identify_by_token(session, token=corpus["reader"].token)
    _short_busy_timeout(database.engine)
    original = kb_db.make_engine

    def make_engine(engine_settings):  # noqa: ANN001, ANN202  (the CLI builds its own engine)
        engine = original(engine_settings)
        _short_busy_timeout(engine)
        return engine

    monkeypatch.setattr(kb_db, "make_engine", make_engine)
    holder = sqlite3.connect(settings.data_dir / "kb.sqlite3", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    yield holder
    holder.execute("ROLLBACK")
    holder.close()


def test_a_public_search_answers_while_a_writer_holds_the_database(settings, database, corpus, cli_env, write_lock,  # noqa: ANN001
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    with TestClient(create_app(settings, database=database), raise_server_exceptions=False) as client:
        api = client.get("/public/v1/search", params={"q": "child benefit"})
        assert api.status_code == 200, api.text
        assert api.json()["data"][0]["document"] == "child-benefit"
        web = client.get("/public", params={"q": "child benefit"})
        assert web.status_code == 200 and "/public/d/child-benefit" in web.text
    cli = kb("search", "child benefit", "--public")
    assert cli.exit_code == 0 and "Child benefit" in cli.output, cli.output
    employee = kb("search", "child benefit", token=corpus["reader"].token)
    assert employee.exit_code == 0 and "Child benefit" in employee.output, employee.output
    failures = [r for r in caplog.records if r.name == "kb.search.actions" and "query log row not written" in r.getMessage()]
    assert len(failures) == 4 and "database is locked" in failures[0].getMessage()
    write_lock.execute("ROLLBACK")
    write_lock.execute("BEGIN IMMEDIATE")  # the fixture's teardown rolls back
    assert logged(database) == []  # nothing was written meanwhile, and nothing half-written since
