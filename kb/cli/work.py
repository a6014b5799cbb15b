"""``kb me work``: what waits for me (issue 17), the same read as ``GET /api/v1/me/work``."""

from __future__ import annotations

from typing import Annotated

import typer

from kb.cli.common import AsUser, KbErrors, TokenFile, app, authenticated, open_database, shown

me_app = typer.Typer(help="Yourself: what waits for you.", no_args_is_help=True)
app.add_typer(me_app, name="me")


@me_app.command("work")
def work(
    as_user: AsUser = None, token_file: TokenFile = None,
    as_json: Annotated[bool, typer.Option("--json", help="The same JSON as GET /api/v1/me/work")] = False,
) -> None:
    """Your drafts, versions in review, rejected ones with the reason, promoted answers waiting, your
    questions and answers, and what you watch (authenticated: a token, or --as and a password)."""
    from kb.work import actions

    database = open_database()
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        result = actions.my_work(session, actor)
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    documents = result.documents
    for heading, items in (("rejected", documents.rejected), ("drafts", documents.drafts),
                           ("in review", documents.in_review), ("promoted answers waiting", documents.promoted)):
        typer.echo(f"{heading}: {len(items)}")
        for item in items:
            edit = f"\t(edit v{item.edit_version} at /write?slug={item.document})" if item.edit_version else ""
            typer.echo(f"  {item.document} v{item.version}\t{item.state.value}\t{shown(item.title)}{edit}"[:300])
            if item.rejection_reason:
                typer.echo(f"    rejected v{item.rejected_version} by {item.rejected_by} on {item.rejected_at:%Y-%m-%d}: "
                           f"{shown(item.rejection_reason)}")
    for heading, questions in (("questions asked", result.questions.asked), ("questions answered", result.questions.answered)):
        typer.echo(f"{heading}: {len(questions)}")
        for question in questions:
            typer.echo(f"  #{question.id}\t{question.answers} answers{' (accepted)' if question.accepted else ''}\t{shown(question.title)}")
    typer.echo(f"watching: {result.watching.count}")
    for watch in result.watching.data:
        typer.echo(f"  {watch.kind.value}\t{watch.target}")
