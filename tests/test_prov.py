"""PROV export (RELIABILITY T8): every export round-trips in four formats and passes our checks,
and the checks themselves fail on documents that break the rules."""

from __future__ import annotations

import datetime as dt

import pytest

from kb import provenance
from kb.actors import SYSTEM
from kb.fixtures import load_demo, sample_documents

FORMATS = ["json", "provn", "xml", "ttl"]


@pytest.fixture
def demo(database):  # noqa: ANN001, ANN201
    load_demo(database)
    return database


def test_every_demo_export_round_trips_and_passes(demo, client) -> None:  # noqa: ANN001
    from kb.accounts import service as accounts
    from kb.db import transaction

    with demo.session() as session, transaction(session):
        user = accounts.get_user(session, "rita")
        _token, raw = accounts.create_token(session, actor=SYSTEM, user=user, name="t")
    headers = {"Authorization": f"Bearer {raw}"}
    slugs = [s.slug for s in sample_documents()]
    invalid = 0
    for slug in slugs:
        texts = {}
        for fmt in FORMATS:
            response = client.get(f"/api/v1/documents/{slug}/provenance", params={"format": fmt}, headers=headers)
            assert response.status_code == 200, (slug, fmt, response.text)
            texts[fmt] = response.text
        reference = provenance.deserialize_prov(texts["json"], "json")
        invalid += bool(provenance.check_prov(reference))
        for fmt in FORMATS[1:]:
            assert provenance.deserialize_prov(texts[fmt], fmt) == reference, (slug, fmt)
    assert invalid == 0 and len(slugs) == 14


def test_export_states_what_we_promise(demo) -> None:  # noqa: ANN001
    from kb.documents import actions

    with demo.session() as session:
        text, media_type = actions.export_provenance(session, SYSTEM, slug="unemployment-benefit", format="provn")
    assert media_type == provenance.PROV_FORMATS["provn"]
    # prov writes wasRevisionOf as a derivation typed prov:Revision
    assert ("wasDerivedFrom(kb:version/unemployment-benefit/2, kb:version/unemployment-benefit/1, -, -, -, "
            "[prov:type='prov:Revision'])") in text
    assert 'prov:role="kb:approver"' in text and 'prov:role="kb:author"' in text
    assert "kb:sourceSha256=" in text and "kb:intendedUse=" in text and 'prov:type="prov:Organization"' in text


T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _version(number: int, **changes) -> provenance.VersionRecord:  # noqa: ANN003
    base = dict(
        number=number, state="approved", title="T", body_sha256="a" * 64,
        author=provenance.PersonRecord("carl", "Carl"), contributors=(), approver=provenance.PersonRecord("olga", "Olga"),
        created_at=T0, completed_at=T0 + dt.timedelta(hours=1), approved_at=T0 + dt.timedelta(hours=2),
        source_kind="authored", source_uri=None, source_sha256=None, source_filename=None, intended_use="Use",
        audience="public", licence="CC-BY-4.0", language="en", valid_from=None, review_by=None,
        derived_from_numbers=(number - 1,) if number > 1 else (),
    )
    base.update(changes)
    return provenance.VersionRecord(**base)


def _check(*versions: provenance.VersionRecord) -> list[str]:
    return provenance.check_prov(provenance.build_prov(provenance.DocumentRecord("d", "s", "S", versions)))


def test_checker_accepts_a_good_history() -> None:
    assert _check(_version(1), _version(2)) == []


@pytest.mark.parametrize(("bad", "expected"), [
    (_version(1, completed_at=T0 - dt.timedelta(hours=1)), "ends before it starts"),
    (_version(1, approver=provenance.PersonRecord("carl", "Carl")), "approved by its own author"),
    (_version(1, intended_use=""), "no kb:intendedUse"),
    (_version(1, source_kind="imported_file"), "names no source SHA-256"),
    (_version(1, derived_from_numbers=(1,)), "revision of itself"),
])
def test_checker_rejects_broken_rules(bad: provenance.VersionRecord, expected: str) -> None:
    problems = _check(bad)
    assert any(expected in p for p in problems), problems


def test_a_draft_may_not_state_its_intended_use_yet() -> None:
    """Found by schemathesis (bench/fuzz_bola.py): the export of such a draft was a 500."""
    assert _check(_version(1, state="draft", intended_use=None, approver=None, approved_at=None)) == []
    assert any("no kb:intendedUse" in p for p in _check(_version(1, state="in_review", intended_use=None, approver=None)))


def test_export_of_a_draft_without_intended_use(database, client) -> None:  # noqa: ANN001
    from tests.factories import make_cast

    cast = make_cast(database)
    body = {"slug": "unsure", "title": "Unsure", "body_md": "# Unsure\n\nNot yet.", "audience": "internal"}
    assert client.post("/api/v1/spaces/benefits/documents", json=body, headers=cast["contributor"].headers).status_code == 201
    for fmt in FORMATS:
        response = client.get("/api/v1/documents/unsure/provenance", params={"format": fmt}, headers=cast["contributor"].headers)
        assert response.status_code == 200, (fmt, response.text)
    submit = client.post("/api/v1/documents/unsure/versions/1/submit", json={}, headers=cast["contributor"].headers)
    assert submit.status_code == 422, submit.text  # stating the intended use is required by submission


def test_checker_rejects_revision_against_numbering_and_cycles() -> None:
    problems = _check(_version(1, derived_from_numbers=(2,)), _version(2))
    assert any("higher or equal version number" in p for p in problems) and any("cycle" in p for p in problems)


def test_checker_rejects_two_authors_and_use_before_generation() -> None:
    from prov.model import PROV_TYPE

    doc = provenance.build_prov(provenance.DocumentRecord("d", "s", "S", (_version(1),)))
    doc.wasAttributedTo("kb:version/d/1", "kb:person/olga")
    doc.used("kb:approval/d/1", "kb:version/d/1", T0)  # before its generation at T0 + 1h
    doc.entity("kb:version/x/1", {PROV_TYPE: "kb:Version", "kb:intendedUse": "u", "kb:audience": "public"})
    problems = provenance.check_prov(doc)
    assert any("2 authors" in p for p in problems)
    assert any("used before it is generated" in p for p in problems)
    assert any("kb:version/x/1 is attributed to 0 authors" in p for p in problems)
