"""The scratch PostgreSQL schema a benchmark works in: a fresh name, and its removal afterwards."""

from __future__ import annotations

import os
import uuid


def schema_name(prefix: str) -> str:
    """A schema name no other run uses: the prefix, this process's id and a random suffix."""
    return f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"


def drop_schema(database_url: str, schema: str | None) -> None:
    """Remove ``schema`` and everything in it (nothing to do for ``None``: a SQLite run)."""
    if not schema:
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()
