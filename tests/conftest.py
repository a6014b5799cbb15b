"""Test fixtures: every database test runs on SQLite and, when KB_TEST_DATABASE_URL is set, on PostgreSQL.

SQLite: the schema is migrated once into a template file, copied into each test's tmp_path.
PostgreSQL: the schema is migrated once into a schema of its own for this run; before and after each
test every table is emptied; the schema is dropped at the end. Real connections, never mocks.
"""

from __future__ import annotations

import graphlib
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError

from kb.config import Environment, Settings
from kb.db import Database
from kb.migrations import upgrade

# A committing request indexes before it returns, so that a test may search for what it just approved.
# The background worker that production runs (KB_INDEX_IN_BACKGROUND) has tests of its own:
# tests/test_background_indexing.py sets it on the Settings it builds.
os.environ.setdefault("KB_INDEX_IN_BACKGROUND", "false")
PG_URL = os.environ.get("KB_TEST_DATABASE_URL") or None


def _engines_share_compiled_statements() -> None:
    """Give every engine this test process builds for one database the first one's dialect and compiled-statement cache.

    A process of kb builds one engine and compiles each statement once. The tests build an engine per
    test (a new SQLite file, or a new ``Database`` on this run's PostgreSQL schema), and SQLAlchemy keys
    its compiled statements by the dialect object itself: every test compiled every statement it ran
    again, and initialised a new dialect. Sharing them cut the CPU of tests/test_documents.py and
    tests/test_social.py by about a quarter (82–90 to 65 CPU-s). Engines share them only where the
    dialect's configuration is the same: every SQLite file alike (nothing about the file is in the
    dialect), PostgreSQL by URL and schema (the dialect reads the default schema when it initialises).
    Only the test process is touched: a ``kb`` process a test starts builds its own engine as usual.
    """
    import kb.db

    build = kb.db.make_engine
    shared: dict[tuple[str, str], tuple[object, object]] = {}

    def make_engine(settings: Settings):  # noqa: ANN202
        engine = build(settings)
        key = ("sqlite", "") if engine.dialect.name == "sqlite" else (str(engine.url), settings.database_schema or "")
        if key not in shared:
            shared[key] = (engine.dialect, engine._compiled_cache)  # noqa: SLF001 - the engine's own LRU cache
        engine.dialect, cache = shared[key]
        engine.update_execution_options(compiled_cache=cache)
        return engine

    kb.db.make_engine = make_engine


_engines_share_compiled_statements()


def _cli_commands_built_once() -> None:
    """Let typer's ``CliRunner`` build the click commands of a Typer app once per test process, not at every ``invoke``.

    ``typer.testing.CliRunner.invoke`` turns the app into click commands each time it is called
    (``typer.main.get_command``: 48 ms for ``kb``'s, more on a busy machine): a ``kb`` process's
    start-up cost, which it pays once. The permission matrix alone invokes the CLI about 200 times a
    database. The click command keeps no state between invocations (each gets a new context). An app
    given a command or a group since it was built is built again.
    """
    import typer.testing

    build = typer.testing._get_command  # noqa: SLF001 - the name CliRunner.invoke calls
    built: dict[int, tuple[object, tuple[int, int], object]] = {}

    def get_command(app):  # noqa: ANN001, ANN202
        shape = (len(app.registered_commands), len(app.registered_groups))
        held = built.get(id(app))
        if held is None or held[0] is not app or held[1] != shape:
            held = built[id(app)] = (app, shape, build(app))
        return held[2]

    typer.testing._get_command = get_command  # noqa: SLF001


_cli_commands_built_once()


def _passwords_hashed_cheaply() -> None:
    """Hash and check the passwords of the test process with argon2id at its smallest cost, not at kb's.

    kb hashes with argon2-cffi's defaults (RFC 9106's low-memory profile: 3 passes over 64 MiB, 4 lanes),
    about 0.2 CPU-s a hash or a check on this machine; the tests give people passwords and sign them in
    thousands of times, and what they check is never the cost. So in this process argon2id runs 1 pass
    over 8 KiB in one lane, as Django's test runner swaps in a fast hasher. A hash still verifies under
    the parameters written into it, so hashes made by a ``kb`` process a test starts (which keeps kb's
    own parameters) check as before. The parameters kb itself uses are checked in a fresh process:
    tests/test_accounts.py::test_kb_hashes_passwords_with_argon2id_at_rfc_9106_cost.
    """
    from argon2 import PasswordHasher

    from kb.accounts import service

    service._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # noqa: SLF001


