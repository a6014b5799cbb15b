"""``kb`` commands: curated documents: import, approve, export their provenance.

Each command calls one action of ``kb.documents.actions``: as the person it authenticates (an API
token, or ``--as`` and a password; ``kb.cli.common.authenticated``), or as ``kb.actors.SYSTEM`` for
the read-only operator command ``kb export-prov``. Never a service, never a transaction.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from kb.actors import SYSTEM
from kb.cli.common import AsUser, KbErrors, TokenFile, app, authenticated, fail, open_database

# ------------------------------------------------------------------------------------- documents

@app.command("import")
def import_files(
    paths: Annotated[list[Path], typer.Argument(help="Files (.docx, .pdf, .html, .md, .txt) or folders to import", exists=True)],
    space: Annotated[str, typer.Option(help="Space to import into")],
    as_user: AsUser = None,
    token_file: TokenFile = None,
    audience: Annotated[Optional[str], typer.Option(help="internal or public")] = None,
    language: Annotated[Optional[str], typer.Option(help="Language code, e.g. en or nl")] = None,
    intended_use: Annotated[Optional[str], typer.Option(help="What the documents may be used for")] = None,
) -> None:
    """Import files as draft documents (same bytes again: unchanged), with a progress bar and a summary.

    The person who imports is the author: a contributor of the space."""
    from collections import Counter

    from pydantic import ValidationError
    from rich.progress import track

    from kb.documents import actions
    from kb.documents.schemas import DraftSave
    from kb.errors import KbError

    files = sorted({f for p in paths for f in ([p] if p.is_file() else p.rglob("*"))
                    if f.is_file() and f.suffix.lower() in (".docx", ".pdf", ".html", ".htm", ".md", ".markdown", ".txt")})
    if not files:
        raise fail("no .docx, .pdf, .html, .md or .txt files found")
    try:
        fields = DraftSave(audience=audience, language=language, intended_use=intended_use)
    except ValidationError as exc:
        raise fail(exc.errors()[0]["msg"]) from None
    database = open_database()
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        for path in track(files, description="Importing", disable=not sys.stderr.isatty()):
            try:
                result = actions.import_document(session, actor, space=space, filename=path.name, data=path.read_bytes(),
                                                 files_dir=database.settings.files_dir, fields=fields)
                outcomes[result.outcome] += 1
            except KbError as exc:
                outcomes["failed"] += 1
                failures.append(f"{path}: {exc.message}")
    for failure in failures:
        typer.secho(failure, err=True, fg=typer.colors.YELLOW)
    typer.echo(", ".join(f"{n} {k}" for k, n in sorted(outcomes.items())) + f" ({len(files)} files)")
    if failures:
        raise typer.Exit(1)


@app.command()
def approve(
    slug: Annotated[str, typer.Argument(help="The document's slug")],
    version: Annotated[int, typer.Argument(help="The version number in review")],
    as_user: AsUser = None,
    token_file: TokenFile = None,
    comment: Annotated[Optional[str], typer.Option(help="Approval comment")] = None,
) -> None:
    """Approve a version in review, as an owner of its space (not its author in a four-eyes space)."""
    from kb.documents import actions

    database = open_database()
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        actions.approve_version(session, actor, slug=slug, number=version, comment=comment)
    typer.echo(f"Approved {slug} v{version} as {actor.username}")


@app.command("export-prov")
def export_prov(
    slug: Annotated[str, typer.Argument(help="The document's slug")],
    fmt: Annotated[str, typer.Option("--format", help="json, provn, xml or ttl")] = "json",
) -> None:
    """Print the W3C PROV export of a document (checked before it is printed)."""
    from kb import provenance
    from kb.documents import actions
    from kb.errors import ErrorCode, KbError

    if fmt not in provenance.PROV_FORMATS:
        raise fail(f"unknown format {fmt!r}; use json, provn, xml or ttl")
    database = open_database(migrate=False)
    with database.session() as session, KbErrors():
        try:
            text, _media_type = actions.export_provenance(session, SYSTEM, slug=slug, format=fmt)  # type: ignore[arg-type]
        except KbError as error:
            if error.code is ErrorCode.INTERNAL_ERROR and isinstance(error.details, dict) and "problems" in error.details:
                raise fail("; ".join(error.details["problems"]), 3) from None
            raise
    typer.echo(text)
