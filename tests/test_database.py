"""The database is configured as promised and the migrations describe exactly the models."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from kb.db import transaction
from tests.factories import make_person


def test_sqlite_pragmas(database, backend) -> None:  # noqa: ANN001
    if backend != "sqlite":
        pytest.skip("SQLite only")
    with database.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_migrations_match_models(database) -> None:  # noqa: ANN001
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    import kb.migrations.env_models  # noqa: F401

    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), SQLModel.metadata)
    assert diff == []


def test_foreign_keys_are_enforced(database) -> None:  # noqa: ANN001
    with pytest.raises(DBAPIError), database.engine.begin() as connection:
        connection.execute(text("INSERT INTO space_membership (space_id, user_id, role, created_at) "
                                "VALUES (999, 999, 'owner', CURRENT_TIMESTAMP)"))


@pytest.mark.parametrize("statement", ["UPDATE audit_event SET action = 'forged'", "DELETE FROM audit_event"])
def test_audit_events_are_append_only_in_the_database(database, statement: str) -> None:  # noqa: ANN001
    make_person(database, "rita")
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
        connection.execute(text(statement))


def test_transaction_rolls_back_and_drops_events(database) -> None:  # noqa: ANN001
    from kb.events import DocumentWithdrawn, queue_event

    received = []
    database.bus.subscribe(DocumentWithdrawn, received.append)
    with database.session() as session:
        with pytest.raises(RuntimeError), transaction(session):
            queue_event(session, DocumentWithdrawn(audit_seq=1, document_id=1))
            raise RuntimeError("boom")
        with transaction(session):
            queue_event(session, DocumentWithdrawn(audit_seq=2, document_id=2))
    assert received == [DocumentWithdrawn(audit_seq=2, document_id=2)]
