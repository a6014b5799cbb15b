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

COLUMNS = {"id", "at", "audience", "query", "mode", "language", "result_count", "latency_ms"}


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


def kb(*args: str):  # noqa: ANN201
    return CliRunner().invoke(cli_app, list(args), catch_exceptions=False)


def test_the_log_holds_no_person() -> None:
    assert set(QueryLog.__table__.columns.keys()) == COLUMNS


def test_cli_search_writes_one_query_log_row_as_employee_and_as_citizen(cli_env, database, corpus) -> None:  # noqa: ANN001
    employee = kb("search", "standby database failover", "--as", "rita", "--mode", "keyword")
    assert employee.exit_code == 0, employee.output
    assert "Failover runbook" in employee.output
    (row,) = logged(database)
    assert (row.audience, row.query, row.mode, row.language) == ("employee", "standby database failover", "keyword", None)
    assert row.result_count >= 1 and row.latency_ms > 0

    citizen = kb("search", "zzqx nothing matches this", "--public", "--lang", "en")
    assert citizen.exit_code == 0, citizen.output
    assert "No results." in citizen.output
    rows = logged(database)
    assert len(rows) == 2
    public = rows[1]
    assert (public.audience, public.query, public.mode, public.language, public.result_count) == (
        "public", "zzqx nothing matches this", "hybrid", "en", 0)
    assert public.latency_ms > 0


def test_a_refused_or_empty_cli_search_writes_nothing(cli_env, database, corpus) -> None:  # noqa: ANN001
    assert kb("search", "   ", "--as", "rita").exit_code != 0
    assert kb("search", "child benefit", "--as", "nobody").exit_code != 0
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
