"""The ``kb`` command line: one command per user action, calling services in-process.

Module-level imports are limited to Typer so that ``kb --help`` stays fast; each command imports
what it needs. User errors exit non-zero with one clear line.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from kb.actors import SYSTEM

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


def _fail(message: str, code: int = 1) -> "typer.Exit":
    typer.secho(f"Error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def _settings() -> "Settings":
    from pydantic import ValidationError

    from kb.config import load_settings

    try:
        return load_settings()
    except ValidationError as exc:
        raise _fail(f"invalid configuration: {exc.errors()[0]['msg']}") from None


def _database(migrate: bool = True) -> "Database":
    from kb.db import Database
    from kb.migrations import upgrade

    database = Database(_settings())
    if migrate:
        upgrade(database)
    return database


class _KbErrors:
    """Turn a service's KbError into one red line and a non-zero exit."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:  # noqa: ANN001
        from kb.errors import KbError

        if isinstance(exc, KbError):
            raise _fail(exc.message, 2)
        return False


# ----------------------------------------------------------------------------------------- setup

@app.command()
def init() -> None:
    """Create the data directory and bring the database schema up to date."""
    database = _database(migrate=True)
    typer.echo(f"Database ready: {database.engine.url.render_as_string(hide_password=True)}")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Apply database migrations (Alembic) up to REVISION."""
    from kb.migrations import current, upgrade

    database = _database(migrate=False)
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
    """Serve the API (and, later, the web UI) with uvicorn."""
    if get is not None:
        from fastapi.testclient import TestClient

        from kb.app import create_app

        database = _database()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with TestClient(create_app(database.settings, database=database)) as client:
            response = client.get(get, headers=headers)
        typer.echo(response.text)
        raise typer.Exit(0 if response.status_code < 400 else 1)
    import uvicorn

    _database()  # migrate once, before workers start
    uvicorn.run("kb.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="info", proxy_headers=False, timeout_keep_alive=keep_alive)


# ----------------------------------------------------------------------------------------- users

@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Login name: lowercase letters, digits, . _ -")],
    display_name: Annotated[Optional[str], typer.Option("--name", help="Display name")] = None,
    email: Annotated[Optional[str], typer.Option(help="E-mail address")] = None,
    role: Annotated[str, typer.Option(help="Global role: reader, moderator or admin")] = "reader",
    password: Annotated[Optional[str], typer.Option(help="Password (min. 10 characters); read from KB_NEW_PASSWORD if set", envvar="KB_NEW_PASSWORD")] = None,
) -> None:
    """Create a user."""
    from pydantic import ValidationError

    from kb.accounts import service
    from kb.accounts.schemas import UserCreate
    from kb.db import transaction

    try:
        data = UserCreate(username=username, display_name=display_name or username, email=email,
                          password=password, global_role=role)
    except ValidationError as exc:
        raise _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
    database = _database()
    with database.session() as session, _KbErrors(), transaction(session):
        user = service.create_user(session, actor=SYSTEM, data=data)
    typer.echo(f"Created user {user.username} ({data.global_role.value})")


# ---------------------------------------------------------------------------------------- spaces

@space_app.command("add")
def space_add(
    slug: Annotated[str, typer.Argument(help="Short name used in URLs")],
    name: Annotated[Optional[str], typer.Option(help="Display name")] = None,
    description: Annotated[str, typer.Option(help="What the space is about")] = "",
    owner: Annotated[Optional[list[str]], typer.Option(help="Username to make an owner (repeatable)")] = None,
    four_eyes: Annotated[Optional[bool], typer.Option("--four-eyes/--no-four-eyes", help="Require approval by someone other than the author (default: KB_FOUR_EYES_DEFAULT)")] = None,
) -> None:
    """Create a space, optionally with its owners."""
    from pydantic import ValidationError

    from kb.accounts import service
    from kb.accounts.schemas import SpaceCreate
    from kb.actors import SpaceRole
    from kb.db import transaction

    try:
        data = SpaceCreate(slug=slug, name=name or slug, description=description, four_eyes=four_eyes)
    except ValidationError as exc:
        raise _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
    database = _database()
    with database.session() as session, _KbErrors(), transaction(session):
        space = service.create_space(session, actor=SYSTEM, data=data, four_eyes_default=database.settings.four_eyes_default)
        for username in owner or []:
            service.set_membership(session, actor=SYSTEM, slug=space.slug, username=username, role=SpaceRole.owner)
    typer.echo(f"Created space {slug}" + (f" owned by {', '.join(owner)}" if owner else ""))


@space_app.command("member")
def space_member(
    slug: Annotated[str, typer.Argument(help="The space")],
    username: Annotated[str, typer.Argument(help="The user")],
    role: Annotated[str, typer.Argument(help="reader, contributor or owner")],
) -> None:
    """Grant a user a role in a space."""
    from kb.accounts import service
    from kb.actors import SpaceRole
    from kb.db import transaction

    try:
        space_role = SpaceRole(role)
    except ValueError:
        raise _fail(f"unknown role {role!r}; use reader, contributor or owner") from None
    database = _database()
    with database.session() as session, _KbErrors(), transaction(session):
        service.set_membership(session, actor=SYSTEM, slug=slug, username=username, role=space_role)
    typer.echo(f"{username} is now {role} of {slug}")


# ---------------------------------------------------------------------------------------- tokens

@token_app.command("create")
def token_create(
    username: Annotated[str, typer.Argument(help="Whose token")],
    name: Annotated[str, typer.Option(help="What the token is for")] = "cli",
    days: Annotated[Optional[int], typer.Option(help="Expire after this many days", min=1)] = None,
) -> None:
    """Create an API token for a user and print it (it is shown only once)."""
    from kb.accounts import service
    from kb.db import transaction

    database = _database()
    with database.session() as session, _KbErrors(), transaction(session):
        user = service.get_user(session, username)
        _token, raw = service.create_token(session, actor=SYSTEM, user=user, name=name, expires_in_days=days)
    typer.echo(raw)


# ------------------------------------------------------------------------------------- documents

def _actor(session, username: str):  # noqa: ANN001, ANN202
    from kb.accounts import service

    return service.actor_for(session, service.get_user(session, username))


@app.command("import")
def import_files(
    paths: Annotated[list[Path], typer.Argument(help="Files (.docx, .md, .txt) or folders to import", exists=True)],
    space: Annotated[str, typer.Option(help="Space to import into")],
    as_user: Annotated[str, typer.Option("--as", help="Username of the contributor who imports (the author)", envvar="KB_AS")],
    audience: Annotated[Optional[str], typer.Option(help="internal or public")] = None,
    language: Annotated[Optional[str], typer.Option(help="Language code, e.g. en or nl")] = None,
    intended_use: Annotated[Optional[str], typer.Option(help="What the documents may be used for")] = None,
) -> None:
    """Import files as draft documents (same bytes again: unchanged), with a progress bar and a summary."""
    from collections import Counter

    from pydantic import ValidationError
    from rich.progress import track

    from kb.db import transaction
    from kb.documents import service
    from kb.documents.schemas import DraftSave
    from kb.errors import KbError

    files = sorted({f for p in paths for f in ([p] if p.is_file() else p.rglob("*"))
                    if f.is_file() and f.suffix.lower() in (".docx", ".md", ".markdown", ".txt")})
    if not files:
        raise _fail("no .docx, .md or .txt files found")
    try:
        fields = DraftSave(audience=audience, language=language, intended_use=intended_use)
    except ValidationError as exc:
        raise _fail(exc.errors()[0]["msg"]) from None
    database = _database()
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    with database.session() as session, _KbErrors():
        actor = _actor(session, as_user)
        for path in track(files, description="Importing", disable=not sys.stderr.isatty()):
            try:
                with transaction(session):
                    outcome = service.import_file(session, actor=actor, space_slug=space, filename=path.name,
                                                  data=path.read_bytes(), files_dir=database.settings.files_dir, fields=fields)
                outcomes[outcome.outcome] += 1
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
    as_user: Annotated[str, typer.Option("--as", help="Username of the approving owner (not the author)", envvar="KB_AS")],
    comment: Annotated[Optional[str], typer.Option(help="Approval comment")] = None,
) -> None:
    """Approve a version in review, as a named owner of its space."""
    from kb.db import transaction
    from kb.documents import service

    database = _database()
    with database.session() as session, _KbErrors(), transaction(session):
        service.approve(session, actor=_actor(session, as_user), slug=slug, number=version, comment=comment)
    typer.echo(f"Approved {slug} v{version} as {as_user}")


@app.command("export-prov")
def export_prov(
    slug: Annotated[str, typer.Argument(help="The document's slug")],
    fmt: Annotated[str, typer.Option("--format", help="json, provn, xml or ttl")] = "json",
) -> None:
    """Print the W3C PROV export of a document (checked before it is printed)."""
    from kb import provenance
    from kb.documents import service

    if fmt not in provenance.PROV_FORMATS:
        raise _fail(f"unknown format {fmt!r}; use json, provn, xml or ttl")
    database = _database(migrate=False)
    with database.session() as session, _KbErrors():
        document = provenance.build_prov(service.prov_record(session, actor=SYSTEM, slug=slug))
    problems = provenance.check_prov(document)
    if problems:
        raise _fail("; ".join(problems), 3)
    typer.echo(provenance.serialize_prov(document, fmt))


# ---------------------------------------------------------------------------------------- search

@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What you are looking for, in your own words")],
    mode: Annotated[str, typer.Option(help="hybrid, keyword or semantic")] = "hybrid",
    as_user: Annotated[str, typer.Option("--as", help="Search as this user (sees internal content)", envvar="KB_AS")] = "",
    public: Annotated[bool, typer.Option("--public", help="Search as a citizen: approved public content only")] = False,
    lang: Annotated[Optional[str], typer.Option(help="Language filter (employees) or preference (--public)")] = None,
    limit: Annotated[int, typer.Option(help="How many documents", min=1, max=50)] = 5,
) -> None:
    """Search curated knowledge in the terminal, with each hit's provenance."""
    from kb.search import service
    from kb.search.indexer import SearchIndexes
    from kb.search.schemas import Mode

    if not public and not as_user:
        raise _fail("say who is searching (--as USERNAME) or search as a citizen (--public)")
    try:
        search_mode = Mode(mode)
    except ValueError:
        raise _fail(f"unknown mode {mode!r}; use hybrid, keyword or semantic") from None
    database = _database()
    with database.session() as session, _KbErrors():
        indexes = SearchIndexes.for_queries(database.settings, session)
        if public:
            results = service.public_search(session, indexes, query=query, language=lang, page_size=limit)
            labels = results.labels
            for hit in results.data:
                card = hit.provenance
                typer.secho(f"{hit.title}  [{hit.language_label}]  /public/v1/documents/{hit.document}", bold=True)
                typer.echo(f"  {labels['card.organisation']}: {card.organisation}; {labels['card.approved_on']}: "
                           f"{card.approved_on}; {labels['card.intended_use']}: {card.intended_use}")
                if hit.translation_links:
                    others = ", ".join(f"{link.language_label} /public/v1/documents/{link.document}" for link in hit.translation_links)
                    typer.echo(f"  {labels['hit.translations']}: {others}")
                typer.echo(f"  {hit.passage.text[:200]}")
            if not results.data:
                typer.echo("No results.")
            return
        results = service.search(session, indexes, actor=_actor(session, as_user), query=query, mode=search_mode,
                                 language=lang, page_size=limit)
    for hit in results.data:
        card = hit.provenance
        flags = " REVIEW OVERDUE" if card.review_overdue else ""
        typer.secho(f"{hit.title}  [{hit.space}/{hit.document} v{card.version}, {card.audience}]{flags}", bold=True)
        approved = f"approved by {card.approved_by.display_name} on {card.approved_at:%Y-%m-%d}" if card.approved_by and card.approved_at else "not approved"
        typer.echo(f"  {approved}; intended use: {card.intended_use}")
        typer.echo(f"  {' > '.join(hit.passage.heading_path)}: {hit.passage.text[:200]}")
    if not results.data:
        typer.echo("No results.")


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

    database = _database()
    with database.session() as session, _KbErrors():
        indexes = SearchIndexes.for_queries(database.settings, session)
        actor = _actor(session, as_user) if as_user else None
        hits = service.find_experts(session, indexes, actor=actor, query=query, space=space, exclude_me=exclude_me,
                                    limit=limit, weights=database.settings.expert_weights)
    for hit in hits:
        typer.secho(f"{hit.display_name} ({hit.username})  score {hit.score:.3f}", bold=True)
        for evidence in hit.evidence[:3]:
            typer.echo(f"  {evidence.kind}: {evidence.title} [{evidence.item}]")
    if not hits:
        typer.echo("No one found.")


