"""The taxonomy (issue 20): concepts with labels per language, merges that documents follow, deletes
refused while in use, and a SKOS round trip that is equal."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from kb.db import transaction
from kb.documents import service as documents
from kb.documents.models import Version
from kb.documents.schemas import DraftSave
from kb.errors import KbError
from kb.taxonomy import actions, service
from kb.taxonomy.schemas import ConceptCreate, ConceptUpdate, SchemeCreate
from tests.audit import audit_events, served_state_differences
from tests.factories import make_cast, make_document


def last(database):  # noqa: ANN001, ANN201
    return audit_events(database)[-1]


def situations(session, actor) -> None:  # noqa: ANN001
    actions.create_scheme(session, actor, data=SchemeCreate(key="situation", field="applies_to",
                                                           titles={"en": "Life situation", "nl": "Levenssituatie"}))
    actions.create_concept(session, actor, scheme="situation", data=ConceptCreate(
        key="education", preferred={"en": "In education", "nl": "In opleiding"}))
    actions.create_concept(session, actor, scheme="situation", data=ConceptCreate(
        key="student", broader="education", preferred={"en": "Student", "nl": "Student"}, alternative={"en": ["pupil"]}))
    actions.create_concept(session, actor, scheme="situation", data=ConceptCreate(
        key="tenant", preferred={"en": "Tenant", "nl": "Huurder"}, alternative={"en": ["renter"]}))
    actions.create_concept(session, actor, scheme="situation", data=ConceptCreate(
        key="lodger", preferred={"en": "Lodger", "nl": "Kamerhuurder"}, related=["situation:tenant"]))
    actions.create_scheme(session, actor, data=SchemeCreate(key="topic", field="topic", titles={"en": "Topic"}))
    actions.create_concept(session, actor, scheme="topic", data=ConceptCreate(key="housing", preferred={"en": "Housing", "nl": "Wonen"}))


@pytest.fixture
def people(database):  # noqa: ANN001, ANN201
    cast = make_cast(database)
    with database.session() as session:
        situations(session, cast["admin"].actor)
    return cast


def test_owners_and_admins_maintain_it_readers_do_not(database, people) -> None:  # noqa: ANN001
    with database.session() as session:
        for role in ("reader", "contributor", "moderator"):
            with pytest.raises(KbError) as refused:
                actions.create_concept(session, people[role].actor, scheme="topic",
                                       data=ConceptCreate(key="x", preferred={"en": "X"}))
            assert refused.value.code.status == 403
        made = actions.create_concept(session, people["outsider_owner"].actor, scheme="topic",
                                      data=ConceptCreate(key="income", preferred={"en": "Income"}))
        assert made.ref == "topic:income"
        assert last(database)["action"] == "concept.create"
        assert last(database)["actor"] == "oscar"


def test_labels_in_the_readers_language_and_the_hierarchy(database, people) -> None:  # noqa: ANN001
    with database.session() as session:
        vocab = service.vocabulary(session)
        tenant = vocab.by_ref("situation:tenant")
        assert vocab.label(tenant, "nl") == "Huurder"
        assert vocab.label(tenant, "nl-BE") == "Huurder"
        assert vocab.label(tenant, "fr") == "Tenant"  # English when the concept has no French label
        student, education = vocab.by_ref("situation:student"), vocab.by_ref("situation:education")
        assert vocab.carried([student]) == {student, education}
        assert vocab.covering(education) == {student, education}
        assert vocab.mentioned("help for a renter with two kids") == {tenant}
        scheme = actions.read_scheme(session, people["reader"].actor, scheme="situation", language="nl")
        assert scheme.title == "Levenssituatie"
        assert {c.ref: c.label for c in scheme.concepts}["situation:lodger"] == "Kamerhuurder"
        assert {c.ref: c.related for c in scheme.concepts}["situation:tenant"] == ["situation:lodger"]


def test_a_loop_in_the_hierarchy_is_refused(database, people) -> None:  # noqa: ANN001
    with database.session() as session:
        with pytest.raises(KbError) as refused:
            actions.update_concept(session, people["admin"].actor, scheme="situation", key="education",
                                   data=ConceptUpdate(broader="student"))
        assert refused.value.code.status == 422
        assert "loop" in refused.value.message


def _tag(database, people, slug: str, applies_to: list[str]) -> None:  # noqa: ANN001
    make_document(database, people, slug=slug, state="draft")
    with database.session() as session, transaction(session):
        documents.save_draft(session, actor=people["contributor"].actor, slug=slug,
                             data=DraftSave(applies_to=applies_to, topic=["topic:housing"]))


def test_a_concept_in_use_cannot_be_deleted_only_merged_and_documents_follow_the_merge(database, people) -> None:  # noqa: ANN001
    _tag(database, people, "rent-help", ["situation:lodger"])
    _tag(database, people, "tenancy-rights", ["situation:tenant", "situation:student"])
    admin = people["admin"].actor
    with database.session() as session:
        with pytest.raises(KbError) as refused:
            actions.delete_concept(session, admin, scheme="situation", key="lodger")
        assert refused.value.code.status == 409
        assert "merge" in refused.value.message
        merged = actions.merge_concept(session, admin, scheme="situation", key="lodger", into="tenant")
        assert "Kamerhuurder" in merged.alternative["nl"]  # the merged concept's labels still find it
        assert last(database)["action"] == "concept.merge"
        assert last(database)["payload"]["into"] == "situation:tenant"
    with database.session() as session:
        vocab = service.vocabulary(session)
        tenant = vocab.by_ref("situation:tenant")
        carried = {}
        for version in session.execute(select(Version)).scalars():
            carried[version.id] = vocab.carried(service.stored_ids(version.applies_to))
        # every document keeps its concepts: the lodger page is now read as a tenant page
        assert all(tenant in c for c in carried.values() if c)
        assert sorted(len(c) for c in carried.values() if c) == [1, 3]
        # and nothing signed changed: the versions still store the ids they were given
        lodger = vocab.by_ref("situation:lodger")
        stored = [service.stored_ids(v.applies_to) for v in session.execute(select(Version)).scalars() if v.applies_to]
        assert [lodger] in stored
        # the card says what the version itself names, and what it is read as since the merge
        from kb.documents import reading
        from kb.documents.service import get_document, latest_version

        document = get_document(session, "rent-help")
        card = reading.provenance_card(session, latest_version(session, document.id), document)
        assert [(c.ref, c.stated_as) for c in card.applies_to] == [("situation:tenant", "situation:lodger")]
        # an unused concept can be deleted
        actions.create_concept(session, admin, scheme="topic", data=ConceptCreate(key="unused", preferred={"en": "Unused"}))
        actions.delete_concept(session, admin, scheme="topic", key="unused")
        assert last(database)["action"] == "concept.delete"


def test_a_version_names_only_active_concepts_of_the_right_field(database, people) -> None:  # noqa: ANN001
    make_document(database, people, slug="wrong-field", state="draft")
    with database.session() as session:
        for refs, expected in ((["topic:housing"], "'topic:housing' fills the field topic, not applies_to"), (["situation:nobody"], "is no concept")):
            with pytest.raises(KbError) as refused, transaction(session):
                documents.save_draft(session, actor=people["contributor"].actor, slug="wrong-field", data=DraftSave(applies_to=refs))
            assert refused.value.code.status == 422
            assert expected in refused.value.message
        actions.deprecate_concept(session, people["admin"].actor, scheme="situation", key="student")
        with pytest.raises(KbError) as refused, transaction(session):
            documents.save_draft(session, actor=people["contributor"].actor, slug="wrong-field", data=DraftSave(applies_to=["situation:student"]))
        assert "deprecated" in refused.value.message


@pytest.mark.parametrize("fmt", ["turtle", "json-ld"])
def test_a_skos_round_trip_export_then_import_is_equal(database, people, tmp_path, fmt) -> None:  # noqa: ANN001
    from rdflib import Graph
    from rdflib.compare import isomorphic

    from kb.config import Environment, Settings
    from kb.db import Database
    from kb.migrations import upgrade
    from tests.factories import make_person
    from kb.actors import GlobalRole

    admin = people["admin"].actor
    _tag(database, people, "rent-help", ["situation:lodger"])
    with database.session() as session:
        actions.merge_concept(session, admin, scheme="situation", key="lodger", into="tenant")
        exported, media_type = actions.export_skos(session, people["reader"].actor, format=fmt)
    assert media_type.startswith("text/turtle" if fmt == "turtle" else "application/ld+json")
    other = Database(Settings(data_dir=tmp_path / "other", env=Environment.test))
    upgrade(other)
    try:
        importer = make_person(other, "ines", GlobalRole.admin)
        with other.session() as session:
            report = actions.import_skos(session, importer.actor, text=exported, format=fmt)
            assert report.schemes == ["situation", "topic"]
            assert report.concepts_created == 5
            again, _ = actions.export_skos(session, importer.actor, format=fmt)
            assert last(other)["actor"] == "ines"
        assert isomorphic(Graph().parse(data=exported, format=fmt), Graph().parse(data=again, format=fmt))
        with other.session() as session:
            # importing the same file again changes nothing and records nothing
            before = last(other)["seq"]
            report = actions.import_skos(session, importer.actor, text=exported, format=fmt)
            assert (report.concepts_created, report.concepts_updated) == (0, 5)
            assert last(other)["seq"] == before
    finally:
        other.dispose()


def test_a_public_vocabulary_without_kb_fields_is_loaded_by_naming_its_field(database, people) -> None:  # noqa: ANN001
    turtle = """
    @prefix skos: <http://www.w3.org/2004/02/skos/core#> .
    <http://example.org/regions> a skos:ConceptScheme ; skos:prefLabel "Regions"@en .
    <http://example.org/regions/north> a skos:Concept ; skos:inScheme <http://example.org/regions> ;
        skos:prefLabel "North"@en, "Noord"@nl ; skos:altLabel "Northern region"@en .
    <http://example.org/regions/north/coast> a skos:Concept ; skos:inScheme <http://example.org/regions> ;
        skos:prefLabel "Coast"@en ; skos:broader <http://example.org/regions/north> .
    """
    with database.session() as session:
        with pytest.raises(KbError) as refused:
            actions.import_skos(session, people["admin"].actor, text=turtle)
        assert "which field" in refused.value.message
        report = actions.import_skos(session, people["admin"].actor, text=turtle, fields={"regions": "region"})
        assert report.schemes == ["regions"] and report.concepts_created == 2
        coast = actions.read_concept(session, people["reader"].actor, scheme="regions", key="coast")
        assert coast.broader == "regions:north"
        with pytest.raises(KbError) as refused:
            actions.import_skos(session, people["admin"].actor, text="this is not turtle <<<")
        assert refused.value.code.status == 422


def test_the_sample_content_ships_a_scheme_in_five_languages_and_tags_its_pages(database) -> None:  # noqa: ANN001
    from kb.documents import reading
    from kb.documents.service import current_version, get_document
    from kb.fixtures import load_demo

    report = load_demo(database)
    assert report.concepts_created >= 20
    with database.session() as session:
        vocab = service.vocabulary(session)
        for ref in ("situation:student", "situation:tenant", "situation:parent", "situation:carer", "situation:unemployed",
                    "situation:retired", "situation:self-employed", "topic:housing", "region:national"):
            assert set(vocab.preferred(vocab.by_ref(ref))) >= {"en", "nl", "de", "fr", "es"}, ref
        document = get_document(session, "huurtoeslag")
        card = reading.provenance_card(session, current_version(session, document), document)
        assert [(c.ref, c.label) for c in card.applies_to] == [("situation:tenant", "Huurder")]
        assert [c.label for c in card.topic] == ["Wonen"]
    before = audit_events(database)[-1]["seq"]
    again = load_demo(database)
    assert again.concepts_created == 0
    assert audit_events(database)[-1]["seq"] == before  # loading it again changes and records nothing


def test_the_read_copy_follows_every_committed_change_and_never_a_rolled_back_one(database, people) -> None:  # noqa: ANN001
    """The vocabulary is read once per taxonomy change (kept with the newest taxonomy event's sequence
    number), never cached from a transaction that had not committed."""
    with database.session() as session:
        first = service.vocabulary(session)
    with database.session() as session:
        assert service.vocabulary(session) is first  # nothing changed: the same copy
        with pytest.raises(RuntimeError), transaction(session):
            service.create_concept(session, actor=people["admin"].actor, scheme_key="topic",
                                   data=ConceptCreate(key="phantom", preferred={"en": "Phantom"}))
            assert service.vocabulary(session).by_ref("topic:phantom") is not None  # its own change, uncommitted
            raise RuntimeError("rolled back")
    with database.session() as session:
        assert service.vocabulary(session).by_ref("topic:phantom") is None
        actions.update_concept(session, people["admin"].actor, scheme="situation", key="tenant",
                               data=ConceptUpdate(preferred={"en": "Renter", "nl": "Huurder"}))
    with database.session() as session:
        again = service.vocabulary(session)
        assert again is not first and again.label(again.by_ref("situation:tenant"), "en") == "Renter"


def test_merging_into_a_concept_below_it_makes_no_loop(database, people) -> None:  # noqa: ANN001
    """Found by review: s > x > t, merge s into t; x used to land under t, and the next broader change hung."""
    admin = people["admin"].actor
    with database.session() as session:
        for key, broader in (("s", None), ("x", "s"), ("t", "x"), ("y", None), ("z", "s")):
            actions.create_concept(session, admin, scheme="topic", data=ConceptCreate(key=key, broader=broader, preferred={"en": key}))
        actions.merge_concept(session, admin, scheme="topic", key="s", into="t")
        x = actions.read_concept(session, admin, scheme="topic", key="x")
        t = actions.read_concept(session, admin, scheme="topic", key="t")
        z = actions.read_concept(session, admin, scheme="topic", key="z")
        assert (x.broader, t.broader, z.broader) == (None, "topic:x", "topic:t")
        actions.update_concept(session, admin, scheme="topic", key="y", data=ConceptUpdate(broader="t"))
        with pytest.raises(KbError):
            actions.update_concept(session, admin, scheme="topic", key="x", data=ConceptUpdate(broader="y"))


SKOS_HEAD = """@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix kb: <urn:kb:ns#> .
"""


def test_an_import_cannot_make_replacements_loop_and_records_a_merge(database, people) -> None:  # noqa: ANN001
    """Found by review: a file said tenant is replaced by lodger and lodger by tenant: both were gone for good."""
    turtle = SKOS_HEAD + """
    <urn:kb:concept:situation:tenant> a skos:Concept ; skos:inScheme <urn:kb:scheme:situation> ; skos:prefLabel "Tenant"@en ;
        owl:deprecated true ; dct:isReplacedBy <urn:kb:concept:situation:lodger> .
    <urn:kb:concept:situation:lodger> a skos:Concept ; skos:inScheme <urn:kb:scheme:situation> ; skos:prefLabel "Lodger"@en ;
        owl:deprecated true ; dct:isReplacedBy <urn:kb:concept:situation:tenant> .
    <urn:kb:scheme:situation> a skos:ConceptScheme .
    """
    before = audit_events(database)[-1]["seq"]
    with database.session() as session:
        with pytest.raises(KbError) as refused:
            actions.import_skos(session, people["outsider_owner"].actor, text=turtle)
        assert refused.value.code.status == 422 and "lead back" in refused.value.message
    assert audit_events(database)[-1]["seq"] == before  # nothing of the file was kept
    one_way = turtle.replace("""owl:deprecated true ; dct:isReplacedBy <urn:kb:concept:situation:tenant> .""", ".")
    with database.session() as session:
        actions.import_skos(session, people["outsider_owner"].actor, text=one_way)
    merge = [e for e in audit_events(database, before) if e["action"] == "concept.merge"]
    assert [(e["object_id"], e["payload"]["into"]) for e in merge] == [("situation:tenant", "situation:lodger")]


def test_an_import_never_changes_a_concept_of_another_scheme(database, people) -> None:  # noqa: ANN001
    """Found by review: a known URI put in another scheme changed that scheme's concept of the same key."""
    with database.session() as session:
        actions.create_concept(session, people["admin"].actor, scheme="topic", data=ConceptCreate(key="tenant", preferred={"en": "Tenancy law"}))
        turtle = SKOS_HEAD + """
        <urn:kb:scheme:topic> a skos:ConceptScheme .
        <urn:kb:concept:situation:tenant> a skos:Concept ; skos:inScheme <urn:kb:scheme:topic> ; skos:prefLabel "OVERWRITTEN"@en .
        """
        with pytest.raises(KbError) as refused:
            actions.import_skos(session, people["admin"].actor, text=turtle)
        assert refused.value.code.status == 422
        assert actions.read_concept(session, people["admin"].actor, scheme="topic", key="tenant").preferred == {"en": "Tenancy law"}


