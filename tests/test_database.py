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


def test_upgrade_with_data_keeps_it(tmp_path) -> None:  # noqa: ANN001
    """Migrations run on a database that holds rows (batch table rebuilds must not break foreign keys)."""
    from kb.config import Settings
    from kb.db import Database
    from kb.migrations import current, upgrade

    database = Database(Settings(data_dir=tmp_path))
    upgrade(database, "0005")
    with database.engine.begin() as connection:  # rows as the 0005 schema had them
        connection.execute(text("INSERT INTO space (id, slug, name, description, four_eyes, created_at) "
                                "VALUES (1, 'benefits', 'Benefits', '', 1, '2026-01-01 00:00:00')"))
        connection.execute(text("INSERT INTO user_account (id, username, display_name, global_role, is_active, created_at) "
                                "VALUES (1, 'olga', 'Olga', 'reader', 1, '2026-01-01 00:00:00')"))
        connection.execute(text("INSERT INTO space_membership (space_id, user_id, role, created_at) "
                                "VALUES (1, 1, 'owner', '2026-01-01 00:00:00')"))
    upgrade(database)
    from alembic.script import ScriptDirectory

    from kb.migrations import alembic_config

    assert current(database) == ScriptDirectory.from_config(alembic_config(database)).get_current_head()
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT slug, public_community FROM space")).one() == ("benefits", 0)
        assert connection.execute(text("SELECT count(*) FROM space_membership")).scalar() == 1
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    database.dispose()


# ---------------------------------------------------------------------------- SQLite's write gate (issue 19)

def _wait_for(condition, what: str) -> None:  # noqa: ANN001
    """Wait for ``condition()`` (another thread's progress), failing after a generous bound; never asserts on time."""
    import time

    for _ in range(20_000):
        if condition():
            return
        time.sleep(0.001)
    raise AssertionError(f"never happened: {what}")


def test_a_bulk_writer_gives_way_to_a_waiting_writer_and_a_writer_waits_for_a_bulk_one(tmp_path) -> None:  # noqa: ANN001
    """Two gates on one file behave as two processes: an ordinary (shared) holder keeps a give-way writer out,
    ordinary writers share it, and a give-way (exclusive) holder keeps every other writer out."""
    import threading

    from kb.db import WriteGate

    gate, other = WriteGate(tmp_path / "kb.sqlite3-write-gate"), WriteGate(tmp_path / "kb.sqlite3-write-gate")
    order: list[str] = []

    def hold(which: WriteGate, name: str, release: threading.Event, *, give_way: bool = False) -> threading.Thread:
        def run() -> None:
            with which.held(give_way=give_way):
                order.append(f"{name} in")
                release.wait()
                order.append(f"{name} out")
        thread = threading.Thread(target=run)
        thread.start()
        return thread

    end_ordinary, end_bulk, end_last = threading.Event(), threading.Event(), threading.Event()
    ordinary = hold(other, "ordinary", end_ordinary)
    _wait_for(lambda: order == ["ordinary in"], "the ordinary writer holds the gate")
    with gate.held():  # another ordinary writer shares it
        order.append("second ordinary")
    bulk = hold(gate, "bulk", end_bulk, give_way=True)
    _wait_for(lambda: gate.gave_way == 1, "the bulk writer waits")
    assert order == ["ordinary in", "second ordinary"]
    end_ordinary.set()
    _wait_for(lambda: "bulk in" in order, "the bulk writer goes once the ordinary one is out")
    assert order == ["ordinary in", "second ordinary", "ordinary out", "bulk in"]
    last = hold(other, "last", end_last)
    end_bulk.set()
    _wait_for(lambda: "last in" in order, "the ordinary writer goes once the bulk one is out")
    assert order[-3:] == ["bulk in", "bulk out", "last in"]
    end_last.set()
    for thread in (ordinary, bulk, last):
        thread.join()


def test_the_write_gate_is_sqlite_only(database, backend) -> None:  # noqa: ANN001
    assert (database.write_gate is None) == (backend == "postgresql")
    if backend == "sqlite":
        assert database.write_gate.path == database.settings.data_dir / "kb.sqlite3-write-gate"


def test_a_database_at_the_head_is_upgraded_without_loading_alembic(database) -> None:  # noqa: ANN001
    """Every CLI command calls ``upgrade``: at the head it reads one stamp and loads no Alembic (issue 19: it
    cost 0.6 CPU-s at the start of each command, a bulk import's included). The head read off the files'
    names is Alembic's own, so a database behind it is still upgraded."""
    import subprocess
    import sys

    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from kb.migrations import alembic_config, current, head_revision

    assert head_revision() == ScriptDirectory.from_config(alembic_config(database)).get_current_head()
    with database.engine.connect() as connection:
        assert current(database) == MigrationContext.configure(connection).get_current_revision() == head_revision()
    settings = database.settings
    probe = ("import sys\nfrom kb.config import Settings\nfrom kb.db import Database\nfrom kb.migrations import upgrade\n"
             f"database = Database(Settings(data_dir={str(settings.data_dir)!r}, database_url={settings.database_url!r}, "
             f"database_schema={settings.database_schema!r}))\n"
             "upgrade(database)\nprint(sorted(name for name in sys.modules if name.split('.')[0] == 'alembic'))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