@app.command()
def reindex(
    full: Annotated[bool, typer.Option("--full", help="Encode every passage again instead of re-using the vectors already held")] = False,
    wait: Annotated[float, typer.Option(help="Seconds to wait for running processes to rebuild their slots (0: do not wait)", min=0)] = 120,
) -> None:
    """Rebuild the search indexes from the database: every index slot, with a progress bar.

    A slot that a running process holds is rebuilt by that process (within KB_INDEX_CATCH_UP_SECONDS).
    """
    import time

    from rich.progress import Progress

    from kb.search.indexer import SearchIndexes, SlotInUse, rebuild_pending, request_rebuild, slot_dirs

    database = _database()
    settings = database.settings
    slots = slot_dirs(settings.index_root) or [settings.index_root / "slot-0"]
    asked = []
    for slot in slots:
        try:
            indexes = SearchIndexes(settings, slot=slot)
        except SlotInUse:
            request_rebuild(slot)
            asked.append(slot)
            continue
        try:
            with database.session() as session, Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
                task = progress.add_task(f"Indexing chunks ({slot.name})", total=None)
                count = indexes.rebuild(session, lambda done, total: progress.update(task, completed=done, total=total),
                                        reuse_vectors=not full)
        finally:
            indexes.close()
        multilingual = (f"; {len(indexes.multilingual.chunk_ids())} public chunks in the multilingual index"
                        if indexes.multilingual is not None else "")
        typer.echo(f"{slot.name}: indexed {count} chunks ({indexes.keyword.name} + faiss){multilingual}; "
                   f"watermark at audit seq {indexes.last_seq}")
    deadline = time.monotonic() + wait
    while asked and time.monotonic() < deadline and any(rebuild_pending(s) for s in asked):
        time.sleep(0.2)
    for slot in asked:
        done = not rebuild_pending(slot)
        typer.echo(f"{slot.name}: in use by a running process, " + ("which rebuilt it" if done else
                   "asked to rebuild (it does so within KB_INDEX_CATCH_UP_SECONDS)"))


