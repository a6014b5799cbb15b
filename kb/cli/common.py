"""What every command of the ``kb`` CLI shares: the Typer apps, settings, the database, errors.

Module-level imports are limited to Typer (and the light kb.actors) so that ``kb --help`` stays
fast; each command imports what it needs.
"""


from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from sqlmodel import Session

    from kb.accounts.schemas import GovernanceRequestPublic
    from kb.actors import Actor
    from kb.config import Settings
    from kb.db import Database

app = typer.Typer(
    help="kb: an enterprise knowledge base with accountable provenance.\n\n"
    "Settings come from KB_* environment variables (see the README's configuration table). "
    "A command that changes state or acts for a person authenticates that person: an API token in "
    "KB_TOKEN (or --token-file), or --as USERNAME and their password at a prompt.",
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
governance_app = typer.Typer(help="Decide the changes that wait for a second person (docs/governance.md).",
                             no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(space_app, name="space")
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")
app.add_typer(index_app, name="index")
app.add_typer(governance_app, name="governance")


_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def shown(text: str | None) -> str:
    """People's text (titles, notes, reasons) as one line a terminal shows as it is: line breaks and tabs become
    spaces, other control characters (escape sequences that clear or recolour the screen) and bidirectional
    overrides become U+FFFD, so no reader can fake a line of an owner's queue or hide text (the review of
    2026-12-07)."""
    import unicodedata

    out = []
    for char in text or "":
        if char in "\r\n\t\u2028\u2029":
            out.append(" ")
        elif unicodedata.category(char) == "Cc" or char in _BIDI_CONTROLS:
            out.append("\ufffd")
        else:
            out.append(char)
    return "".join(out)


BAD_INPUT, REFUSED, FOUND_A_PROBLEM = 1, 2, 3
"""Exit statuses (docs/cli.md): what was typed is wrong (the API's 400, 413, 415 and 422); kb's rules or the
authentication refused it (401, 403, 404, 409, 429 …); a check found a problem (``kb audit verify``,
``kb index check``, a receipt that does not hold)."""
BAD_INPUT_STATUSES = frozenset({400, 413, 415, 422})
MAX_ID = 2**31 - 1
"""The largest row id (``kb.db.MAX_ROW_ID``, not imported here: ``kb --help`` loads no database code); an id
argument above it is bad input, as the API's 422, not a traceback."""


def fail(message: str, code: int = BAD_INPUT) -> "typer.Exit":
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

    from kb.notifications.worker import install

    database = Database(load_cli_settings())
    if migrate:
        upgrade(database)
    install(database, database.settings)  # events the CLI records notify as the server's do (issue 17)
    return database


class KbErrors:
    """Turn a service's KbError into one red line and a non-zero exit."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:  # noqa: ANN001
        from kb.errors import KbError

        if isinstance(exc, KbError):
            raise fail(exc.message, BAD_INPUT if exc.code.status in BAD_INPUT_STATUSES else REFUSED)
        return False


# ---------------------------------------------------------------------------------- who acts (issue 16)

AsUser = Annotated[Optional[str], typer.Option(
    "--as", envvar="KB_AS",
    help="Act as this user: asks for their password (hidden). Not needed with a token; with one, it must name its owner")]
TokenFile = Annotated[Optional[Path], typer.Option(
    "--token-file", exists=True, dir_okay=False,
    help="File holding your API token (instead of the KB_TOKEN environment variable)")]

WRONG_CREDENTIALS = "Unknown username or wrong password"


def cli_token(token_file: Path | None) -> str | None:
    """The API token the command line was given: ``--token-file``'s content (stripped), else ``KB_TOKEN``."""
    if token_file is not None:
        return token_file.read_text(encoding="utf-8").strip() or None
    return os.environ.get("KB_TOKEN", "").strip() or None


def authenticated(session: "Session", settings: "Settings", *, as_user: str | None,
                  token_file: Path | None) -> "Actor":
    """The person this command acts as, authenticated as the API and the web UI authenticate them
    (issue 16: the CLI is a person too), with the channel ``cli`` on every event they cause.

    An API token (``--token-file`` or ``KB_TOKEN``) names its owner; ``--as`` may repeat that name
    and nothing else. Without a token, ``--as USERNAME`` and that person's password at a hidden
    prompt, checked like a sign-in (argon2, the per-account limit). Anything else is one red line and
    a non-zero exit, before the action runs: no event, no change.
    """
    from kb.accounts import actions
    from kb.actors import Channel
    from kb.errors import ErrorCode, KbError
    from kb.ratelimit import HashGate, RateLimiter

    token = cli_token(token_file)
    if token is not None:
        actor = actions.identify_by_token(session, token=token, channel=Channel.cli)
        if actor is None:
            raise fail("the API token is unknown, expired or revoked (or its account deactivated)", REFUSED)
        if as_user and as_user != actor.username:
            raise fail(f"the API token is {actor.username}'s: it cannot act as {as_user!r} "
                       "(unset KB_TOKEN to sign in as them with their password)", REFUSED)
        return actor
    if not as_user:
        raise fail("say who you are: an API token in KB_TOKEN (or --token-file PATH), "
                   "or --as USERNAME and your password at the prompt", REFUSED)
    password = typer.prompt(f"Password for {as_user}", hide_input=True, err=True)
    limits = actions.SignInLimits(limiter=RateLimiter(settings.redis_url, settings.redis_key_prefix),
                                  gate=HashGate(settings.login_max_concurrent_hashes), settings=settings)
    try:
        return actions.identify_by_password(session, username=as_user, password=password, limits=limits,
                                            channel=Channel.cli)
    except KbError as error:
        if error.code is ErrorCode.INVALID_CREDENTIALS:
            raise fail(WRONG_CREDENTIALS, REFUSED) from None
        raise fail(error.message, REFUSED) from None


def waiting(request: "GovernanceRequestPublic") -> str:
    """One line saying that a change is a pending request and who must approve it."""
    from kb.accounts.actions import who_decides

    second = who_decides(request.kind, request.target)
    return (f"Request {request.id} ({request.kind} {request.target}: {_change(request.change)}) is waiting for "
            f"{second}: kb governance approve {request.id}")


def _change(change: dict) -> str:
    return ", ".join(f"{key}={value}" for key, value in change.items() if value is not None) or "-"


def choice(kind, value: str, what: str):  # noqa: ANN001, ANN201
    """``value`` as a member of the string enum ``kind``, or one red line naming the choices."""
    try:
        return kind(value)
    except ValueError:
        raise fail(f"unknown {what} {value!r}; use {', '.join(m.value for m in kind)}") from None
