"""``kb`` commands: finding experts, through the expert actions (``kb.experts.actions``)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from kb.cli.common import REFUSED, AsUser, KbErrors, TokenFile, app, authenticated, cli_token, fail, open_database


@app.command()
def experts(
    query: Annotated[str, typer.Argument(help="The topic you need someone for")],
    as_user: AsUser = None,
    token_file: TokenFile = None,
    space: Annotated[Optional[str], typer.Option(help="Only evidence from this space")] = None,
    exclude_me: Annotated[bool, typer.Option("--exclude-me", help="Leave the asker (--as) out")] = False,
    limit: Annotated[int, typer.Option(help="How many people", min=1, max=50)] = 5,
) -> None:
    """Find the colleagues who know about a topic, with the evidence behind each.

    The person asking authenticates (a token, or --as and a password). Without either, the operator
    asks as kb itself (the system actor; it reads only), which is nobody to leave out: --exclude-me
    needs a person.
    """
    from kb.actors import SYSTEM
    from kb.experts import actions
    from kb.search.indexer import SearchIndexes

    person = bool(as_user) or cli_token(token_file) is not None
    if exclude_me and not person:
        raise fail("--exclude-me leaves out the asker: say who is asking (KB_TOKEN, --token-file or --as USERNAME)", REFUSED)
    database = open_database()
    with database.session() as session, KbErrors():
        indexes = SearchIndexes.for_queries(database.settings, session)
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file) if person else SYSTEM
        hits = actions.find_experts(session, actor, indexes=indexes, settings=database.settings, query=query, space=space,
                                    exclude_me=exclude_me, limit=limit).data
    for hit in hits:
        typer.secho(f"{hit.display_name} ({hit.username})  score {hit.score:.3f}", bold=True)
        for evidence in hit.evidence[:3]:
            typer.echo(f"  {evidence.kind}: {evidence.title} [{evidence.item}]")
    if not hits:
        typer.echo("No one found.")
