"""``kb`` commands: setting kb up and serving it: init, db upgrade, serve, demo."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from kb.cli.common import REFUSED, app, db_app, fail, open_database

# ----------------------------------------------------------------------------------------- setup

@app.command()
def init(
    admin: Annotated[Optional[str], typer.Option(help="Create the first admin with this username (only while no active admin exists)")] = None,
    name: Annotated[Optional[str], typer.Option(help="The first admin's display name (with --admin)")] = None,
    password: Annotated[Optional[str], typer.Option(help="The first admin's password (min. 10 characters); read from KB_NEW_PASSWORD if set, else asked at a hidden prompt", envvar="KB_NEW_PASSWORD")] = None,
) -> None:
    """Create the data directory, bring the database schema up to date and create the tree-head signing key.

    With --admin, also create the first admin, as kb itself (the bootstrap; channel system); the password
    comes from KB_NEW_PASSWORD or a prompt. Every later admin is a request a second admin approves.
    """
    from kb import provenance

    if name is not None and admin is None:
        raise fail("--name names the first admin: give --admin USERNAME too")
    database = open_database(migrate=True)
    typer.echo(f"Database ready: {database.engine.url.render_as_string(hide_password=True)}")
    key = database.settings.signing_key_path
    try:
        created = provenance.ensure_signing_key(key)
        info = provenance.signing_key_info(key)
    except (OSError, ValueError) as exc:
        raise fail(f"signing key {key}: {exc}") from None
    typer.echo(f"Signing key {'created' if created else 'kept'}: {key} (key id {info['key_id']})")
    if admin is not None:
        _first_admin(database, admin, name, password)


def _first_admin(database, username: str, display_name: str | None, password: str | None) -> None:  # noqa: ANN001
    from pydantic import ValidationError

    from kb.accounts import actions
    from kb.accounts.schemas import UserCreate
    from kb.cli.common import KbErrors

    if password is None:
        password = typer.prompt(f"Password for {username}", hide_input=True, confirmation_prompt=True, err=True)
    try:
        data = UserCreate(username=username, display_name=display_name or username, password=password,
                          global_role="admin")
    except ValidationError as exc:
        raise fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
    with database.session() as session, KbErrors():
        actions.create_first_admin(session, data=data)
    typer.echo(f"Created the first admin {username}: sign in, or create a token with `kb token create {username}`")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Apply database migrations (Alembic) up to REVISION."""
    from kb.migrations import current, upgrade

    database = open_database(migrate=False)
    upgrade(database, revision)
    typer.echo(f"Database at revision {current(database)}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on", envvar="KB_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on", envvar="KB_PORT")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes", envvar="KB_WORKERS", min=1)] = 1,
    keep_alive: Annotated[int, typer.Option(
        help="Seconds an idle HTTP keep-alive connection stays open. Keep it above the idle timeout of any load "
        "balancer or client pool in front (60 s is common): a server closing a connection the client is reusing "
        "at that moment fails the request.", envvar="KB_KEEP_ALIVE_SECONDS", min=1)] = 75,
    get: Annotated[Optional[str], typer.Option("--get", help="Do not serve: GET this path in-process, print the response and exit (smoke test)")] = None,
    token: Annotated[Optional[str], typer.Option(help="API token to send with --get", envvar="KB_TOKEN")] = None,
) -> None:
    """Serve the API and the web UI with uvicorn."""
    if get is not None:
        from fastapi.testclient import TestClient

        from kb.app import create_app

        database = open_database()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with TestClient(create_app(database.settings, database=database)) as client:
            response = client.get(get, headers=headers)
        typer.echo(response.text)
        raise typer.Exit(0 if response.status_code < 400 else 1)
    import uvicorn

    open_database()  # migrate once, before workers start
    uvicorn.run("kb.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="info", proxy_headers=False, timeout_keep_alive=keep_alive)


# ------------------------------------------------------------------------------------------ demo

@app.command()
def demo() -> None:
    """Load the sample content and one user per role, printing their credentials.

    Refused on a database with anyone else in it (a user the demo did not create): its admin's
    password is printed, and it acts in its users' names.
    """
    from kb.config import Environment
    from kb.fixtures import load_demo

    from kb import provenance

    database = open_database()
    if database.settings.env is Environment.production:
        raise fail("kb demo creates users with known passwords; it refuses to run with KB_ENV=production", REFUSED)
    from kb.fixtures import DEMO_USERS

    with database.session() as session:
        people = set(provenance.created_by_people(session)) | set(_strangers(session, {u.username: u.password for u in DEMO_USERS}))
    if people:
        # Its admin with a known password would be a second admin at will, and it acts in its users' names.
        raise fail(f"kb demo loads users with known passwords and acts in their names: it refuses a database with "
                   f"other people in it ({', '.join(sorted(people)[:5])}); use a new data directory", REFUSED)
    report = load_demo(database)
    typer.echo(report.render())


def _strangers(session, known: dict[str, str]) -> list[str]:  # noqa: ANN001
    from kb.accounts import actions

    return actions.strangers_for_bootstrap(session, known)
