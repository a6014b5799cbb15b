"""What every command of the ``kb`` CLI shares: the Typer apps, settings, the database, errors.

Module-level imports are limited to Typer (and the light kb.actors) so that ``kb --help`` stays
fast; each command imports what it needs.
"""


from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from kb.config import Settings
    from kb.db import Database

app = typer.Typer(
    help="kb: an enterprise knowledge base with accountable provenance.\n\n"
    "Settings come from KB_* environment variables (see the README's configuration table).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)
user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
space_app = typer.Typer(help="Manage spaces and their members.", no_args_is_help=True)
token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
audit_app = typer.Typer(help="Inspect and verify the audit log.", no_args_is_help=True)
index_app = typer.Typer(help="Inspect the search indexes.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(space_app, name="space")
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")
app.add_typer(index_app, name="index")


def fail(message: str, code: int = 1) -> "typer.Exit":
    typer.secho(f"Error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def load_cli_settings() -> "Settings":
    from pydantic import ValidationError

    from kb.config import load_settings

    try:
        return load_settings()
    except ValidationError as exc:
        raise fail(f"invalid configuration: {exc.errors()[0]['msg']}") from None


def open_database(migrate: bool = True) -> "Database":
    from kb.db import Database
    from kb.migrations import upgrade

    database = Database(load_cli_settings())
    if migrate:
        upgrade(database)
    return database


class KbErrors:
    """Turn a service's KbError into one red line and a non-zero exit."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:  # noqa: ANN001
        from kb.errors import KbError

        if isinstance(exc, KbError):
            raise fail(exc.message, 2)
        return False


def actor_named(session, username: str):  # noqa: ANN001, ANN202
    from kb.accounts import actions

    return actions.identify_by_username(session, username=username)


def choice(kind, value: str, what: str):  # noqa: ANN001, ANN201
    """``value`` as a member of the string enum ``kind``, or one red line naming the choices."""
    try:
        return kind(value)
    except ValueError:
        raise fail(f"unknown {what} {value!r}; use {', '.join(m.value for m in kind)}") from None