@pytest.mark.parametrize("bad", [
    '<urn:x:c> a skos:Concept ; skos:inScheme <urn:kb:scheme:topic> ; skos:prefLabel "Long tag"@en-gb-oxendict .',
    '[] a skos:Concept ; skos:inScheme <urn:kb:scheme:topic> ; skos:prefLabel "Blank"@en .',
    '<urn:x:c> a skos:Concept ; skos:inScheme <urn:kb:scheme:topic> ; skos:prefLabel "A"@en ; skos:altLabel '
    + ", ".join(f'"alt {n}"@en' for n in range(25)) + " .",
])
def test_real_world_skos_that_does_not_fit_is_a_422_not_a_500(database, people, bad: str) -> None:  # noqa: ANN001
    with database.session() as session:
        with pytest.raises(KbError) as refused:
            actions.import_skos(session, people["admin"].actor, text=SKOS_HEAD + "<urn:kb:scheme:topic> a skos:ConceptScheme .\n" + bad)
        assert refused.value.code.status == 422


def test_control_characters_never_reach_a_label(database, people) -> None:  # noqa: ANN001
    turtle = SKOS_HEAD + '<urn:kb:scheme:topic> a skos:ConceptScheme .\n<urn:x:nul> a skos:Concept ; skos:inScheme <urn:kb:scheme:topic> ; skos:prefLabel "Nul\\u0000label"@en .'
    with database.session() as session:
        actions.import_skos(session, people["admin"].actor, text=turtle)
        assert actions.read_concept(session, people["admin"].actor, scheme="topic", key="nul").preferred == {"en": "Nullabel"}


