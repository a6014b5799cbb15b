"""The test fixtures' own promise on PostgreSQL: between two tests the schema is empty, whichever way it was emptied.

tests/conftest.py empties the run's schema before and after every PostgreSQL test in one ``DO`` block
with the session's triggers off, or, for a role that may not turn them off, statement by statement.
``make test`` connects as a superuser, so the second way runs here, not by chance. (Each SQLite test
gets a fresh copy of the migrated template file instead.)
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from kb.db import Database
from tests import conftest
from tests.factories import make_cast, make_document

pytestmark = pytest.mark.skipif(conftest.PG_URL is None, reason="KB_TEST_DATABASE_URL not set")


@pytest.fixture
def database(tmp_path, request) -> Iterator[Database]:  # noqa: ANN001
    """This run's PostgreSQL schema (the tests are about it alone), emptied before and after as every test's is."""
    with conftest.backend_database(conftest.backend_settings("postgresql", tmp_path, request), "postgresql") as db:
        yield db


def _in_one_block(database) -> None:  # noqa: ANN001
    with database.engine.begin() as connection:
        connection.exec_driver_sql(conftest._EMPTY_SCHEMA_BLOCK)  # noqa: SLF001


WAYS = {"one block": _in_one_block, "statement by statement": conftest._empty_pg_schema_statement_by_statement}  # noqa: SLF001


def _rows(database) -> dict[str, int]:  # noqa: ANN001
    with database.engine.connect() as connection:
        tables = connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                                         "AND tablename <> 'alembic_version'")).scalars().all()
        counts = {table: connection.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one() for table in tables}
    return {table: n for table, n in counts.items() if n}


@pytest.mark.parametrize("way", sorted(WAYS))
def test_emptying_leaves_only_the_audit_head_and_restarts_every_id(database, way) -> None:  # noqa: ANN001
    cast = make_cast(database)
    make_document(database, cast, slug="kept-nowhere", state="approved", body="# Kept\n\nNowhere after this.")
    before = _rows(database)
    assert {"user_account", "audit_event", "document", "document_chunk"} <= set(before)
    WAYS[way](database)
    assert _rows(database) == {"audit_head": 1}
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT seq, hash FROM audit_head")).one() == (0, "0" * 64)
    make_cast(database)
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT min(id) FROM user_account")).scalar_one() == 1


def test_a_role_refused_the_replication_role_is_recognised_and_nothing_else(database) -> None:  # noqa: ANN001
    """The fallback is taken only when PostgreSQL refuses the role ``session_replication_role``: another error in
    the block (here, a syntax error) is raised, not taken for it."""
    role = f"kb_not_superuser_{os.getpid()}"
    with database.engine.begin() as connection:
        if not connection.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar_one():
            pytest.skip("this run's role is not a superuser: it cannot make a role to try")
        connection.execute(text(f'CREATE ROLE "{role}"'))
    try:
        with pytest.raises(ProgrammingError) as refused, database.engine.begin() as connection:
            connection.execute(text(f'SET LOCAL ROLE "{role}"'))
            connection.exec_driver_sql(conftest._EMPTY_SCHEMA_BLOCK)  # noqa: SLF001
        assert conftest._may_not_set_replication_role(refused.value)  # noqa: SLF001
    finally:
        with database.engine.begin() as connection:
            connection.execute(text(f'DROP ROLE "{role}"'))
    with pytest.raises(ProgrammingError) as broken, database.engine.begin() as connection:
        connection.exec_driver_sql("DO $$ BEGIN SET LOCAL session_replication_role = replica; SELEC 1; END $$")
    assert not conftest._may_not_set_replication_role(broken.value)  # noqa: SLF001
