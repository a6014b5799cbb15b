"""Alembic migrations: the schema of every table, from the first one on.

``upgrade(database)`` brings a database to the newest revision (``kb db upgrade``, ``kb init``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

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


def upgrade(database: "Database", revision: str = "head") -> None:
    """Apply every migration up to ``revision``."""
    from alembic import command

    command.upgrade(alembic_config(database), revision)


def current(database: "Database") -> str | None:
    from alembic.runtime.migration import MigrationContext

    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