def test_an_import_reads_the_whole_taxonomy_a_bounded_number_of_times(database, people, monkeypatch) -> None:  # noqa: ANN001
    """Found by review: every concept of an import re-read the whole taxonomy (quadratic: 1,500 concepts took 11 minutes)."""
    reads = []
    real = service._read
    monkeypatch.setattr(service, "_read", lambda session: reads.append(1) or real(session))
    concepts = "\n".join(f'<urn:x:c{n}> a skos:Concept ; skos:inScheme <urn:kb:scheme:topic> ; skos:prefLabel "C {n}"@en ; '
                         f'skos:broader <urn:x:c{n // 10}> .' if n >= 10 else
                         f'<urn:x:c{n}> a skos:Concept ; skos:inScheme <urn:kb:scheme:topic> ; skos:prefLabel "C {n}"@en .'
                         for n in range(200))
    with database.session() as session:
        actions.import_skos(session, people["admin"].actor, text=SKOS_HEAD + "<urn:kb:scheme:topic> a skos:ConceptScheme .\n" + concepts)
        reads.clear()
        actions.import_skos(session, people["admin"].actor, text=SKOS_HEAD + "<urn:kb:scheme:topic> a skos:ConceptScheme .\n"
                            + concepts.replace('"C 5"', '"C five"'))
    assert len(reads) <= 2, len(reads)


