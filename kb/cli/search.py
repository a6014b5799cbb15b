"""``kb`` commands: searching, "what applies to me", and keeping the search indexes current: search, explore, reindex, index check,
index vectors, index encode and index forget (the vectors stored with each passage, issue 19).

``kb search`` goes through the search actions (``kb.search.actions``: the permission row, the query log).
Heavy modules are imported inside the commands, so ``kb --help`` stays fast.
"""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from kb.cli.common import REFUSED, AsUser, KbErrors, TokenFile, app, authenticated, choice, cli_token, fail, index_app, open_database

# ---------------------------------------------------------------------------------------- search

@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What you are looking for, in your own words")],
    mode: Annotated[str, typer.Option(help="hybrid, keyword or semantic")] = "hybrid",
    as_user: AsUser = None,
    token_file: TokenFile = None,
    public: Annotated[bool, typer.Option("--public", help="Search as a citizen: approved public content only")] = False,
    lang: Annotated[Optional[str], typer.Option(help="Language filter (employees) or preference (--public)")] = None,
    limit: Annotated[int, typer.Option(help="How many documents", min=1, max=50)] = 5,
    concept: Annotated[Optional[list[str]], typer.Option(
        "--concept", help="Only documents carrying this concept (scheme:key; repeat it: one scheme widens, "
                          "two schemes narrow); the facets are printed after the hits")] = None,
) -> None:
    """Search curated knowledge in the terminal, with each hit's provenance. Logged like every search
    (the query log: public or employee, result count, mode, latency; never who asked).

    An employee's search (internal content) authenticates them; --public needs no one."""
    from kb.search import actions
    from kb.search.indexer import SearchIndexes
    from kb.search.schemas import Mode

    if not public and not as_user and cli_token(token_file) is None:
        raise fail("say who is searching (KB_TOKEN, --token-file or --as USERNAME) or search as a citizen (--public)", REFUSED)
    search_mode = choice(Mode, mode, "mode")
    database = open_database()
    with database.session() as session, KbErrors():
        indexes = SearchIndexes.for_queries(database.settings, session)
        if public:
            found = actions.public_search(session, None, indexes=indexes, settings=database.settings, query=query,
                                          language=lang, page_size=limit, concepts=concept or ())
            _print_public(found.results)
            _print_facets(found.results.facets)
            return
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        results = actions.search(session, actor, indexes=indexes, query=query, mode=search_mode,
                                 language=lang, page_size=limit, concepts=concept or ())
    for hit in results.data:
        card = hit.provenance
        flags = (" REVIEW OVERDUE" if card.review_overdue else "") + (
            " APPROVED WITHOUT A SECOND REVIEW" if card.second_review is False else "")
        typer.secho(f"{hit.title}  [{hit.space}/{hit.document} v{card.version}, {card.audience}]{flags}", bold=True)
        approved = f"approved by {card.approved_by.display_name} (@{card.approved_by.username}) on {card.approved_at:%Y-%m-%d}" if card.approved_by and card.approved_at else "not approved"
        typer.echo(f"  {approved}; intended use: {card.intended_use}")
        typer.echo(f"  {' > '.join(hit.passage.heading_path)}: {hit.passage.text[:200]}")
    if not results.data:
        typer.echo("No results.")
    _print_facets(results.facets)


def _print_facets(facets) -> None:  # noqa: ANN001 - list of kb.search.schemas.Facet, imported lazily
    for facet in facets:
        values = ", ".join(f"{'*' if v.selected else ''}{v.label} ({v.count}) --concept {v.concept}" for v in facet.values)
        typer.echo(f"{facet.title}: {values}")


def _print_public(results) -> None:  # noqa: ANN001 - kb.search.schemas.PublicResults, imported lazily
    labels = results.labels
    for hit in results.data:
        card = hit.provenance
        typer.secho(f"{hit.title}  [{hit.language_label}]  /public/v1/documents/{hit.document}", bold=True)
        typer.echo(f"  {labels['card.organisation']}: {card.organisation}; {labels['card.approved_on']}: "
                   f"{card.approved_on}; {labels['card.intended_use']}: {card.intended_use}")
        if not card.second_review:
            typer.echo(f"  {labels['card.second_review']}")
        if hit.translation_links:
            others = ", ".join(f"{link.language_label} /public/v1/documents/{link.document}" for link in hit.translation_links)
            typer.echo(f"  {labels['hit.translations']}: {others}")
        typer.echo(f"  {hit.passage.text[:200]}")
    if not results.data:
        typer.echo("No results.")


@app.command()
def explore(
    situation: Annotated[Optional[list[str]], typer.Option(
        "--situation", "-s", help="A situation that applies to you: its key (student) or scheme:key; repeat it")] = None,
    question: Annotated[Optional[str], typer.Option("--question", "-q", help="A question in your own words, to rank what applies")] = None,
    lang: Annotated[Optional[str], typer.Option(help="Your language: pages, labels and questions in it")] = None,
) -> None:
    """What applies to me, as a citizen (issue 20): the approved public pages that apply to the situations
    given, grouped by topic; without --situation, the questions and their options. Counted like every
    visit (anonymous counts of the situations picked); needs no one."""
    from kb.search import actions
    from kb.search.indexer import SearchIndexes

    database = open_database()
    with database.session() as session, KbErrors():
        indexes = SearchIndexes.for_queries(database.settings, session) if question else None
        found = actions.public_explore(session, None, indexes=indexes, settings=database.settings,
                                       situations=situation or [], query=question, language=lang).results
    if not situation:
        for asked in found.questions:
            typer.secho(asked.title, bold=True)
            typer.echo("  " + ", ".join(f"{option.label} (--situation {option.value})" for option in asked.options))
        return
    labels = found.labels
    typer.echo(f"{found.total} pages · {found.share_url}")
    for group in found.groups:
        typer.secho(group.label, bold=True)
        for page in group.pages:
            card = page.provenance
            typer.echo(f"  {page.title}  [{page.language_label}]  /public/v1/documents/{page.document}")
            typer.echo(f"    {labels['explore.applies_to']}: {', '.join(page.applies_to)}; {labels['card.organisation']}: "
                       f"{card.organisation}; {labels['card.valid_until']}: {card.valid_until or '—'}")
    if not found.groups:
        typer.echo(labels["explore.none"])