_passwords_hashed_cheaply()
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(PG_URL is None, reason="KB_TEST_DATABASE_URL not set"))]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("template")
    database = Database(Settings(data_dir=data_dir, env=Environment.test))
    upgrade(database)
    database.dispose()
    return data_dir / "kb.sqlite3"


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    assert PG_URL is not None
    schema = f"kbtest_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    database = Database(Settings(database_url=PG_URL, database_schema=schema, env=Environment.test))
    upgrade(database)
    database.dispose()
    yield schema
    engine = create_engine(PG_URL)
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def _empty_pg_schema(database: Database) -> None:
    """Empty every table of this run's schema but ``alembic_version``, and restart its sequences: in one round trip.

    Every table is first locked as TRUNCATE locks them, so that a test that leaked an open transaction
    fails here after 10 s instead of hanging the run; then every row is deleted with the session's
    triggers off (``session_replication_role = replica``, this transaction only): neither the foreign
    keys' order nor ``audit_event``'s append-only trigger stands in the way. DELETE, not TRUNCATE, whose
    new files are synced to disk at commit. One ``DO`` block, where a statement a table and a sequence (36
    tables) took 75 ms a call, twice a test; this takes about 20. A role that may not set
    ``session_replication_role`` (not a superuser) is emptied statement by statement as before.
    """
    global _EMPTY_IN_ONE_BLOCK
    if _EMPTY_IN_ONE_BLOCK:
        try:
            with database.engine.begin() as connection:
                connection.exec_driver_sql(_EMPTY_SCHEMA_BLOCK)
            return
        except ProgrammingError as exc:
            if not _may_not_set_replication_role(exc):
                raise
            _EMPTY_IN_ONE_BLOCK = False
    _empty_pg_schema_statement_by_statement(database)


def _may_not_set_replication_role(exc: ProgrammingError) -> bool:
    """Whether PostgreSQL refused this role ``session_replication_role`` (insufficient privilege), and nothing else."""
    diag = getattr(exc.orig, "diag", None)
    return (getattr(exc.orig, "sqlstate", None) == "42501"
            and "session_replication_role" in (getattr(diag, "message_primary", None) or ""))


_EMPTY_IN_ONE_BLOCK = True
_EMPTY_SCHEMA_BLOCK = """
DO $$
DECLARE
    tables text[];
    name text;
BEGIN
    SET LOCAL lock_timeout = '10s';
    SET LOCAL session_replication_role = replica;
    SELECT array_agg(quote_ident(tablename)) INTO tables
        FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'alembic_version';
    EXECUTE 'LOCK TABLE ' || array_to_string(tables, ', ') || ' IN ACCESS EXCLUSIVE MODE';
    FOREACH name IN ARRAY tables LOOP
        EXECUTE 'DELETE FROM ' || name;
    END LOOP;
    FOR name IN SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema() LOOP
        EXECUTE 'ALTER SEQUENCE ' || quote_ident(name) || ' RESTART';
    END LOOP;
    INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, repeat('0', 64));
END
$$
"""


def _empty_pg_schema_statement_by_statement(database: Database) -> None:
    """``_empty_pg_schema`` for a role that may not set ``session_replication_role``: a round trip a table.

    DELETE, not TRUNCATE: TRUNCATE gives every table and index a new file, synced to disk at commit, which
    took 0.6 s a call (two calls a test) where deleting a test's few rows takes 0.06 s. The tables are first
    locked as TRUNCATE locks them, so that a test that leaked an open transaction still fails here instead
    of hanging the run. ``audit_event`` is append-only (a trigger refuses DELETE): it alone is truncated.
    """
    with database.engine.begin() as connection:
        connection.execute(text("SET LOCAL lock_timeout = '10s'"))
        try:
            tables = _tables_referring_first(connection)
        except graphlib.CycleError:  # foreign keys in a cycle: no order deletes them, TRUNCATE … CASCADE does
            tables = [row[0] for row in connection.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'alembic_version'"))]
            connection.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
            tables = []
        if tables:
            connection.execute(text("LOCK TABLE " + ", ".join(f'"{t}"' for t in tables) + " IN ACCESS EXCLUSIVE MODE"))
            for table in tables:
                connection.execute(text(f'TRUNCATE "{table}"' if table == "audit_event" else f'DELETE FROM "{table}"'))
        for (sequence,) in connection.execute(text("SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()")):
            connection.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))
        connection.execute(text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :h)"), {"h": "0" * 64})


