"""Wire shapes of the taxonomy: schemes and concepts with their labels in several languages (issue 20).

A concept is named on the wire by its **reference** ``scheme:key`` (``situation:student``), the
same in the API, the web forms, the CLI and a version's provenance fields. Imports only the
domain's models and the foundation.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from kb.taxonomy.models import ConceptField, ConceptStatus

Key = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Ref = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}:[a-z0-9][a-z0-9_-]{0,63}$")]
LabelLanguage = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]
LabelText = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
ConceptUri = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+$", max_length=2000)]
MAX_LABELS = 40


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _no_blank_keys(value: dict) -> dict:
    if len(value) > MAX_LABELS:
        raise ValueError(f"at most {MAX_LABELS} languages")
    return value


class SchemeCreate(Strict):
    key: Key
    field: ConceptField = Field(description="Which provenance field of versions its concepts fill")
    titles: dict[LabelLanguage, LabelText] = Field(description="The scheme's title per language; English at least")
    uri: ConceptUri | None = Field(None, description="Its SKOS URI; kb makes one under its own base when absent")

    _check_titles = field_validator("titles")(_no_blank_keys)

    @field_validator("titles")
    @classmethod
    def _english(cls, value: dict[str, str]) -> dict[str, str]:
        if "en" not in value:
            raise ValueError("give at least an English title ('en')")
        return value


class ConceptLabels(Strict):
    """Labels of a concept: one preferred label per language (English at least) and alternative ones."""

    preferred: dict[LabelLanguage, LabelText]
    alternative: dict[LabelLanguage, Annotated[list[LabelText], Field(max_length=20)]] = {}

    _check_preferred = field_validator("preferred")(_no_blank_keys)
    _check_alternative = field_validator("alternative")(_no_blank_keys)

    @field_validator("preferred")
    @classmethod
    def _english(cls, value: dict[str, str]) -> dict[str, str]:
        if "en" not in value:
            raise ValueError("give at least an English preferred label ('en')")
        return value


class ConceptCreate(ConceptLabels):
    key: Key
    broader: Key | None = Field(None, description="The key of its broader concept in the same scheme")
    related: Annotated[list[Ref], Field(max_length=50)] = Field([], description="Related concepts, any scheme")
    uri: ConceptUri | None = None


class ConceptUpdate(Strict):
    """Change labels (replacing every label when given), the broader concept (``""`` for none) or related ones."""

    preferred: dict[LabelLanguage, LabelText] | None = None
    alternative: dict[LabelLanguage, Annotated[list[LabelText], Field(max_length=20)]] | None = None
    broader: Key | Annotated[str, StringConstraints(max_length=0)] | None = None
    related: Annotated[list[Ref], Field(max_length=50)] | None = None


class MergeRequest(Strict):
    into: Key = Field(description="The key of the concept, in the same scheme, that replaces this one")


class ConceptPublic(BaseModel):
    ref: str
    scheme: str
    key: str
    uri: str
    label: str = Field(description="The preferred label in the reader's language (English when it has none)")
    preferred: dict[str, str]
    alternative: dict[str, list[str]]
    broader: str | None = Field(description="Reference of its broader concept")
    narrower: list[str]
    related: list[str]
    status: ConceptStatus
    replaced_by: str | None = Field(description="After a merge: the concept every version naming this one is read as")
    used_by_versions: int | None = Field(description="How many document versions name it, drafts of any space included (a "
                                         "concept in use cannot be deleted); for those who maintain the taxonomy only, else null")


class SchemePublic(BaseModel):
    key: str
    uri: str
    field: ConceptField
    title: str
    titles: dict[str, str]
    concepts: list[ConceptPublic]


class SchemesPublic(BaseModel):
    data: list[SchemePublic]
    count: int


class ConceptRefPublic(BaseModel):
    """A concept as shown on a provenance card or a facet: its reference and its label in the reader's language."""

    ref: str
    label: str
    stated_as: str | None = Field(None, description="The concept the version itself names, when that concept has since "
                                  "been merged into this one: what its author and approver signed")


class SkosImported(BaseModel):
    schemes: list[str]
    concepts_created: int
    concepts_updated: int
