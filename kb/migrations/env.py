"""Alembic environment: runs migrations on the engine handed over by ``kb.migrations.upgrade``."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import kb.migrations.env_models  # noqa: F401  (registers every table on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        from sqlalchemy import create_engine

        engine = create_engine(config.get_main_option("sqlalchemy.url"))
    schema = config.attributes.get("schema")
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # Batch migrations recreate tables; with foreign keys on, dropping the old table fails
            # once rows refer to it. Switch them off on the raw connection (outside any transaction)
            # for the migration, and check the result afterwards.
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        if schema and connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            connection.exec_driver_sql(f'SET search_path TO "{schema}"')
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            version_table_schema=schema if connection.dialect.name == "postgresql" else None,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
        if connection.dialect.name == "sqlite":
            raw = connection.connection.dbapi_connection
            problems = raw.execute("PRAGMA foreign_key_check").fetchall()
            raw.execute("PRAGMA foreign_keys=ON")
            if problems:
                raise RuntimeError(f"Bug: the migration left rows that break foreign keys: {problems[:5]}")


run_migrations_online()