def _tables_referring_first(connection) -> list[str]:  # noqa: ANN001
    """The schema's tables (but ``alembic_version``), each before the tables its foreign keys refer to."""
    referrers: dict[str, set[str]] = {row[0]: set() for row in connection.execute(text(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'alembic_version'"))}
    for child, parent in connection.execute(text(
            "SELECT c.relname, p.relname FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
            "JOIN pg_class p ON p.oid = k.confrelid WHERE k.contype = 'f' AND k.connamespace = current_schema()::regnamespace")):
        if child != parent and parent in referrers:
            referrers[parent].add(child)
    return list(graphlib.TopologicalSorter(referrers).static_order())


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    return backend_settings(backend, tmp_path, request)


@pytest.fixture
def database(settings: Settings, backend: str) -> Iterator[Database]:
    with backend_database(settings, backend) as db:
        yield db


def available_backends() -> list[str]:
    """The backends this run tests: SQLite, and PostgreSQL when KB_TEST_DATABASE_URL is set."""
    return ["sqlite"] + (["postgresql"] if PG_URL else [])


def backend_settings(backend: str, data_dir: Path, request: pytest.FixtureRequest) -> Settings:
    """The settings of a fresh database on ``backend`` with ``data_dir`` (the ``settings`` fixture's, for a test that needs both)."""
    if backend == "sqlite":
        shutil.copy(request.getfixturevalue("sqlite_template"), data_dir / "kb.sqlite3")
        return Settings(data_dir=data_dir, env=Environment.test)
    schema = request.getfixturevalue("pg_schema")
    return Settings(data_dir=data_dir, database_url=PG_URL, database_schema=schema, env=Environment.test)


@contextmanager
def backend_database(settings: Settings, backend: str) -> Iterator[Database]:
    """The ``database`` fixture's database: on PostgreSQL, emptied before and after."""
    db = Database(settings)
    try:
        if backend == "postgresql":
            _empty_pg_schema(db)  # also before: whatever an earlier test left behind cannot leak into this one
        yield db
        if backend == "postgresql":
            _empty_pg_schema(db)
    finally:
        db.dispose()


@pytest.fixture
def app(settings: Settings, database: Database):  # noqa: ANN201
    from kb.app import create_app

    return create_app(settings, database=database)


@pytest.fixture
def client(app):  # noqa: ANN001, ANN201
    from fastapi.testclient import TestClient

    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def session(database: Database):  # noqa: ANN201
    with database.session() as db_session:
        yield db_session


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``--dist loadgroup`` (``make test``): slow tests first, and ``xdist_group`` marks in effect."""
    if not getattr(config.option, "loadgroup", False):  # set on the workers by xdist for --dist loadgroup
        return
    _slow_tests_first(items)
    _give_xdist_groups_their_effect(items)


def _slow_tests_first(items: list[pytest.Item]) -> None:
    """Put the tests marked ``slow`` first, so that a worker never starts one when the other has nearly finished.

    The workers take the tests in this order as they become free (after the groups, which xdist sends
    first, the largest first). Left where they were collected, the two schemathesis runs (about 160 s
    each) came last and ran one after the other on one worker while the other one had finished.
    """
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: the rest keep their order


def _give_xdist_groups_their_effect(items: list[pytest.Item]) -> None:
    """Give ``xdist_group`` marks their effect under ``--dist loadgroup``.

    pytest-xdist sends the tests of one group to one worker by the ``@group`` suffix it appends to their
    node ids on the workers; it writes that suffix to ``item._nodeid``, which pytest 9.2 no longer reads
    (the id lives in ``item._id``, a ``NodeId``). So the groups were silently ignored: the browser tests
    (``tests/browser``, group ``browser``) were spread over both workers, and each worker started its own
    live server with the demo content, its search indexes and a chromium. Here the suffix is set where
    pytest reads it; a test already suffixed (an xdist that writes ``_id`` itself) is left alone.
    """
    try:
        from _pytest.nodeid import NodeId
    except ImportError:  # a pytest that still reads ``_nodeid``: xdist's own suffix works there
        return

    for item in items:
        groups = sorted({str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                         for mark in item.iter_markers("xdist_group")})
        suffix = "@" + "_".join(groups)
        if groups and not item.nodeid.endswith(suffix):
            item._id = NodeId.parse(item.nodeid + suffix)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ANN001
    """Print how many tests ran on each database backend (issue 2 asks for both counts)."""
    counts: Counter[tuple[str, str]] = Counter()
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") not in ("call", "setup"):
                continue
            if outcome == "passed" and report.when != "call":
                continue
            nodeid = getattr(report, "nodeid", "")
            kind = "postgresql" if "postgresql" in nodeid else "sqlite" if "sqlite" in nodeid else "no database"
            counts[(kind, outcome)] += 1
    terminalreporter.section("tests per database backend")
    for kind in ("sqlite", "postgresql", "no database"):
        parts = [f"{counts[(kind, o)]} {o}" for o in ("passed", "failed", "error", "skipped") if counts[(kind, o)]]
        terminalreporter.write_line(f"{kind}: {', '.join(parts) if parts else 'none'}")


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The environment a ``kb`` command reads, pointed at this test's data directory and database."""
    monkeypatch.setenv("KB_DATA_DIR", str(settings.data_dir))
    if settings.database_url:
        monkeypatch.setenv("KB_DATABASE_URL", settings.database_url)
        monkeypatch.setenv("KB_DATABASE_SCHEMA", settings.database_schema or "")
    else:
        monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    return settings


@pytest.fixture
def cast(database, client):  # noqa: ANN001, ANN201
    """One person per role (tests.factories.make_cast) and child-benefit, written by carl and approved by olga."""
    from tests.factories import approved_document, make_cast

    people = make_cast(database)
    approved_document(client, people)
    return people
