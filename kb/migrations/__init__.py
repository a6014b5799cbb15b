"""Alembic migrations: the schema of every table, from the first one on.

``upgrade(database)`` brings a database to the newest revision (``kb db upgrade``, ``kb init``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from alembic.config import Config
    from sqlmodel import Session

    from kb.db import Database

HERE = Path(__file__).parent


def alembic_config(database: "Database") -> "Config":
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", database.engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    config.attributes["engine"] = database.engine
    config.attributes["schema"] = database.settings.database_schema
    return config


BASELINE_REVISION = "0014"
"""From this revision on, events commit to served content; older logs get a baseline when they cross it."""


def head_revision() -> str:
    """The newest revision, read off the migration files' names (``NNNN_what.py``, revision ``NNNN``, each
    revising the one before; ``tests/test_database.py`` checks this against Alembic's own head)."""
    return max(path.name.split("_", 1)[0] for path in (HERE / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def upgrade(database: "Database", revision: str = "head") -> None:
    """Apply every migration up to ``revision``.

    A database already at the head is left as it is without loading Alembic, which reads every migration
    file (0.6 CPU-s when it is the first thing a process does; every CLI command calls this).

    A database that crosses revision 0014 with events in its log gets its baseline then: the
    commitments of every existing object and a first signed tree head (``baseline``); one that
    crosses 0023 gets the commitments of the taxonomy its earlier events made (``taxonomy_baseline``); one
    that crosses 0024, the moment each public community opened (``community_baseline``); one that crosses
    0025, the row ids of versions, documents and spaces (``id_baseline``).
    """
    if revision == "head" and current(database) == head_revision():
        return
    from alembic import command

    before = current(database)
    command.upgrade(alembic_config(database), revision)
    after = current(database)
    if before is not None and before < MACS_REVISION <= (after or ""):
        begin_macs(database)
    if before is not None and before < BASELINE_REVISION <= (after or ""):
        baseline(database)
    if before is not None and before < TAXONOMY_REVISION <= (after or ""):
        taxonomy_baseline(database)
    if before is not None and before < COMMUNITY_REVISION <= (after or ""):
        community_baseline(database)
    if before is not None and before < IDS_REVISION <= (after or ""):
        id_baseline(database)


MACS_REVISION = "0015"
"""From this revision on, kb authenticates each event it writes; older events are closed by a marker."""


def begin_macs(database: "Database") -> None:
    """Record ``audit.macs_begin`` (authenticated, by kb) after the events written before kb authenticated
    events, so that ``kb audit verify`` accepts those and requires a valid MAC of every later one."""
    from kb import provenance
    from kb.actors import SYSTEM
    from kb.db import transaction

    with database.session() as session:
        legacy = provenance.head(session)[0]
        if legacy == 0:
            return  # an empty log: every event is authenticated from the first
        with transaction(session):
            provenance.record(session, SYSTEM, "audit.macs_begin", ("log", "kb"), {"legacy_events": legacy})


def baseline(database: "Database") -> None:
    """Record the baseline of an existing log (``kb.documents.integrity.record_baseline``) and sign a
    first tree head over it into ``<data dir>/tree-heads/`` (``<size>.json`` and ``latest.json``)."""
    from kb import provenance
    from kb.db import transaction
    from kb.documents.integrity import record_baseline

    with database.session() as session:
        if provenance.head(session)[0] == 0:
            return  # an empty log: every event from now on commits
        with transaction(session):
            recorded = record_baseline(session)
        if recorded == 0:
            return  # the log commits to content already: no baseline, nothing to sign
        key = database.settings.signing_key_path
        provenance.ensure_signing_key(key)
        head = provenance.publish_tree_head(session, database.settings.tree_heads_dir, key)
    print(f"audit log: baseline of {recorded} events recorded; first signed tree head of size "  # noqa: T201
          f"{head['tree_size']} written to {database.settings.tree_heads_dir}")


TAXONOMY_REVISION = "0023"
"""From this revision on, taxonomy events commit to the concepts they change; older ones get a baseline."""


def taxonomy_baseline(database: "Database") -> None:
    """Commit to the taxonomy rows that earlier taxonomy events named (``kb.taxonomy.service.record_baseline``)."""
    from kb.taxonomy.service import record_baseline

    _record_once(database, record_baseline, "taxonomy schemes and concepts")


COMMUNITY_REVISION = "0024"
"""From this revision on, a space's safeguards commit to when its public community opened."""


def community_baseline(database: "Database") -> None:
    """Commit to when each public community opened (``kb.documents.integrity.record_community_baseline``)."""
    from kb.documents.integrity import record_community_baseline

    _record_once(database, record_community_baseline, "public communities' opening")


IDS_REVISION = "0025"
"""From this revision on, versions', documents' and spaces' commitments carry their row ids."""


def id_baseline(database: "Database") -> None:
    """Commit to the row ids of versions, documents and spaces (``kb.documents.integrity.record_id_baseline``)."""
    from kb.documents.integrity import record_id_baseline

    _record_once(database, record_id_baseline, "row ids of versions, documents and spaces")


def _record_once(database: "Database", record: "Callable[[Session], int]", what: str) -> None:
    """Run one of the upgrade's baselines in a transaction of its own, and say what it recorded."""
    from kb.db import transaction

    with database.session() as session, transaction(session):
        recorded = record(session)
    if recorded:
        print(f"audit log: baseline of {recorded} {what} recorded")  # noqa: T201


def current(database: "Database") -> str | None:
    """The revision the database is stamped with, None before the first: one query of Alembic's own table,
    without loading Alembic (the history is one line, so one row; ``tests/test_database.py`` checks it
    against Alembic's own reading)."""
    from sqlalchemy import inspect, text

    with database.engine.connect() as connection:
        schema = database.settings.database_schema if connection.dialect.name == "postgresql" else None
        if not inspect(connection).has_table("alembic_version", schema=schema):
            return None
        table = f'"{schema}".alembic_version' if schema else "alembic_version"
        return connection.execute(text(f"SELECT version_num FROM {table}")).scalar()

