"""``kb`` commands: finding experts."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from kb.cli.common import KbErrors, actor_named, app, open_database


@app.command()
def experts(
    query: Annotated[str, typer.Argument(help="The topic you need someone for")],
    as_user: Annotated[str, typer.Option("--as", help="Who is asking (excluded with --exclude-me)", envvar="KB_AS")] = "",
    space: Annotated[Optional[str], typer.Option(help="Only evidence from this space")] = None,
    exclude_me: Annotated[bool, typer.Option("--exclude-me", help="Leave the asker out")] = False,
    limit: Annotated[int, typer.Option(help="How many people", min=1, max=50)] = 5,
) -> None:
    """Find the colleagues who know about a topic, with the evidence behind each."""
    from kb.experts import service
    from kb.search.indexer import SearchIndexes

    database = open_database()
    with database.session() as session, KbErrors():
        indexes = SearchIndexes.for_queries(database.settings, session)
        actor = actor_named(session, as_user) if as_user else None
        hits = service.find_experts(session, indexes, actor=actor, query=query, space=space, exclude_me=exclude_me,
                                    limit=limit, weights=database.settings.expert_weights)
    for hit in hits:
        typer.secho(f"{hit.display_name} ({hit.username})  score {hit.score:.3f}", bold=True)
        for evidence in hit.evidence[:3]:
            typer.echo(f"  {evidence.kind}: {evidence.title} [{evidence.item}]")
    if not hits:
        typer.echo("No one found.")