def test_a_deleted_concepts_id_is_never_given_to_another(database, people) -> None:  # noqa: ANN001
    """Found by review: on SQLite a new concept took a deleted one's id, and with it its anonymous counts."""
    admin = people["admin"].actor
    with database.session() as session:
        gone = actions.create_concept(session, admin, scheme="topic", data=ConceptCreate(key="gone", preferred={"en": "Gone"}))
        gone_id = service.vocabulary(session).by_ref(gone.ref)
        actions.delete_concept(session, admin, scheme="topic", key="gone")
        actions.create_concept(session, admin, scheme="topic", data=ConceptCreate(key="new", preferred={"en": "New"}))
        assert service.vocabulary(session).by_ref("topic:new") > gone_id


# ------------------------------------------------------------- what the log commits to (accountability)

def _concept_id(database, ref: str) -> int:  # noqa: ANN001
    with database.session() as session:
        return service.vocabulary(session).by_ref(ref)


def test_every_taxonomy_change_commits_to_the_rows_it_leaves(database, people) -> None:  # noqa: ANN001
    """After each change through kb, the rows are exactly what the log's newest commitments say: the
    concept changed and every other it touched (related ones, narrower ones moved by a merge)."""
    admin = people["admin"].actor
    assert served_state_differences(database) == []
    _tag(database, people, "rent-help", ["situation:lodger", "situation:student"])
    steps = [
        lambda s: actions.update_concept(s, admin, scheme="situation", key="tenant",
                                         data=ConceptUpdate(alternative={"en": ["renter", "leaseholder"]}, related=["situation:student"])),
        lambda s: actions.create_concept(s, admin, scheme="situation", data=ConceptCreate(
            key="boarder", broader="tenant", preferred={"en": "Boarder"}, related=["situation:lodger"])),
        lambda s: actions.merge_concept(s, admin, scheme="situation", key="tenant", into="lodger"),  # boarder moves, relations move
        lambda s: actions.deprecate_concept(s, admin, scheme="situation", key="student"),
        lambda s: actions.create_concept(s, admin, scheme="topic", data=ConceptCreate(key="gone", preferred={"en": "Gone"},
                                                                                      related=["topic:housing"])),
        lambda s: actions.delete_concept(s, admin, scheme="topic", key="gone"),
    ]
    for step in steps:
        with database.session() as session:
            step(session)
        assert served_state_differences(database) == [], step
    event = last(database)
    assert event["action"] == "concept.delete"
    committed = {c["id"]: c for c in event["payload"]["concept_state"]}
    assert committed[_concept_id(database, "topic:housing")]["related"] == []  # the survivor of the relation
    assert [c for c in committed.values() if c.get("deleted")], committed


