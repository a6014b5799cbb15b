"""``kb notify`` commands: deliver notifications (for cron), read one's inbox, watch, choose how to be told."""

from __future__ import annotations

from typing import Annotated

import typer

from kb.cli.common import MAX_ID, AsUser, KbErrors, TokenFile, app, authenticated, choice, open_database, shown

notify_app = typer.Typer(help="Notifications: deliver them (cron), read yours, watch things, choose how you are told.",
                         no_args_is_help=True)
app.add_typer(notify_app, name="notify")


@notify_app.command("run")
def run(
    daily_now: Annotated[bool, typer.Option("--daily-now", help="Run the daily reminders and digests now, even before "
                                            "KB_NOTIFY_DIGEST_HOUR (still at most once a day)")] = False,
) -> None:
    """Deliver every due e-mail and webhook once, and run the daily digests and reminders if due.

    For cron, when KB_NOTIFY_POLL_SECONDS=0 keeps the server from doing it; safe alongside running
    servers (claims and the daily lease are in the database). Acts for nobody: it records no event.
    """
    from kb.notifications.worker import run_once

    database = open_database()
    delivered, daily = run_once(database, database.settings, force_daily=daily_now)
    typer.echo(f"sent {delivered.sent}, retrying {delivered.retrying}, failed {delivered.failed}; daily job: {daily}")


@notify_app.command("list")
def list_notifications(
    as_user: AsUser = None, token_file: TokenFile = None,
    unread: Annotated[bool, typer.Option("--unread", help="Only the unread ones")] = False,
) -> None:
    """Your notifications, newest first (authenticated: a token, or --as and a password)."""
    from kb.notifications import actions

    database = open_database()
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        result = actions.notifications(session, actor, unread_only=unread)
    for item in result.data:
        typer.echo(f"{item.id}\t{'  ' if item.read else '* '}{item.created_at:%Y-%m-%d %H:%M}\t{shown(item.title)}\t{item.link}")
    typer.echo(f"{result.unread} unread")


@notify_app.command("read")
def mark_read(
    ids: Annotated[list[int] | None, typer.Argument(help="Notification ids (none: all)", min=1, max=MAX_ID)] = None,
    as_user: AsUser = None, token_file: TokenFile = None,
) -> None:
    """Mark your notifications read."""
    from kb.notifications import actions

    database = open_database()
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        result = actions.mark_read(session, actor, ids=ids or None)
    typer.echo(f"marked {result.marked} read; {result.unread} unread")


@notify_app.command("watch")
def watch(
    kind: Annotated[str, typer.Argument(help="document, space, question or tag")],
    target: Annotated[str, typer.Argument(help="The document's or space's slug, the question's id, or the tag")],
    as_user: AsUser = None, token_file: TokenFile = None,
    stop: Annotated[bool, typer.Option("--stop", help="Stop watching it")] = False,
) -> None:
    """Watch (or with --stop, unwatch) a document, space, question or tag."""
    from kb.notifications import actions
    from kb.notifications.models import WatchKind

    what = choice(WatchKind, kind, "kind")
    database = open_database()
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        if stop:
            done = actions.unwatch(session, actor, kind=what, target=target)
            typer.echo(f"no longer watching {what.value} {target}" if done else f"you did not watch {what.value} {target}")
        else:
            row = actions.watch(session, actor, kind=what, target=target)
            typer.echo(f"watching {row.kind.value} {row.target}")


@notify_app.command("prefer")
def prefer(
    mode: Annotated[str, typer.Argument(help="in_app, email (at once) or digest (daily)")],
    as_user: AsUser = None, token_file: TokenFile = None,
) -> None:
    """Choose how you are told: in the inbox only, an e-mail at once, or a daily digest e-mail."""
    from kb.notifications import actions
    from kb.notifications.models import DeliveryMode

    wanted = choice(DeliveryMode, mode, "mode")
    database = open_database()
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        result = actions.set_preference(session, actor, mode=wanted)
    typer.echo(f"notifications: {result.mode.value}" + (f" to {result.email}" if result.email else ""))
