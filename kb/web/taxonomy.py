"""Web pages of the taxonomy (issue 20): the schemes and their concepts with labels in the reader's language,
and for owners and admins the forms to add, relabel, merge, deprecate and delete concepts, and SKOS
export and import.

Also what the document forms offer from the taxonomy: the concept pickers of ``applies to``, ``topic``
and ``region`` and the tag suggestions. Each page calls one action of ``kb.taxonomy.actions`` (the door
of ``/api/v1/taxonomy``, which decides who may do what). Never imports an ``api`` module or a service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import Response
from sqlmodel import Session

from kb.actors import Actor
from kb.errors import ErrorCode, KbError
from kb.taxonomy import actions
from kb.taxonomy.schemas import ConceptCreate, ConceptPublic, ConceptUpdate, SchemeCreate, SchemesPublic
from kb.web import i18n
from kb.web.common import Csrf, SessionDep, Viewer, ViewerDep, back, checked, page, page_router, signed_in

router = page_router()

KEY = r"^[a-z0-9][a-z0-9_-]{0,63}$"
SchemePath = Annotated[str, Path(pattern=KEY)]
KeyPath = Annotated[str, Path(pattern=KEY)]
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
FIELD_TITLES = {"applies_to": "Applies to", "topic": "Topic", "region": "Region"}
"""The three concept fields of a version, as the forms and the provenance card name them."""


def reader_language(request: Request) -> str:
    """The language of the labels on a page: ``?lang=`` when it is a language code, else the browser's, else English."""
    lang = request.query_params.get("lang", "")
    if LANGUAGE.match(lang):
        return lang
    return i18n.accepted(request.headers.get("accept-language")) or "en"


# ---------------------------------------------------------------------- what document forms offer

@dataclass
class ConceptChoices:
    """The active concepts a writer may pick per field, grouped by scheme, and tag suggestions from their labels."""

    by_field: dict[str, list[tuple[str, list[tuple[str, str]]]]] = field(default_factory=dict)
    """field -> [(scheme title, [(ref, label), …]), …]; deprecated and merged concepts are not offered."""
    tags: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    """Every concept's label by reference (to name one a version carries that is no longer offered)."""

    @property
    def offered(self) -> set[str]:
        return {ref for groups in self.by_field.values() for _title, concepts in groups for ref, _label in concepts}


def concept_choices(session: Session, actor: Actor, language: str) -> ConceptChoices:
    """What the write and import forms offer from the taxonomy, labels in ``language``."""
    schemes = actions.list_schemes(session, actor, language=language)
    return choices_of(schemes, language)


def choices_of(schemes: SchemesPublic, language: str) -> ConceptChoices:
    choices = ConceptChoices()
    tags: dict[str, None] = {}
    for scheme in schemes.data:
        active = [(c.ref, c.label) for c in scheme.concepts if c.status.value == "active"]
        choices.labels.update({c.ref: c.label for c in scheme.concepts})
        if active:
            choices.by_field.setdefault(scheme.field.value, []).append((scheme.title, sorted(active, key=lambda c: c[1].casefold())))
        for concept in scheme.concepts:
            if concept.status.value != "active":
                continue
            base = language.split("-")[0]
            for text in [concept.label, *concept.alternative.get(language, []), *concept.alternative.get(base, [])]:
                tag = " ".join(text.lower().split())
                if 0 < len(tag) <= 50:
                    tags.setdefault(tag)
    choices.tags = sorted(tags)
    return choices


# ------------------------------------------------------------------------------------ the page

def _page(request: Request, session: Session, who: Viewer, *, imported=None, status_code: int = 200) -> Response:  # noqa: ANN001
    actor = signed_in(who)
    lang = reader_language(request)
    schemes = actions.list_schemes(session, actor, language=lang)
    languages = list(i18n.PUBLIC_LANGUAGES)
    return page(request, "taxonomy.html", who, status_code=status_code, schemes=schemes.data, label_lang=lang,
                languages=languages, names=i18n.PUBLIC_LANGUAGES, imported=imported, fields=FIELD_TITLES)


@router.get("/taxonomy")
def taxonomy_page(request: Request, session: SessionDep, who: ViewerDep) -> Response:
    return _page(request, session, who)