TAXONOMY_TAMPERING = [
    ("point a merged concept's replacement elsewhere",
     "UPDATE concept SET replaced_by_id = (SELECT id FROM concept WHERE key = 'student') WHERE key = 'lodger'",
     "situation:lodger", "replaced_by"),
    ("rewrite a label that cards show", "UPDATE concept_label SET text = 'Landlord' WHERE text = 'Tenant'",
     "situation:tenant", "labels"),
    ("detach a concept from its broader one", "UPDATE concept SET broader_id = NULL WHERE key = 'student'",
     "situation:student", "broader"),
    ("move a scheme's concepts to another version field", "UPDATE concept_scheme SET field = 'topic' WHERE key = 'situation'",
     "concept scheme situation", "field"),
    ("remove a related link", "DELETE FROM concept_related", "situation:student", "related"),
    ("forget that a version names a concept (so it can be deleted)", "DELETE FROM concept_use", "concept uses", "missing"),
    ("insert a concept", "INSERT INTO concept (scheme_id, key, uri, status, created_at) SELECT scheme_id, 'planted', "
     "'urn:x:planted', 'active', created_at FROM concept WHERE key = 'tenant'", "situation:planted", "never recorded in the log"),
]


@pytest.mark.parametrize(("sql", "subject", "named"), [row[1:] for row in TAXONOMY_TAMPERING],
                         ids=[row[0] for row in TAXONOMY_TAMPERING])
