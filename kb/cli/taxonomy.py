"""``kb taxonomy`` commands (issue 20): list the concept schemes, export and import SKOS, add, change, merge,
deprecate and delete concepts.

Each command authenticates the person it acts for (an API token, or ``--as`` and a password;
``kb.cli.common.authenticated``) and calls one action of ``kb.taxonomy.actions``. A concept is named
by its reference ``scheme:key`` (``situation:student``), as in the API and the documents' fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from kb.cli.common import AsUser, KbErrors, TokenFile, app, authenticated, fail, open_database, waiting

taxonomy_app = typer.Typer(help="The taxonomy: concept schemes, their concepts and labels per language, SKOS "
                           "export and import (docs/taxonomy.md).", no_args_is_help=True)
app.add_typer(taxonomy_app, name="taxonomy")

FORMATS = ("turtle", "json-ld")
FIELDS = ("applies_to", "topic", "region")

Ref = Annotated[str, typer.Argument(help="The concept as scheme:key, e.g. situation:student")]
Labels = Annotated[Optional[list[str]], typer.Option(
    "--label", help="A preferred label as LANG=TEXT (en=Student); repeat per language, English at least")]
AltLabels = Annotated[Optional[list[str]], typer.Option(
    "--alt", help="An alternative label as LANG=TEXT (en=pupil); repeat for several")]


def _ref(ref: str) -> tuple[str, str]:
    scheme, _, key = ref.partition(":")
    if not scheme or not key:
        raise fail(f"name a concept as scheme:key (situation:student), not {ref!r}")
    return scheme, key


def _pairs(items: list[str] | None, what: str) -> list[tuple[str, str]]:
    pairs = []
    for item in items or []:
        language, sep, text = item.partition("=")
        if not sep or not language.strip() or not text.strip():
            raise fail(f"give {what} as LANG=TEXT (en=Student), not {item!r}")
        pairs.append((language.strip(), text.strip()))
    return pairs


def _labels(preferred: list[str] | None, alternative: list[str] | None) -> tuple[dict[str, str], dict[str, list[str]]]:
    alternatives: dict[str, list[str]] = {}
    for language, text in _pairs(alternative, "--alt"):
        alternatives.setdefault(language, []).append(text)
    return dict(_pairs(preferred, "--label")), alternatives


def _valid(model, **values):  # noqa: ANN001, ANN202
    """``model(**values)``, or one red line naming the first thing that is wrong."""
    from pydantic import ValidationError

    try:
        return model(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise fail(f"{where}: {error['msg']}" if where else error["msg"]) from None


@taxonomy_app.command("list")
def list_schemes(
    as_user: AsUser = None, token_file: TokenFile = None,
    lang: Annotated[Optional[str], typer.Option("--lang", help="The language of the labels (English where one has none)")] = None,
) -> None:
    """Every concept scheme and its concepts: reference, label, status, and how many versions name it."""
    from kb.taxonomy import actions

    database = open_database()
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        schemes = actions.list_schemes(session, actor, language=lang)
    for scheme in schemes.data:
        typer.echo(f"{scheme.key} ({scheme.field.value}): {scheme.title}")
        for concept in scheme.concepts:
            state = "" if concept.status.value == "active" else f"\t[{concept.status.value}" + (
                f" → {concept.replaced_by}]" if concept.replaced_by else "]")
            under = f"\tunder {concept.broader}" if concept.broader else ""
            uses = "" if concept.used_by_versions is None else f"{concept.used_by_versions} versions"
            typer.echo(f"  {concept.ref}\t{concept.label}{under}\t{uses}{state}")
    if not schemes.data:
        typer.echo("No concept schemes yet: kb taxonomy add-scheme, or kb taxonomy import a SKOS file")


@taxonomy_app.command("export")
def export(
    as_user: AsUser = None, token_file: TokenFile = None,
    fmt: Annotated[str, typer.Option("--format", help="turtle or json-ld")] = "turtle",
    output: Annotated[Optional[Path], typer.Option("-o", "--output", dir_okay=False, help="Write to this file instead of printing")] = None,
) -> None:
    """The whole taxonomy as SKOS (Turtle or JSON-LD)."""
    from kb.taxonomy import actions

    if fmt not in FORMATS:
        raise fail(f"unknown format {fmt!r}; use {' or '.join(FORMATS)}")
    database = open_database()
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        text, _media_type = actions.export_skos(session, actor, format=fmt)  # type: ignore[arg-type]
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"Wrote {output}")


@taxonomy_app.command("import")
def import_skos(
    path: Annotated[Path, typer.Argument(help="A SKOS file: Turtle (.ttl) or JSON-LD (.jsonld, .json)", exists=True, dir_okay=False)],
    as_user: AsUser = None, token_file: TokenFile = None,
    fmt: Annotated[Optional[str], typer.Option("--format", help="turtle or json-ld (default: from the file's suffix)")] = None,
    field: Annotated[Optional[list[str]], typer.Option(
        "--field", help="SCHEME=FIELD for a scheme the file does not give a field (regions=region; the scheme's key "
        "or URI, then applies_to, topic or region); repeat for several")] = None,
) -> None:
    """Load a SKOS vocabulary: new schemes and concepts are created, known ones (by URI) get the file's labels,
    broader and related concepts; every change is an audit event, all in one transaction."""
    from kb.taxonomy import actions

    fmt = fmt or ("json-ld" if path.suffix.lower() in (".jsonld", ".json") else "turtle")
    if fmt not in FORMATS:
        raise fail(f"unknown format {fmt!r}; use {' or '.join(FORMATS)}")
    fields = {}
    for item in field or []:
        scheme, sep, name = item.rpartition("=")
        if not sep or not scheme or name not in FIELDS:
            raise fail(f"give --field as SCHEME=FIELD, FIELD one of {', '.join(FIELDS)}, not {item!r}")
        fields[scheme] = name
    if path.stat().st_size > actions.MAX_SKOS_BYTES:
        raise fail(f"{path.name} is larger than a SKOS import takes ({actions.MAX_SKOS_BYTES} bytes)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise fail(f"{path.name} is not UTF-8 text") from None
    database = open_database()
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        report = actions.import_skos(session, actor, text=text, format=fmt, fields=fields)  # type: ignore[arg-type]
    typer.echo(f"Imported {', '.join(report.schemes)}: {report.concepts_created} concepts created, "
               f"{report.concepts_updated} updated")


@taxonomy_app.command("add-scheme")
def add_scheme(
    key: Annotated[str, typer.Argument(help="The scheme's key (situation)")],
    field: Annotated[str, typer.Option("--field", help="The version field its concepts fill: applies_to, topic or region")],
    title: Annotated[list[str], typer.Option("--title", help="Its title as LANG=TEXT; repeat per language, English at least")],
    as_user: AsUser = None, token_file: TokenFile = None,
    uri: Annotated[Optional[str], typer.Option(help="Its SKOS URI (default: one under kb's own base)")] = None,
) -> None:
    """Create a concept scheme."""
    from kb.taxonomy import actions
    from kb.taxonomy.schemas import SchemeCreate

    data = _valid(SchemeCreate, key=key, field=field, titles=dict(_pairs(title, "--title")), uri=uri)
    database = open_database()
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        made = actions.create_scheme(session, actor, data=data)
    typer.echo(f"Created the scheme {made.key} ({made.field.value})")


@taxonomy_app.command("add-concept")
def add_concept(
    ref: Ref, label: Labels = None, alt: AltLabels = None,
    as_user: AsUser = None, token_file: TokenFile = None,
    broader: Annotated[Optional[str], typer.Option(help="The key of its broader concept in the same scheme")] = None,
    related: Annotated[Optional[list[str]], typer.Option(help="A related concept as scheme:key; repeat for several")] = None,
) -> None:
    """Add a concept to a scheme, with its labels per language."""
    from kb.taxonomy import actions
    from kb.taxonomy.schemas import ConceptCreate

    scheme, key = _ref(ref)
    preferred, alternative = _labels(label, alt)
    data = _valid(ConceptCreate, key=key, preferred=preferred, alternative=alternative, broader=broader, related=related or [])
    database = open_database()
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        made = actions.create_concept(session, actor, scheme=scheme, data=data)
    typer.echo(f"Added {made.ref} ({made.label})")


@taxonomy_app.command("update")
def update_concept(
    ref: Ref,
    label: Annotated[Optional[list[str]], typer.Option(
        "--label", help="A preferred label as LANG=TEXT; when given, they replace every preferred label (English at least)")] = None,
    alt: Annotated[Optional[list[str]], typer.Option(
        "--alt", help="An alternative label as LANG=TEXT; when given, they replace every alternative label")] = None,
    no_alt: Annotated[bool, typer.Option("--no-alt", help="Remove every alternative label")] = False,
    as_user: AsUser = None, token_file: TokenFile = None,
    broader: Annotated[Optional[str], typer.Option(help="The key of its broader concept; an empty string for none")] = None,
) -> None:
    """Change a concept's labels or its broader concept (what is not given stays as it is)."""
    from kb.taxonomy import actions
    from kb.taxonomy.schemas import ConceptUpdate

    scheme, key = _ref(ref)
    preferred, alternative = _labels(label, alt)
    data = _valid(ConceptUpdate, preferred=preferred or None, alternative={} if no_alt else (alternative or None),
                  broader=broader)
    database = open_database()
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        changed = actions.update_concept(session, actor, scheme=scheme, key=key, data=data)
    typer.echo(f"Updated {changed.ref} ({changed.label})")


