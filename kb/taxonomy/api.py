"""HTTP routes of the taxonomy (issue 20): schemes and concepts, their labels, merges, SKOS export and import.

Each route declares its row of ``kb.permissions`` with ``require_for`` and calls one action of
``kb.taxonomy.actions``; no transaction, no service call here. Concepts are named by their scheme
and key in the path (``/taxonomy/situation/concepts/student``), the ``scheme:key`` reference of the
documents' fields.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse

from kb.accounts.schemas import GovernanceRequestPublic
from kb.actors import Actor
from kb.errors import ErrorCode, KbError
from kb.http import SessionDep, api_router_options, require_for
from kb.taxonomy import actions
from kb.taxonomy.schemas import (
    ConceptCreate, ConceptPublic, ConceptUpdate, LabelLanguage, MergeRequest, SchemeCreate, SchemePublic, SchemesPublic,
    SkosImported,
)

router = APIRouter(prefix="/api/v1", **api_router_options("taxonomy"))

KEY_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
SchemePath = Annotated[str, Path(pattern=KEY_PATTERN, description="The scheme's key (situation)")]
KeyPath = Annotated[str, Path(pattern=KEY_PATTERN, description="The concept's key within its scheme (student)")]
Lang = Annotated[LabelLanguage | None, Query(description="The language of the labels (English where a concept has none)")]
FIELDS = ("applies_to", "topic", "region")
JSON_LD = {"type": ["object", "array"], "description": "A JSON-LD document (an empty taxonomy exports as [])"}


@router.get("/taxonomy", response_model=SchemesPublic, summary="Every concept scheme with its concepts, labels in a language")
def list_schemes(session: SessionDep, actor: Annotated[Actor, Depends(require_for("taxonomy.read"))],
                 lang: Lang = None) -> SchemesPublic:
    return actions.list_schemes(session, actor, language=lang)


@router.get(
    "/taxonomy/export", summary="The whole taxonomy as SKOS (Turtle or JSON-LD)", response_class=Response,
    responses={200: {"content": {"text/turtle": {"schema": {"type": "string"}},
                                 "application/ld+json": {"schema": JSON_LD}},
                     "description": "A SKOS document: every scheme and concept with its labels, hierarchy and merges"}},
)
def export_skos(session: SessionDep, actor: Annotated[Actor, Depends(require_for("taxonomy.export"))],
                format: Annotated[actions.SkosFormat, Query()] = "turtle") -> Response:  # noqa: A002
    text, media_type = actions.export_skos(session, actor, format=format)
    suffix = "ttl" if format == "turtle" else "jsonld"
    return Response(text, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="taxonomy.{suffix}"'})


@router.post(
    "/taxonomy/import", response_model=SkosImported, summary="Load a SKOS vocabulary (the request body: Turtle or JSON-LD)",
    description="The body is the SKOS document itself (`Content-Type: text/turtle` or `application/ld+json`), at most "
    f"{actions.MAX_SKOS_BYTES // 2**20} MB. Schemes and concepts are matched by URI: new ones are created, known ones get "
    "the file's labels, broader and related concepts, each change an audit event, all in one transaction. A scheme that "
    "does not say which version field it fills (`kb:field`, as kb's own export does) needs one `field=SCHEME:FIELD` "
    "(its key or URI, then `applies_to`, `topic` or `region`) or the import is refused. JSON-LD that names a remote "
    "`@context` is refused: kb loads nothing from the network.",
    openapi_extra={"requestBody": {"required": True, "content": {
        "text/turtle": {"schema": {"type": "string"}}, "application/ld+json": {"schema": JSON_LD}}}},
)
async def import_skos(request: Request, session: SessionDep,
                      actor: Annotated[Actor, Depends(require_for("taxonomy.import"))],
                      format: Annotated[actions.SkosFormat | None, Query(  # noqa: A002
                          description="turtle or json-ld; by default the body's Content-Type says, else turtle")] = None,
                      field: Annotated[list[str] | None, Query(
                          max_length=50, description="SCHEME:FIELD for a scheme that does not say its field, "
                          "e.g. regions:region (the scheme's key or URI); repeat for several")] = None,
                      ) -> SkosImported:
    # async to read the raw body (it is no JSON model); the action runs in the thread pool as sync routes do
    from starlette.concurrency import run_in_threadpool

    body = await request.body()
    if len(body) > actions.MAX_SKOS_BYTES:
        raise KbError(ErrorCode.PAYLOAD_TOO_LARGE, f"A SKOS import is at most {actions.MAX_SKOS_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise KbError(ErrorCode.VALIDATION_ERROR, "The SKOS document is not UTF-8 text") from None
    if format is None:
        format = "json-ld" if "json" in request.headers.get("content-type", "") else "turtle"  # noqa: A001
    fields = dict(_mapping(item) for item in field or [])
    return await run_in_threadpool(actions.import_skos, session, actor, text=text, format=format, fields=fields)


def _mapping(item: str) -> tuple[str, str]:
    """``regions:region`` or ``http://example.org/regions:region``: the scheme (its key or URI), then the field.

    Raises: KbError VALIDATION_ERROR: not SCHEME:FIELD with one of the three fields."""
    scheme, _, field = item.rpartition(":")
    if not scheme or field not in FIELDS or len(item) > 2100:
        raise KbError(ErrorCode.VALIDATION_ERROR, f"field={item[:100]!r}: give SCHEME:FIELD, FIELD one of {', '.join(FIELDS)}",
                      [{"loc": ["query", "field"], "msg": "not SCHEME:FIELD", "type": "value_error"}])
    return scheme, field


@router.post("/taxonomy", response_model=SchemePublic, status_code=status.HTTP_201_CREATED, summary="Create a concept scheme")
def create_scheme(body: SchemeCreate, session: SessionDep,
                  actor: Annotated[Actor, Depends(require_for("concept_scheme.create"))]) -> SchemePublic:
    return actions.create_scheme(session, actor, data=body)


@router.get("/taxonomy/{scheme}", response_model=SchemePublic, summary="One concept scheme with its concepts")
def read_scheme(scheme: SchemePath, session: SessionDep, actor: Annotated[Actor, Depends(require_for("taxonomy.read"))],
                lang: Lang = None) -> SchemePublic:
    return actions.read_scheme(session, actor, scheme=scheme, language=lang)


@router.post("/taxonomy/{scheme}/concepts", response_model=ConceptPublic, status_code=status.HTTP_201_CREATED,
             summary="Add a concept to a scheme, with its labels per language")
def create_concept(scheme: SchemePath, body: ConceptCreate, session: SessionDep,
                   actor: Annotated[Actor, Depends(require_for("concept.create"))]) -> ConceptPublic:
    return actions.create_concept(session, actor, scheme=scheme, data=body)


@router.get("/taxonomy/{scheme}/concepts/{key}", response_model=ConceptPublic, summary="One concept with its labels")
def read_concept(scheme: SchemePath, key: KeyPath, session: SessionDep,
                 actor: Annotated[Actor, Depends(require_for("taxonomy.read"))], lang: Lang = None) -> ConceptPublic:
    return actions.read_concept(session, actor, scheme=scheme, key=key, language=lang)


@router.patch("/taxonomy/{scheme}/concepts/{key}", response_model=ConceptPublic,
              summary="Change a concept's labels (each given kind replaced whole), broader or related concepts")
def update_concept(scheme: SchemePath, key: KeyPath, body: ConceptUpdate, session: SessionDep,
                   actor: Annotated[Actor, Depends(require_for("concept.update"))]) -> ConceptPublic:
    return actions.update_concept(session, actor, scheme=scheme, key=key, data=body)


@router.post("/taxonomy/{scheme}/concepts/{key}/merge", response_model=ConceptPublic,
             summary="Merge a concept into another of its scheme: every version naming it is read as naming that one",
             description="A concept that approved pages name is merged only with a second person: the answer is then "
             "202 with a pending governance request, which an owner of one of those pages' spaces or an admin, "
             "not the requester, approves (docs/governance.md).",
             responses={202: {"model": GovernanceRequestPublic, "description": "The merge waits for a second person"}})
def merge_concept(scheme: SchemePath, key: KeyPath, body: MergeRequest, session: SessionDep,
                  actor: Annotated[Actor, Depends(require_for("concept.merge"))]) -> object:
    result = actions.merge_concept(session, actor, scheme=scheme, key=key, into=body.into)
    if isinstance(result, GovernanceRequestPublic):
        return JSONResponse(result.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)
    return result


@router.post("/taxonomy/{scheme}/concepts/{key}/deprecate", response_model=ConceptPublic,
             summary="Deprecate a concept: versions keep it, no one is offered it any more")
def deprecate_concept(scheme: SchemePath, key: KeyPath, session: SessionDep,
                      actor: Annotated[Actor, Depends(require_for("concept.deprecate"))]) -> ConceptPublic:
    return actions.deprecate_concept(session, actor, scheme=scheme, key=key)


@router.delete("/taxonomy/{scheme}/concepts/{key}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Delete a concept no version names (409 when one does: merge or deprecate it)")
def delete_concept(scheme: SchemePath, key: KeyPath, session: SessionDep,
                   actor: Annotated[Actor, Depends(require_for("concept.delete"))]) -> Response:
    actions.delete_concept(session, actor, scheme=scheme, key=key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
