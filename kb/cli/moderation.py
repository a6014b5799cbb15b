"""``kb moderation`` commands: the moderation queue and one decision per flagged post (docs/moderation.md).

Each command authenticates the moderator (an API token, or ``--as`` and a password;
``kb.cli.common.authenticated``) and calls one action of ``kb.social.actions``. Never a service,
never a transaction.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from kb.cli.common import AsUser, KbErrors, TokenFile, app, authenticated, fail, open_database, shown

moderation_app = typer.Typer(help="The moderation queue: one entry per flagged post, one decision for all its flags "
                                  "(docs/moderation.md).", no_args_is_help=True)
app.add_typer(moderation_app, name="moderation")

KINDS = ("comment", "question", "answer", "document")
STATES = {"visible": "visible", "hidden_by_flags": "hidden automatically, awaiting a moderator",
          "hidden_by_moderator": "hidden by a moderator"}


@moderation_app.command("list")
def list_queue(as_user: AsUser = None, token_file: TokenFile = None) -> None:
    """List the flagged posts, the one reported first on top: each with its state, its flags and who raised them."""
    from kb.social import actions

    database = open_database()
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        items = actions.moderation_queue(session, actor).data
    for item in items:
        where = f" in {item.context.kind} {item.context.key} ({shown(item.context.title)})" if item.context else ""
        state = STATES[item.state] + (f": {shown(item.hidden_reason)}" if item.hidden_reason else "")
        typer.secho(f"{item.target} {item.target_id}{where}  [{state}]", bold=True)
        if item.excerpt:
            typer.echo(f"  {shown(item.excerpt)}")
        for flag in item.flags:
            who = flag.flagged_by.username if flag.flagged_by else "?"
            typer.echo(f"  flag {flag.id}: {flag.reason} by {who} on {flag.created_at:%Y-%m-%d %H:%M}"
                       + (f": {shown(flag.note)}" if flag.note else ""))
        typer.echo(f"  decide: kb moderation decide {item.target} {item.target_id} {'|'.join(item.actions)} --reason …")
    if not items:
        typer.echo("Nothing is flagged.")


@moderation_app.command("decide")
def decide(
    kind: Annotated[str, typer.Argument(help="comment, question, answer or document")],
    target_id: Annotated[str, typer.Argument(help="The post's id (a document's slug)")],
    action: Annotated[str, typer.Argument(help="hide, dismiss or restore")],
    reason: Annotated[str, typer.Option(help="Why: kept on record, and shown to the author when you hide the post")],
    as_user: AsUser = None,
    token_file: TokenFile = None,
    flags: Annotated[Optional[list[int]], typer.Option(
        "--flag", help="A flag you saw (repeat it): refused if other flags are open now")] = None,
) -> None:
    """Decide on one flagged post: one decision, with a reason, resolves all its open flags."""
    from pydantic import ValidationError

    from kb.social import actions
    from kb.social.schemas import ModerationDecision

    if kind not in KINDS:
        raise fail(f"unknown kind {kind!r}; use {', '.join(KINDS)}")
    try:
        decision = ModerationDecision(action=action, reason=reason, flag_ids=flags or None)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        raise fail(f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}") from None
    database = open_database()
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        result = actions.moderate(session, actor, kind=kind, target_id=target_id, decision=decision)  # type: ignore[arg-type]
    resolved = ", ".join(str(i) for i in result.flags_resolved) or "none"
    typer.echo(f"{result.action}: {kind} {target_id} {STATES[result.state_before]} -> {STATES[result.state]}; "
               f"flags resolved ({result.flag_status or '-'}): {resolved}")
