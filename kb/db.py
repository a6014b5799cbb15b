"""Database access: engine construction, sessions and the one-transaction-per-action helper.

Owns the SQLite pragmas (WAL, synchronous=FULL, foreign keys, writers that take the lock up front)
and the PostgreSQL connection options. ``transaction(session)`` commits once, then publishes the
events queued during the transaction. Must not import kb domain packages.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session

from kb.config import Settings
from kb.events import PENDING_EVENTS_KEY, RECORD_HOOKS_KEY, EventBus

EVENT_BUS_KEY = "kb_event_bus"
WRITE_OPTION = "kb_write"
# Ids and audit sequence numbers are INTEGER columns (32-bit on PostgreSQL): the largest one a request
# may name. A bigger number would fail in the database ("integer out of range") instead of as a 422.
MAX_ROW_ID = 2**31 - 1


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores a naive UTC timestamp on every backend and always returns an aware UTC datetime."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("Bug: naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def make_engine(settings: Settings) -> Engine:
    """Build the engine for the configured database, with the settings this product relies on."""
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _configure_sqlite(engine)
        return engine
    connect_args: dict[str, Any] = {}
    if settings.database_schema:
        connect_args["options"] = f"-csearch_path={settings.database_schema}"
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, pool_size=10, max_overflow=20)


SQLITE_MMAP_BYTES = 256 * 1024 * 1024


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself so that writers can BEGIN IMMEDIATE (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # Reads through a memory map rather than a read() per page: the search re-check looks up a few
        # hundred scattered rows per query (at 100k chunks: 5.5 against 7.0 ms per call; docs/benchmarks.md).
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A write transaction takes the write lock at BEGIN: a deferred transaction that read first
        # would fail with SQLITE_BUSY when another writer committed in between.
        immediate = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def is_postgresql(session_or_engine: Any) -> bool:
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else session_or_engine
    return bind.dialect.name == "postgresql"


EVENT_KEY_PATH = "kb_event_key_path"
"""Session info: the file of the secret ``kb.provenance`` authenticates the events it appends with."""


class Database:
    """The engine plus the event bus; hands out sessions that know where to publish events."""

    def __init__(self, settings: Settings, bus: EventBus | None = None) -> None:
        self.settings = settings
        self.engine = make_engine(settings)
        self.bus = bus or EventBus()
        self.record_hooks: list[Any] = []
        """Called by ``kb.provenance.record`` in the transaction of each event (the composition root installs them)."""

    def session(self) -> Session:
        session = Session(self.engine, expire_on_commit=False)
        session.info[EVENT_BUS_KEY] = self.bus
        session.info[EVENT_KEY_PATH] = self.settings.event_key_path
        session.info[RECORD_HOOKS_KEY] = self.record_hooks
        return session

    def dispose(self) -> None:
        self.engine.dispose()


def end_read(session: Session) -> None:
    """End the read transaction the session holds, if any, before slow work outside the database.

    Parsing an upload takes seconds; no snapshot (nor, on PostgreSQL, an idle transaction) is kept
    meanwhile. Like ``transaction``, it commits what the session holds (a read changes nothing).
    """
    if session.in_transaction():
        session.commit()


@contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """Run one user action in one write transaction; commit once, then publish queued events.

    Any read transaction the session had open (for example to authenticate) is ended first, so
    the write transaction starts from a fresh snapshot and, on SQLite, holds the write lock.
    """
    if session.in_transaction():
        session.commit()
    session.connection(execution_options={WRITE_OPTION: True})
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        session.info.pop(PENDING_EVENTS_KEY, None)
        raise
    events = session.info.pop(PENDING_EVENTS_KEY, [])
    bus: EventBus | None = session.info.get(EVENT_BUS_KEY)
    if bus is not None:
        for domain_event in events:
            bus.publish(domain_event)