@index_app.command("check")
def index_check() -> None:
    """Compare every index slot with the database: missing, extra and stale passages (repair: kb reindex)."""
    from kb.search.indexer import SearchIndexes, slot_dirs, slot_in_use

    database = _database()
    settings = database.settings
    slots = slot_dirs(settings.index_root)
    if not slots:
        raise _fail(f"no search indexes under {settings.index_root}: `kb serve` builds them on start, or run `kb reindex`", 3)
    drifted = 0
    for slot in slots:
        state = "in use" if slot_in_use(slot) else "idle"
        indexes = SearchIndexes(settings, slot=slot, claim=False)
        with database.session() as session:
            drift = indexes.check(session)
        behind = f"; {drift.head_seq - drift.last_seq} audit events not applied yet" if drift.last_seq < drift.head_seq else ""
        if drift.clean:
            public = f", {drift.expected_public} public in the multilingual index" if drift.multilingual else ""
            typer.echo(f"{slot.name} ({state}): OK, {drift.expected} chunks{public}, watermark {drift.last_seq}{behind}")
        else:
            drifted += 1
            typer.echo(f"{slot.name} ({state}): DRIFT: {drift.summary()}{behind}")
    if drifted:
        raise _fail(f"{drifted} of {len(slots)} index slots differ from the database. Run `kb reindex`.", 3)