@app.command()
def reindex(
    full: Annotated[bool, typer.Option("--full", help="Empty the vector indexes and fill them again from the vectors stored "
                                                       "in the database (encoding only passages that have none)")] = False,
    wait: Annotated[float, typer.Option(help="Seconds to wait for running processes to rebuild their slots (0: do not wait)", min=0)] = 120,
) -> None:
    """Rebuild the search indexes from the database: every index slot, with a progress bar.

    A slot that a running process holds is rebuilt by that process (within KB_INDEX_CATCH_UP_SECONDS).
    """
    import time

    from rich.progress import Progress

    from kb.search.indexer import SearchIndexes
    from kb.search.slots import SlotInUse, rebuild_pending, request_rebuild, slot_dirs

    database = open_database()
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
    from kb.search.indexer import SearchIndexes
    from kb.search.slots import slot_dirs, slot_in_use

    database = open_database()
    settings = database.settings
    slots = slot_dirs(settings.index_root)
    if not slots:
        raise fail(f"no search indexes under {settings.index_root}: `kb serve` builds them on start, or run `kb reindex`", 3)
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
        raise fail(f"{drifted} of {len(slots)} index slots differ from the database. Run `kb reindex`.", 3)


def _models(settings):  # noqa: ANN001, ANN202 - (settings) -> list of (label, embedder, key, public_only, by_sentence)
    from kb.search import stored_vectors
    from kb.search.factory import shared_embedder, shared_multilingual_embedder

    embedder = shared_embedder(settings.embedding_model)
    models = [("passages", embedder, stored_vectors.model_key(embedder), False, False)]
    if settings.public_multilingual:
        multilingual = shared_multilingual_embedder()
        models.append(("public passages, multilingual", multilingual, stored_vectors.model_key(multilingual), True, False))
        if settings.public_sentences:
            models.append(("public passages' sentences, multilingual", multilingual,
                           stored_vectors.sentence_key(multilingual), True, True))
    return models


@index_app.command("vectors")
def index_vectors() -> None:
    """How many passages have their vectors stored, per model, against those the configured models need."""
    from kb.search import stored_vectors

    database = open_database()
    with database.session() as session:
        held = {count.model: count for count in stored_vectors.counts(session)}
        for label, _embedder, key, public_only, by_sentence in _models(database.settings):
            wanted = stored_vectors.encodable(session, public_only=public_only)
            missing = stored_vectors.unencoded_count(session, key, public_only=public_only,
                                                     position=0 if by_sentence else stored_vectors.PASSAGE)
            typer.echo(f"{label}: {wanted - missing} of {wanted} stored ({key})")
        configured = {key for _label, _embedder, key, _public, _sentence in _models(database.settings)}
        for model, count in held.items():
            if model not in configured:
                typer.echo(f"not in use: {model}: {count.passages} passages, {count.sentences} sentences")


@index_app.command("encode")
def index_encode(
    batch: Annotated[int, typer.Option(help="Passages per committed batch", min=1, max=4096)] = 256,
) -> None:
    """Encode and store the vectors of every submitted or approved passage that has none for the configured
    models (after a change of model), with a progress bar. Resumable: each batch is committed, and a run
    starts from what is stored. Running servers also do this in the background (KB_INDEX_IN_BACKGROUND)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from kb.search import stored_vectors

    database = open_database()
    with database.session() as session:
        for label, embedder, key, public_only, by_sentence in _models(database.settings):
            missing = stored_vectors.unencoded_count(session, key, public_only=public_only,
                                                     position=0 if by_sentence else stored_vectors.PASSAGE)
            done, after = 0, 0
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("{task.fields[rate]:.1f} passages/s"), TimeRemainingColumn())
            with Progress(*columns, disable=not sys.stderr.isatty()) as progress:
                task = progress.add_task(f"Encoding {label}", total=missing, rate=0.0)
                while True:
                    count, last = stored_vectors.encode_missing(session, embedder, key, after=after, limit=batch,
                                                                public_only=public_only, by_sentence=by_sentence)
                    if last is None:
                        break
                    done, after = done + count, last
                    elapsed = progress.tasks[0].elapsed or 0
                    progress.update(task, completed=done, rate=done / elapsed if elapsed else 0.0)
            typer.echo(f"{label}: encoded and stored {done} ({key})")


@index_app.command("forget")
def index_forget(
    model: Annotated[str, typer.Argument(help="A model key as `kb index vectors` prints it")],
) -> None:
    """Delete the vectors stored under a model key (its sentence vectors too): a model no longer used, or
    vectors to compute again (then `kb index encode`, and `kb reindex --full` for the slots that hold them)."""
    from kb.search import stored_vectors

    database = open_database()
    with database.session() as session:
        typer.echo(f"deleted {stored_vectors.forget(session, model)} stored vectors of {model}")
