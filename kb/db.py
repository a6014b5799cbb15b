"""Database access: engine construction, sessions and the one-transaction-per-action helper.

Owns the SQLite pragmas (WAL, synchronous=FULL, foreign keys, writers that take the lock up front),
SQLite's write gate (``WriteGate``: a bulk writer gives way to other writers between its transactions)
and the PostgreSQL connection options. ``transaction(session)`` commits once, then publishes the
events queued during the transaction. Must not import kb domain packages.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session

from kb.config import Settings
from kb.events import PENDING_EVENTS_KEY, RECORD_HOOKS_KEY, EventBus

log = logging.getLogger("kb.db")

EVENT_BUS_KEY = "kb_event_bus"
WRITE_GATE_KEY = "kb_write_gate"
WRITE_OPTION = "kb_write"
# Ids and audit sequence numbers are INTEGER columns (32-bit on PostgreSQL): the largest one a request
# may name. A bigger number would fail in the database ("integer out of range") instead of as a 422.
MAX_ROW_ID = 2**31 - 1
SQLITE_BUSY_SECONDS = 30.0
"""How long a SQLite writer waits for the write lock (``busy_timeout``), and at most for the write gate."""


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
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS})
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
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")
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


GIVE_WAY_SECONDS = 2.0
"""How long a bulk writer lets other writers go first before a transaction; past it, it queues as they do."""


class _GateFile:
    """One thread's open file of the gate (``flock`` locks belong to an open file, so each thread has its own)."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self.depth = 0

    def __del__(self) -> None:  # the thread ended: its thread-local goes, and the file with it
        try:
            os.close(self.fd)
        except OSError:
            pass


class WriteGate:
    """On SQLite, the order in which writers of every process on this database get the one write lock.

    SQLite has one writer at a time, and a writer that finds the lock taken polls for it with a growing
    back-off (sleeps of 1, 2, 5, 10, … 100 ms). A bulk import that takes the lock again right after
    each file's commit then keeps an approval waiting for hundreds of milliseconds (issue 19: p95 504 ms
    against a goal of 200). The gate is a file beside the database, locked with ``flock`` around each
    write transaction (``transaction``): an ordinary writer holds it *shared* (ordinary writers do not
    wait for each other here; SQLite orders them as before), a bulk writer (``give_way``) holds it
    *exclusive*. So a bulk writer starts a transaction only when no other writer is waiting or writing,
    and a writer that arrives during a bulk transaction waits on the gate, polled every millisecond,
    not in SQLite's back-off; one bulk transaction (one file) is the most it waits for.

    The gate only orders writers: SQLite's lock still serialises them, and a writer that cannot get
    the gate in time (``SQLITE_BUSY_SECONDS``; a bulk writer, ``GIVE_WAY_SECONDS``, so that it is not
    starved by a steady stream of writes) goes on without it, exactly as without a gate. Writers that
    do not use it (an older kb, the ``sqlite3`` shell) are ordered by SQLite alone.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self.gave_way = 0
        """Transactions of bulk writers that waited for another writer first (tests count them)."""

    def _file(self) -> _GateFile:
        file = getattr(self._local, "file", None)
        if file is None:
            file = self._local.file = _GateFile(self.path)
        return file

    @contextmanager
    def held(self, *, give_way: bool = False) -> Iterator[None]:
        """Hold the gate for one write transaction: shared, or exclusive with ``give_way``.

        A transaction nested in another of the same thread (another session) holds it as the outer one does.
        """
        file = self._file()
        if file.depth:
            file.depth += 1
            try:
                yield
            finally:
                file.depth -= 1
            return
        mode, patience = (fcntl.LOCK_EX, GIVE_WAY_SECONDS) if give_way else (fcntl.LOCK_SH, SQLITE_BUSY_SECONDS)
        acquired = flock_within(file.fd, mode, patience, on_wait=self._gave_way if give_way else None)
        if not acquired:
            log.debug("Write gate %s not free after %.1f s: writing without it", self.path, patience)
        file.depth = 1
        try:
            yield
        finally:
            file.depth = 0
            if acquired:
                fcntl.flock(file.fd, fcntl.LOCK_UN)

    def _gave_way(self) -> None:
        self.gave_way += 1


def flock_within(fd: int, mode: int, patience: float, *, on_wait: Callable[[], None] | None = None, poll: float = 0.001,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> bool:
    """``flock(fd, mode)``, tried every ``poll`` seconds for at most ``patience`` seconds from the first try that
    found it held: whether it was taken. ``on_wait`` is called once, at that first try."""
    deadline = None
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            pass
        now = clock()
        if deadline is None:
            deadline = now + patience
            if on_wait is not None:
                on_wait()
        elif now >= deadline:
            return False
        sleep(poll)


def write_gate_for(url: str) -> WriteGate | None:
    """The write gate of a SQLite database file (``<file>-write-gate``); None for PostgreSQL or an in-memory SQLite."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == "sqlite:///:memory:":
        return None
    database = Path(url[len(prefix):].split("?", 1)[0])
    return WriteGate(database.with_name(database.name + "-write-gate"))


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
        self.write_gate = write_gate_for(settings.resolved_database_url)
        self.bus = bus or EventBus()
        self.record_hooks: list[Any] = []
        """Called by ``kb.provenance.record`` in the transaction of each event (the composition root installs them)."""

    def session(self) -> Session:
        session = Session(self.engine, expire_on_commit=False)
        session.info[EVENT_BUS_KEY] = self.bus
        session.info[EVENT_KEY_PATH] = self.settings.event_key_path
        session.info[WRITE_GATE_KEY] = self.write_gate
        session.info[RECORD_HOOKS_KEY] = self.record_hooks
        return session

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def end_read(session: Session) -> None:
    """End the read transaction the session holds, if any, before slow work outside the database.

    Parsing an upload takes seconds; no snapshot (nor, on PostgreSQL, an idle transaction) is kept
    meanwhile. Like ``transaction``, it commits what the session holds (a read changes nothing).
    """
    if session.in_transaction():
        session.commit()


@contextmanager
def transaction(session: Session, *, give_way: bool = False) -> Iterator[Session]:
    """Run one user action in one write transaction; commit once, then publish queued events.

    Any read transaction the session had open (for example to authenticate) is ended first, so
    the write transaction starts from a fresh snapshot and, on SQLite, holds the write lock.

    Args:
        give_way: a bulk writer's transaction (one file of a bulk import): on SQLite it starts only
            when no other writer waits for the lock (``WriteGate``). PostgreSQL locks rows: no effect.
    """
    if session.in_transaction():
        session.commit()
    gate: WriteGate | None = session.info.get(WRITE_GATE_KEY)
    with gate.held(give_way=give_way) if gate is not None else _nothing():
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