def test_a_direct_edit_of_the_taxonomy_is_named(database, people, sql: str, subject: str, named: str) -> None:  # noqa: ANN001
    """An operator with the database edits how signed cards read their concepts: ``kb audit verify`` names it."""
    _tag(database, people, "rent-help", ["situation:lodger"])
    with database.session() as session:
        actions.merge_concept(session, people["admin"].actor, scheme="situation", key="lodger", into="tenant")
        actions.update_concept(session, people["admin"].actor, scheme="situation", key="tenant",
                               data=ConceptUpdate(related=["situation:student"]))
    assert served_state_differences(database) == []
    with database.engine.begin() as connection:
        connection.execute(text(sql))
    found = served_state_differences(database)
    assert any(subject in line and named in line for line in found), found


def as_written_before_0023(database) -> None:  # noqa: ANN001
    """The log as kb wrote it before taxonomy events carried commitments: their payloads without them
    (the append-only trigger opened as the database's owner could)."""
    sqlite = database.engine.dialect.name == "sqlite"
    with database.engine.begin() as connection:
        connection.execute(text("DROP TRIGGER IF EXISTS audit_event_no_update") if sqlite
                           else text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
        for seq, payload in connection.execute(text("SELECT seq, payload FROM audit_event WHERE object_type IN "
                                                     "('concept', 'concept_scheme')")).all():
            data = json.loads(payload)
            data.pop("concept_state", None), data.pop("scheme_state", None)
            connection.execute(text("UPDATE audit_event SET payload = :p WHERE seq = :s"), {"p": json.dumps(data), "s": seq})
        if not sqlite:
            connection.execute(text("ALTER TABLE audit_event ENABLE TRIGGER USER"))


def test_an_upgrade_commits_to_the_taxonomy_earlier_events_made_and_to_nothing_planted(database, people) -> None:  # noqa: ANN001
    """A log written before taxonomy events carried commitments gets a baseline when it crosses 0023:
    only for rows its events named; a row no event named stays a difference, and upgrading again
    commits to nothing (rewinding the schema revision launders nothing)."""
    from kb import migrations

    with database.session() as session:  # the log as kb wrote it before 0023: the events without their commitments
        assert service.record_baseline(session) == 0
    as_written_before_0023(database)
    with database.engine.begin() as connection:
        connection.execute(text("INSERT INTO concept (scheme_id, key, uri, status, created_at) SELECT scheme_id, 'planted', "
                                "'urn:x:planted', 'active', created_at FROM concept WHERE key = 'tenant'"))
    assert len(served_state_differences(database)) == 8  # 2 schemes and 5 concepts without a commitment, 1 planted
    migrations.taxonomy_baseline(database)
    assert [line for line in served_state_differences(database)] == [
        f"concept situation:planted (id {_concept_id(database, 'situation:planted')}): in the database but never "
        "recorded in the log (inserted outside kb)"]
    assert audit_events(database)[-1]["action"] == "audit.baseline"
    known = len(audit_events(database))
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE concept_label SET text = 'Landlord' WHERE text = 'Tenant'"))
    migrations.taxonomy_baseline(database)  # as a rewound revision would run it again
    assert len(audit_events(database)) == known
    assert any("situation:tenant" in line and "labels" in line for line in served_state_differences(database))


# --------------------------------------- found by an insider review of the commitments and the merge rule

_TTL = """@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix dct: <http://purl.org/dc/terms/> .
<urn:kb:scheme:situation> a skos:ConceptScheme .
"""


def _reads_as(database, ref: str) -> str:  # noqa: ANN001
    with database.session() as session:
        vocab = service.vocabulary(session)
        return vocab.ref(vocab.effective(vocab.by_ref(ref)))


def _lodger_merged_into_interim_by_two(database, people):  # noqa: ANN001, ANN202
    """An approved page names lodger; oscar asks to merge lodger into a new 'interim', olga (benefits) approves."""
    from kb.accounts import actions as accounts
    from kb.accounts.schemas import GovernanceRequestPublic

    make_document(database, people, slug="rent-help", state="approved", applies_to=["situation:lodger"])
    oscar = people["outsider_owner"].actor
    with database.session() as session:
        actions.create_concept(session, oscar, scheme="situation", data=ConceptCreate(key="interim", preferred={"en": "Interim"}))
        asked = actions.merge_concept(session, oscar, scheme="situation", key="lodger", into="interim")
        assert isinstance(asked, GovernanceRequestPublic)
    with database.session() as session:
        accounts.approve_governance_request(session, people["owner"].actor, request_id=asked.id)
    assert _reads_as(database, "situation:lodger") == "situation:interim"
    return oscar


def test_a_chain_of_merges_still_needs_a_second_person(database, people) -> None:  # noqa: ANN001
    from kb.accounts.schemas import GovernanceRequestPublic

    oscar = _lodger_merged_into_interim_by_two(database, people)
    with database.session() as session:
        again = actions.merge_concept(session, oscar, scheme="situation", key="interim", into="student")
    assert isinstance(again, GovernanceRequestPublic)
    assert _reads_as(database, "situation:lodger") == "situation:interim"


@pytest.mark.parametrize("statement", [
    '<urn:kb:concept:situation:interim> a skos:Concept ; skos:inScheme <urn:kb:scheme:situation> ; skos:prefLabel "Interim"@en ; '
    'dct:isReplacedBy <urn:kb:concept:situation:student> .\n<urn:kb:concept:situation:student> a skos:Concept ; '
    'skos:inScheme <urn:kb:scheme:situation> ; skos:prefLabel "Student"@en .',  # on along the chain
    '<urn:kb:concept:situation:lodger> a skos:Concept ; skos:inScheme <urn:kb:scheme:situation> ; skos:prefLabel "Lodger"@en ; '
    'owl:deprecated true .',  # the two-person merge undone
], ids=["chain", "undo"])
def test_an_import_cannot_change_what_approved_pages_read_as(database, people, statement: str) -> None:  # noqa: ANN001
    oscar = _lodger_merged_into_interim_by_two(database, people)
    with database.session() as session, pytest.raises(KbError) as refused:
        actions.import_skos(session, oscar, text=_TTL + statement)
    assert refused.value.code.status == 409 and refused.value.details["rule"] == "separation_of_duties"
    assert _reads_as(database, "situation:lodger") == "situation:interim"


def test_emptying_concept_use_for_a_moment_does_not_skip_the_rule(database, people) -> None:  # noqa: ANN001
    """The rule reads the versions' committed fields, not the derived ``concept_use`` rows."""
    from kb.accounts.schemas import GovernanceRequestPublic

    make_document(database, people, slug="rent-help", state="approved", applies_to=["situation:lodger"])
    with database.engine.begin() as connection:
        connection.execute(text("DELETE FROM concept_use"))
    with database.session() as session:
        asked = actions.merge_concept(session, people["outsider_owner"].actor, scheme="situation", key="lodger", into="tenant")
    assert isinstance(asked, GovernanceRequestPublic)


def test_a_rewound_revision_commits_to_nothing_planted_after_a_delete(database, people) -> None:  # noqa: ANN001
    from kb import migrations

    admin = people["admin"].actor
    with database.session() as session:
        actions.create_concept(session, admin, scheme="topic", data=ConceptCreate(key="gone", preferred={"en": "Gone"}))
    as_written_before_0023(database)
    migrations.taxonomy_baseline(database)
    assert served_state_differences(database) == []
    with database.session() as session:
        actions.delete_concept(session, admin, scheme="topic", key="gone")
    with database.engine.begin() as connection:
        connection.execute(text("INSERT INTO concept (scheme_id, key, uri, status, created_at) SELECT scheme_id, 'gone', "
                                "'urn:x:planted', 'active', created_at FROM concept WHERE key = 'housing'"))
        connection.execute(text("UPDATE alembic_version SET version_num = '0022'"))
    migrations.upgrade(database)
    assert any("topic:gone" in line and "never recorded" in line for line in served_state_differences(database))


def test_malformed_taxonomy_rows_are_named_never_a_crash(client, database, people) -> None:  # noqa: ANN001
    make_document(database, people, slug="rent-help", state="draft")
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE concept_scheme SET titles = 'x' WHERE key = 'topic'"))
        connection.execute(text("UPDATE document_version SET applies_to = '[[1]]'"))
        connection.execute(text("UPDATE concept_label SET text = 'Landlord' WHERE text = 'Tenant'"))
    found = served_state_differences(database)
    assert any("concept scheme topic" in line and "titles" in line for line in found), found
    assert any("rent-help v1: provenance_sha256" in line for line in found), found
    assert any("situation:tenant" in line and "labels" in line for line in found), found
    answer = client.get("/api/v1/audit/verify", headers=people["admin"].headers)
    assert answer.status_code == 200 and answer.json()["differences"], answer.text