@router.get("/taxonomy/export")
def export(session: SessionDep, who: ViewerDep,
           format: Annotated[actions.SkosFormat, Query()] = "turtle") -> Response:  # noqa: A002
    text, media_type = actions.export_skos(session, signed_in(who), format=format)
    suffix = "ttl" if format == "turtle" else "jsonld"
    return Response(text, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="taxonomy.{suffix}"'})


@router.post("/taxonomy/import")
def import_skos(request: Request, session: SessionDep, who: ViewerDep, file: Annotated[UploadFile, File()],
                csrf: Csrf = None, format: Annotated[str, Form(pattern="^(|turtle|json-ld)$")] = "",  # noqa: A002
                fields: Annotated[str, Form(max_length=5000)] = "") -> Response:
    """A SKOS file; ``fields``: one ``SCHEME=FIELD`` a line for the schemes the file gives no field."""
    actor = checked(who, csrf)
    name = (file.filename or "").lower()
    chosen = format or ("json-ld" if name.endswith((".jsonld", ".json")) else "turtle")
    mapping: dict[str, str] = {}
    for line in fields.splitlines():
        if not line.strip():
            continue
        scheme, sep, target = line.strip().rpartition("=")
        if not sep or not scheme.strip() or target.strip() not in FIELD_TITLES:
            raise KbError(ErrorCode.VALIDATION_ERROR, f"Give each field as SCHEME=FIELD (regions=region), FIELD one of "
                          f"{', '.join(FIELD_TITLES)}: not {line.strip()[:100]!r}")
        mapping[scheme.strip()] = target.strip()
    data = file.file.read(actions.MAX_SKOS_BYTES + 1)
    if len(data) > actions.MAX_SKOS_BYTES:
        raise KbError(ErrorCode.PAYLOAD_TOO_LARGE, f"A SKOS import is at most {actions.MAX_SKOS_BYTES // 2**20} MB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise KbError(ErrorCode.VALIDATION_ERROR, "The file is not UTF-8 text") from None
    report = actions.import_skos(session, actor, text=text, format=chosen, fields=mapping)  # type: ignore[arg-type]
    return _page(request, session, who, imported=report)


@router.post("/taxonomy/schemes")
def create_scheme(session: SessionDep, who: ViewerDep, key: Annotated[str, Form(max_length=64)],
                  field: Annotated[str, Form(pattern="^(applies_to|topic|region)$")],
                  title_en: Annotated[str, Form(max_length=200)], csrf: Csrf = None) -> Response:
    actor = checked(who, csrf)
    made = actions.create_scheme(session, actor, data=SchemeCreate(key=key, field=field, titles={"en": title_en}))  # type: ignore[arg-type]
    return back(f"/taxonomy#s-{quote(made.key)}", "scheme-added")


async def _labels(request: Request) -> tuple[dict[str, str], dict[str, list[str]]]:
    """A label form's ``pref_LANG`` and ``alt_LANG`` (comma-separated) fields, and the ``new_lang`` row for one more language."""
    form = await request.form()
    preferred: dict[str, str] = {}
    alternative: dict[str, list[str]] = {}
    extra = str(form.get("new_lang", "")).strip()

    def put(language: str, pref: str, alts: str) -> None:
        if pref.strip():
            preferred[language] = pref.strip()
        texts = [t.strip() for t in alts.split(",") if t.strip()]
        if texts:
            alternative[language] = texts

    for name, value in form.multi_items():
        if isinstance(value, str) and name.startswith("pref_"):
            language = name.removeprefix("pref_")
            put(language, value, str(form.get(f"alt_{language}", "")))
    if extra:
        put(extra, str(form.get("new_pref", "")), str(form.get("new_alt", "")))
    return preferred, alternative


LabelsDep = Annotated[tuple[dict[str, str], dict[str, list[str]]], Depends(_labels)]


@router.post("/taxonomy/{scheme}/concepts")
def create_concept(session: SessionDep, who: ViewerDep, scheme: SchemePath, labels: LabelsDep,
                   key: Annotated[str, Form(max_length=64)], broader: Annotated[str, Form(max_length=64)] = "",
                   csrf: Csrf = None) -> Response:
    actor = checked(who, csrf)
    preferred, alternative = labels
    made = actions.create_concept(session, actor, scheme=scheme, data=ConceptCreate(
        key=key, preferred=preferred, alternative=alternative, broader=broader or None))
    return back(f"/taxonomy#c-{quote(scheme)}-{quote(made.key)}", "concept-added")


@router.post("/taxonomy/{scheme}/concepts/{key}")
def update_concept(session: SessionDep, who: ViewerDep, scheme: SchemePath, key: KeyPath, labels: LabelsDep,
                   broader: Annotated[str | None, Form(max_length=64)] = None, csrf: Csrf = None) -> Response:
    """Labels as the form shows them (every preferred and alternative label replaced), and the broader concept."""
    actor = checked(who, csrf)
    preferred, alternative = labels
    actions.update_concept(session, actor, scheme=scheme, key=key, data=ConceptUpdate(
        preferred=preferred, alternative=alternative, broader=broader))
    return back(f"/taxonomy#c-{quote(scheme)}-{quote(key)}", "concept-saved")


@router.post("/taxonomy/{scheme}/concepts/{key}/merge")
def merge_concept(session: SessionDep, who: ViewerDep, scheme: SchemePath, key: KeyPath,
                  into: Annotated[str, Form(pattern=KEY)], csrf: Csrf = None) -> Response:
    actor = checked(who, csrf)
    merged = actions.merge_concept(session, actor, scheme=scheme, key=key, into=into)
    if not isinstance(merged, ConceptPublic):  # a pending request: approved pages name the concept
        return back(f"/taxonomy#c-{quote(scheme)}-{quote(key)}", "merge-requested")
    return back(f"/taxonomy#c-{quote(scheme)}-{quote(merged.key)}", "concept-merged")


@router.post("/taxonomy/{scheme}/concepts/{key}/deprecate")
def deprecate_concept(session: SessionDep, who: ViewerDep, scheme: SchemePath, key: KeyPath, csrf: Csrf = None) -> Response:
    actor = checked(who, csrf)
    actions.deprecate_concept(session, actor, scheme=scheme, key=key)
    return back(f"/taxonomy#c-{quote(scheme)}-{quote(key)}", "concept-deprecated")


@router.post("/taxonomy/{scheme}/concepts/{key}/delete")
def delete_concept(session: SessionDep, who: ViewerDep, scheme: SchemePath, key: KeyPath, csrf: Csrf = None) -> Response:
    actor = checked(who, csrf)
    actions.delete_concept(session, actor, scheme=scheme, key=key)
    return back(f"/taxonomy#s-{quote(scheme)}", "concept-deleted")