@taxonomy_app.command("merge")
def merge(
    ref: Ref,
    into: Annotated[str, typer.Argument(help="The concept, in the same scheme, that replaces it (key or scheme:key)")],
    as_user: AsUser = None, token_file: TokenFile = None,
) -> None:
    """Merge a concept into another: every version naming it is read as naming that one (versions are not rewritten)."""
    from kb.taxonomy import actions

    scheme, key = _ref(ref)
    target_scheme, _, target = into.rpartition(":")
    if target_scheme and target_scheme != scheme:
        raise fail(f"a concept merges into one of its own scheme ({scheme}), not {into!r}")
    database = open_database()
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        merged = actions.merge_concept(session, actor, scheme=scheme, key=key, into=target)
    if not isinstance(merged, actions.ConceptPublic):  # approved pages name it: a second person decides
        typer.echo(waiting(merged))
        return
    typer.echo(f"Merged {ref} into {merged.ref}")


@taxonomy_app.command("deprecate")
def deprecate(ref: Ref, as_user: AsUser = None, token_file: TokenFile = None) -> None:
    """Deprecate a concept: the versions that name it keep it; no one is offered it any more."""
    from kb.taxonomy import actions

    scheme, key = _ref(ref)
    database = open_database()
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        actions.deprecate_concept(session, actor, scheme=scheme, key=key)
    typer.echo(f"Deprecated {ref}")


@taxonomy_app.command("delete")
def delete(ref: Ref, as_user: AsUser = None, token_file: TokenFile = None) -> None:
    """Delete a concept no version names (one in use is refused: merge or deprecate it)."""
    from kb.taxonomy import actions

    scheme, key = _ref(ref)
    database = open_database()
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        actions.delete_concept(session, actor, scheme=scheme, key=key)
    typer.echo(f"Deleted {ref}")