# ------------------------------------------------------------------------------------------ demo

@app.command()
def demo() -> None:
    """Load the sample content and one user per role, printing their credentials."""
    from kb.config import Environment
    from kb.fixtures import load_demo

    database = _database()
    if database.settings.env is Environment.production:
        raise _fail("kb demo creates users with known passwords; it refuses to run with KB_ENV=production")
    report = load_demo(database)
    typer.echo(report.render())


# ----------------------------------------------------------------------------------------- audit

@audit_app.command("verify")
def audit_verify(
    checkpoint: Annotated[Optional[Path], typer.Option(help="Checkpoint file from `kb audit checkpoint`; also detects truncation and recomputation")] = None,
) -> None:
    """Verify the audit hash chain; print the count and head, or the first broken sequence number."""
    from kb import provenance

    database = _database(migrate=False)
    try:
        point = provenance.read_checkpoint(checkpoint) if checkpoint else None
    except (OSError, ValueError) as exc:
        raise _fail(str(exc)) from None
    with database.session() as session:
        result = provenance.verify_chain(session, point)
    if result.ok:
        typer.echo(f"OK: {result.count} events, head seq {result.head_seq}, head hash {result.head_hash}")
        return
    raise _fail(f"chain broken at seq {result.first_bad_seq}: {result.reason}", 3)


@audit_app.command("checkpoint")
def audit_checkpoint(
    out: Annotated[Path, typer.Argument(help="File to write (keep it outside the database, e.g. on another machine)")],
) -> None:
    """Write the current (sequence, head hash) to a file outside the database."""
    from kb import provenance

    database = _database(migrate=False)
    with database.session() as session:
        data = provenance.write_checkpoint(session, out)
    typer.echo(f"Checkpoint seq {data['seq']} hash {data['hash']} written to {out}")


@audit_app.command("export")
def audit_export(
    out: Annotated[Path, typer.Argument(help="JSON Lines file to write ('-' for standard output)")],
) -> None:
    """Export every audit event as JSON Lines."""
    from kb import provenance

    database = _database(migrate=False)
    with database.session() as session:
        if str(out) == "-":
            count = provenance.export_jsonl(session, sys.stdout)
        else:
            with out.open("w", encoding="utf-8") as handle:
                count = provenance.export_jsonl(session, handle)
    typer.echo(f"Exported {count} events", err=True)


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    app()
