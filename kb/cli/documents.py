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
from kb.cli.common import MAX_ID, AsUser, KbErrors, TokenFile, app, authenticated, fail, open_database, shown

# ------------------------------------------------------------------------------------- documents

@app.command("import")
def import_files(
    paths: Annotated[list[Path], typer.Argument(
        help="Files (.docx, .pdf, .html, .md, .txt), folders (every file under them) or .zip files to import", exists=True)],
    space: Annotated[str, typer.Option(help="Space to import into")],
    as_user: AsUser = None,
    token_file: TokenFile = None,
    audience: Annotated[Optional[str], typer.Option(help="internal or public")] = None,
    language: Annotated[Optional[str], typer.Option(help="Language code, e.g. en or nl")] = None,
    intended_use: Annotated[Optional[str], typer.Option(help="What the documents may be used for")] = None,
    applies_to: Annotated[Optional[str], typer.Option(
        help="Whom they concern: comma-separated concepts, e.g. situation:student,situation:tenant (kb taxonomy list)")] = None,
    topic: Annotated[Optional[str], typer.Option(help="What they are about: comma-separated topic concepts")] = None,
    region: Annotated[Optional[str], typer.Option(help="Where they hold: comma-separated region concepts")] = None,
    submit: Annotated[bool, typer.Option("--submit", help="Send each imported version for review (needs an intended use)")] = False,
    workers: Annotated[Optional[int], typer.Option(
        min=1, help="Processes that parse in parallel (default: KB_IMPORT_WORKERS; 0 there: one per core)")] = None,
    report: Annotated[Optional[Path], typer.Option(
        dir_okay=False, help="Also write the report of every file to this file: .json, or .csv")] = None,
) -> None:
    """Import files, folders or zips as draft documents, each file in its own transaction, with progress and a report.

    The slug of each document comes from the file's path inside the folder or zip (hr/leave.md: hr-leave).
    Running it again skips what is already imported with the same bytes (unchanged); a changed file makes a
    new version. Refused files are listed with their reasons, and the command then exits 1. The person who
    imports is the author: a contributor of the space."""
    from kb import forkserver

    if forkserver.may_need_pool(paths):
        forkserver.start()  # its imports of the parsers go on while this process imports its own (kb.forkserver)
    from functools import partial

    from pydantic import ValidationError

    from kb.documents import actions, bulk
    from kb.documents.schemas import DraftSave
    from kb.encoding_first import EncodingFirst

    if report is not None and report.suffix.lower() not in (".json", ".csv"):
        raise fail(f"--report names a .json or .csv file, not {report.name!r}")
    try:
        fields = DraftSave(audience=audience, language=language, intended_use=intended_use,
                           applies_to=_refs(applies_to), topic=_refs(topic), region=_refs(region))
    except ValidationError as exc:
        raise fail(exc.errors()[0]["msg"]) from None
    database = open_database()
    settings = database.settings
    with database.session() as session, KbErrors(), _Progress() as (_bar, on_progress):
        actor = authenticated(session, settings, as_user=as_user, token_file=token_file)
        result = actions.bulk_import(session, actor, space=space, open_batch=partial(bulk.open_paths, paths),
                                     files_dir=settings.files_dir, fields=fields, submit=submit,
                                     workers=workers or settings.import_workers or None, progress=on_progress,
                                     encoding_first=EncodingFirst.of(settings))
    for refused in result.refused:
        typer.secho(f"{refused.path}: {refused.reason}", err=True, fg=typer.colors.YELLOW)
    if result.files == 0:
        raise fail("no files found to import")
    if report is not None:
        _write_report(report, result)
    rate = result.files / result.seconds if result.seconds else 0.0
    counts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(result.counts.items()) if n or k == "refused")
    typer.echo(f"{counts} ({result.files} files in {result.seconds:.1f} s, {rate:.1f} files/s)")
    if result.refused:
        raise typer.Exit(1)


def _refs(text: str | None) -> list[str] | None:
    return [ref.strip() for ref in text.split(",") if ref.strip()] if text is not None else None


class _Progress:
    """A rich progress bar on stderr with the rate and the time left (none when stderr is not a terminal)."""

    def __enter__(self):  # noqa: ANN204
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
        from rich.text import Text

        class Rate(ProgressColumn):
            def render(self, task) -> Text:  # noqa: ANN001
                return Text(f"{task.speed:.1f} files/s" if task.speed else "- files/s")

        self.bar = Progress(TextColumn("Importing"), BarColumn(), MofNCompleteColumn(), Rate(), TextColumn("ETA"),
                            TimeRemainingColumn(), console=Console(stderr=True), disable=not sys.stderr.isatty())
        self.bar.__enter__()
        self.task = self.bar.add_task("import", total=None)
        return self.bar, self.update

    def update(self, done: int, total: int) -> None:
        self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)  # type: ignore[arg-type]


def _write_report(path: Path, result) -> None:  # noqa: ANN001 - a BulkImportReport
    import csv

    if path.suffix.lower() == ".json":
        path.write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
        return
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "outcome", "slug", "version", "submitted", "code", "reason"])
        for item in result.imported:
            writer.writerow([item.path, item.outcome, item.slug, item.version, item.submitted, "", ""])
        for refused in result.refused:
            writer.writerow([refused.path, "refused", "", "", "", refused.code, refused.reason])


@app.command()
def approve(
    slug: Annotated[str, typer.Argument(help="The document's slug")],
    version: Annotated[int, typer.Argument(help="The version number in review", min=1, max=1_000_000)],
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


@app.command("review-queue")
def review_queue(
    as_user: AsUser = None,
    token_file: TokenFile = None,
    as_json: Annotated[bool, typer.Option("--json", help="The same JSON as GET /api/v1/review-queue")] = False,
) -> None:
    """What waits for you as an owner: versions in review, readers' reports (with their ids), overdue and expiring content."""
    from kb.documents import actions

    database = open_database()
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        queue = actions.review_queue(session, actor)
    if as_json:
        typer.echo(queue.model_dump_json(indent=2))
        return
    for item in queue.data:
        who = f"reported by {item.author}" if item.report else f"by {item.author}"
        report = f"\treport {item.report}" if item.report else ""
        served = f" (v{item.served_version} served now)" if item.served_version else ""
        typer.echo(f"{item.reason}\t{item.document} v{item.version}{served}\t{shown(item.title)}\t{who}{report}"[:300])
        if item.note:
            typer.echo(f"    {shown(item.note)}"[:300])
    typer.echo(f"{queue.count} waiting")


@app.command("dismiss-report")
def dismiss_report(
    report: Annotated[int, typer.Argument(help="The report's id (kb review-queue shows it)", min=1, max=MAX_ID)],
    reason: Annotated[str, typer.Option(help="Why the report is unfounded (the reader is told)")],
    as_user: AsUser = None,
    token_file: TokenFile = None,
) -> None:
    """Dismiss a reader's report (wrong, outdated) as unfounded, as an owner of the document's space
    (not the writer of the version it is about, in a four-eyes space)."""
    from pydantic import ValidationError

    from kb.documents import actions
    from kb.documents.schemas import ReasonRequest

    try:
        why = ReasonRequest(reason=reason).reason
    except ValidationError:
        raise fail("--reason: say why the report is unfounded (1 to 2,000 characters)") from None
    database = open_database()
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        done = actions.dismiss_report(session, actor, report_id=report, reason=why)
    typer.echo(f"Dismissed report {done.report} on {done.document} as {actor.username}")


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
