"""The public-leak check of RELIABILITY T1 and T14, at any scale.

Used by tests/test_public_leak.py (CI size, the real embedding model) and bench/public_leak.py
(≥ 2,000 documents × ≥ 1,000 queries on SQLite and PostgreSQL). A seeded generator builds documents
in every state, both audiences and past/current/future validity windows, through the services; every
item that must not reach a citizen carries a unique canary token (document titles and bodies,
comments on internal documents, hidden and deleted comments on public ones, questions and answers),
and so do the people who write them (usernames, display names, e-mails). Then every public
endpoint is asked: queries (canaries, public tokens, random words, query-syntax attacks, 10k-char
and odd-Unicode strings, bad paging), every document slug, every community block, "what applies to
me" (issue 20: the API and the web page, every situation alone and together, with questions, in several
languages; documents carry situations and topics, and a topic used only by documents a citizen must not
see is a canary), the OpenAPI spec; then documents are flipped to internal or retired *in the database
only* (a stale index) and everything is asked again. Every violation is collected, not asserted, so the
bench can count them.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import text

from kb.actors import SYSTEM, SpaceRole
from kb.errors import KbError

STATES = ["draft", "in_review", "approved", "superseded", "retired", "rejected"]
WINDOWS = {"past": ("2020-01-01", "2021-01-01"), "current": ("2020-01-01", None), "future": ("2099-01-01", None)}
VOCABULARY = ("benefit child housing allowance unemployment rent payment claim form quarter parents tenant income "
              "pension disability carer student grant winter fuel deadline appeal").split()
ATTACKS = [
    "benefit OR audience:internal", "audience:internal", "audience:public OR audience:internal", "state:draft OR x",
    "state:draft OR benefit", "state:in_review", "state:retired OR state:superseded", "*", "**", "?", "id:42", "id:1",
    "doc_id:1", "document_id:[0 TO 99999]", "version_id:*", "zqleak*", "zqleak?", "title:zqleak0001x",
    "body:zqleak0001x", "tags:internal", "benefit^100", "(zqleak) OR (zqpub)", '"zqleak0002x"~5', "zqleak0003x~2",
    "\\", "((((", "))))", "[", "{", "\"", "'", "‮zqleak", "NOT benefit", "benefit AND NOT x", "-benefit",
    "+benefit -child", "{!lucene}benefit", "benefit%00", "<script>zqleak</script>", "${jndi:ldap://x}", "' OR 1=1 --",
    "benefit; DROP TABLE document;", "audience:internal AND state:approved", "valid_until:[* TO *]", "_id:1",
    "space_id:1 OR benefit", "language:nl OR benefit", "/.*/", "/zq.*/", "benefit~", "benefit AND (claim OR form",
]
ODD = ["x" * 500, "é" * 499, "🙂" * 200, "中文 查询 benefit", "\u200b\u200bbenefit", "a\u0000b", "x" * 10_000,
       "benefit " * 1_300, "\ufeffbenefit", "ｂｅｎｅｆｉｔ", "BENEFİT", "ß" * 50, "\u202eclaim", "\U0001f600 claim",
       "\ud7ff benefit", "claim\r\nX-Injected: 1", "%F0%9F%98%80", "..%2f..%2fetc%2fpasswd"]
BAD_PAGING = [{"page": 0}, {"page": -1}, {"page": 10**9}, {"page_size": 0}, {"page_size": -1}, {"page_size": 10**9},
              {"page": "x"}, {"q": ""}, {"q": "   "}, {"lang": "../../etc"}, {"lang": "x" * 50}]
PEOPLE = {"author": "zqcanaryauthor", "owner": "zqcanaryowner", "commenter": "zqcanarycommenter"}
SITUATIONS = ["student", "tenant", "parent", "carer", "retired"]
TOPICS = ["housing", "money", "family"]
HIDDEN_TOPIC = "zqleaktopic"
"""A topic only documents a citizen must not see carry: its label must never reach a public response."""


@dataclass
class Corpus:
    allowed: set[str]  # slugs a citizen may see (approved, public, currently valid)
    slugs: list[str]
    canaries: list[str]  # tokens that must never reach a public response
    public_tokens: dict[str, str]  # token -> slug of the visible document that carries it
    people: list[str]  # usernames, display names and e-mails of the canary people
    states: Counter = field(default_factory=Counter)


@dataclass
class Figures:
    documents: int = 0
    visible: int = 0
    canaries: int = 0
    people: int = 0
    queries: int = 0
    stale_queries: int = 0
    flipped: int = 0
    requests: int = 0
    results: int = 0
    statuses: Counter = field(default_factory=Counter)
    non_public_results: list[tuple[str, str]] = field(default_factory=list)
    canary_hits: list[tuple[str, str]] = field(default_factory=list)
    wrong_document_status: list[tuple[str, int]] = field(default_factory=list)
    bad_input_accepted: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    facet_leaks: list[tuple[str, str]] = field(default_factory=list)
    facet_values: int = 0

    @property
    def clean(self) -> bool:
        return not (self.non_public_results or self.canary_hits or self.wrong_document_status
                    or self.bad_input_accepted or self.server_errors or self.facet_leaks)

    def summary(self) -> str:
        return (f"documents={self.documents} visible={self.visible} canaries={self.canaries} people_canaries={self.people} "
                f"queries={self.queries} stale_queries={self.stale_queries} flipped={self.flipped} "
                f"public_requests={self.requests} results_returned={self.results} statuses={dict(sorted(self.statuses.items()))} "
                f"non_public_results={len(self.non_public_results)} canary_hits={len(self.canary_hits)} "
                f"wrong_document_status={len(self.wrong_document_status)} bad_input_accepted={len(self.bad_input_accepted)} "
                f"server_errors={len(self.server_errors)} facet_values_seen={self.facet_values} "
                f"facet_leaks={len(self.facet_leaks)}")


def build_corpus(database, documents: int, seed: int = 20261123,  # noqa: ANN001
                 progress: Callable[[int], None] | None = None) -> Corpus:
    """Create the people, ``documents`` documents and the community items, all through the services."""
    from kb.accounts import service as accounts
    from kb.accounts.schemas import SpaceUpdate
    from kb.db import transaction
    from tests.factories import make_cast, make_document, make_person

    rng = random.Random(seed)
    cast = make_cast(database)
    cast["contributor"] = make_person(database, PEOPLE["author"], spaces={"benefits": SpaceRole.contributor})
    cast["owner"] = make_person(database, PEOPLE["owner"], spaces={"benefits": SpaceRole.owner})
    commenter = make_person(database, PEOPLE["commenter"])
    people = [name for username in PEOPLE.values() for name in (username, username.title(), f"{username}@example.test")]
    with database.session() as session, transaction(session):
        # community content of this space may be shown to citizens: the strictest case for the check
        accounts.update_space(session, actor=SYSTEM, slug="benefits", data=SpaceUpdate(public_community=True))
    _taxonomy(database, cast["admin"].actor)
    concepts = random.Random(seed + 1)  # apart from rng: the documents' states stay as they were before issue 20
    corpus = Corpus(allowed=set(), slugs=[], canaries=[], public_tokens={}, people=people)
    corpus.canaries.append(HIDDEN_TOPIC)
    for i in range(documents):
        state = rng.choices(STATES, weights=[1, 1, 3, 1, 1, 1])[0]
        audience, window = rng.choice(["public", "internal"]), rng.choices(list(WINDOWS), weights=[1, 2, 1])[0]
        slug = f"doc-{i:05d}"
        visible = state in ("approved", "superseded") and audience == "public" and window == "current"
        token = f"zqpub{i:05d}x" if visible and state == "approved" else f"zqleak{i:05d}x"
        words = " ".join(rng.sample(VOCABULARY, 4))
        # a superseded document's title lives on in its approved version 2: only its v1 body is secret
        title = words.title() if state == "superseded" else f"{words.title()} {token}"
        topics = [f"topic:{t}" for t in concepts.sample(TOPICS, concepts.randint(0, 2))]
        if not visible and concepts.random() < 0.5:
            topics.append(f"topic:{HIDDEN_TOPIC}")
        make_document(database, cast, slug=slug, state=state, audience=audience, title=title,
                      body=f"# {words.title()} {token}\n\nAbout {words}. Reference {token}.",
                      valid_from=WINDOWS[window][0], valid_until=WINDOWS[window][1],
                      applies_to=[f"situation:{k}" for k in concepts.sample(SITUATIONS, concepts.randint(1, 2))], topic=topics)
        corpus.slugs.append(slug)
        corpus.states[state] += 1
        if visible:
            corpus.allowed.add(slug)
        if token.startswith("zqleak"):
            corpus.canaries.append(token)
        else:
            corpus.public_tokens[token] = slug
        if progress is not None:
            progress(i + 1)
    _community(database, corpus, cast, commenter, rng)
    _concepts(database, corpus)
    return corpus


def _taxonomy(database, admin) -> None:  # noqa: ANN001
    """Situations and topics for "what applies to me", the hidden topic among them."""
    from kb.taxonomy import actions as taxonomy
    from kb.taxonomy.schemas import ConceptCreate, SchemeCreate

    with database.session() as session:
        taxonomy.create_scheme(session, admin, data=SchemeCreate(key="situation", field="applies_to", titles={"en": "Situation"}))
        for key in SITUATIONS:
            taxonomy.create_concept(session, admin, scheme="situation",
                                    data=ConceptCreate(key=key, preferred={"en": key.title(), "nl": f"{key.title()} (nl)"}))
        taxonomy.create_scheme(session, admin, data=SchemeCreate(key="topic", field="topic", titles={"en": "Topic"}))
        for key in [*TOPICS, HIDDEN_TOPIC]:
            taxonomy.create_concept(session, admin, scheme="topic", data=ConceptCreate(key=key, preferred={"en": key.title()}))
FACET_SCHEME = "subject"


def _concepts(database, corpus: Corpus) -> None:  # noqa: ANN001
    """Issue 20: each document carries a concept of its own (``subject:d<i>``, on every version) and one shared
    by all (``subject:all``). A facet value or a count that names a document's own concept reveals that
    document: the check allows it only for the documents a citizen may see."""
    from kb.db import transaction
    from kb.taxonomy import service as taxonomy
    from kb.taxonomy.schemas import ConceptCreate, SchemeCreate

    with database.session() as session, transaction(session):
        taxonomy.create_scheme(session, actor=SYSTEM, data=SchemeCreate(key=FACET_SCHEME, field="topic", titles={"en": "Subject"}))
        shared = taxonomy.create_concept(session, actor=SYSTEM, scheme_key=FACET_SCHEME,
                                         data=ConceptCreate(key="all", preferred={"en": "Everything"}))
        for i, slug in enumerate(corpus.slugs):
            own = taxonomy.create_concept(session, actor=SYSTEM, scheme_key=FACET_SCHEME,
                                          data=ConceptCreate(key=f"d{i}", preferred={"en": f"Subject {i}"}))
            # added to the topics a version carries already ("what applies to me" groups by them)
            for version_id, stored in session.execute(text(
                    "SELECT id, topic FROM document_version WHERE document_id = (SELECT id FROM document WHERE slug = :s)"),
                    {"s": slug}).all():
                ids = sorted(set(json.loads(stored or "[]")) | {shared.id, own.id})
                session.execute(text("UPDATE document_version SET topic = :ids WHERE id = :v"), {"ids": json.dumps(ids), "v": version_id})


def _own_concept(ref: str, slugs: list[str]) -> str | None:
    """The slug of the document whose own concept ``ref`` is (None: a shared or another concept)."""
    scheme, _, key = ref.partition(":")
    if scheme != FACET_SCHEME or not key.startswith("d") or not key[1:].isdigit():
        return None
    return slugs[int(key[1:])] if int(key[1:]) < len(slugs) else None


def _community(database, corpus: Corpus, cast, commenter, rng: random.Random) -> None:  # noqa: ANN001
    """Comments, hidden and deleted comments, questions and answers, each non-public one with a canary."""
    from kb.db import transaction
    from kb.social import moderation
    from kb.social import service as social
    from kb.social.schemas import AnswerCreate, CommentCreate, ModerationDecision, QuestionCreate
    from kb import documents

    moderator = cast["moderator"].actor
    with database.session() as session:
        commentable = []
        for slug in corpus.slugs:
            try:
                documents.document_for_social(session, actor=commenter.actor, slug=slug)
                commentable.append(slug)
            except KbError:  # not approved: no comments possible
                continue
        session.rollback()
        for n, slug in enumerate(commentable[: max(10, len(corpus.slugs) // 10)]):
            public = slug in corpus.allowed
            kind = rng.choice(["visible", "hidden", "deleted"]) if public else "internal"
            token = f"zqcomment{n:05d}x"
            body = f"Comment {n} on {slug}: ask the office." if kind == "visible" else f"Comment {n} {token} on {slug}."
            with transaction(session):
                item = social.comment(session, actor=commenter.actor, slug=slug, data=CommentCreate(body_md=body))
            if kind == "hidden":
                with transaction(session):
                    moderation.moderate(session, actor=moderator, kind="comment", target_id=str(item.id),
                                    decision=ModerationDecision(action="hide", reason="test"))
            elif kind == "deleted":
                with transaction(session):
                    social.delete_comment(session, actor=commenter.actor, comment_id=item.id)
            if kind != "visible":
                corpus.canaries.append(token)
        for n in range(max(5, len(corpus.slugs) // 50)):
            question, answer = f"zqquestion{n:05d}x", f"zqanswer{n:05d}x"
            with transaction(session):
                asked = social.ask(session, actor=commenter.actor, data=QuestionCreate(
                    title=f"How to claim {question}?", body_md=f"Benefit claim {question} question {n}"))
            with transaction(session):
                social.answer(session, actor=cast["reader"].actor, question_id=asked.id,
                              data=AnswerCreate(body_md=f"Use the claim form {answer}, answer {n}."))
            corpus.canaries += [question, answer]


# Other languages reach the multilingual index and the Dutch, German, French and Spanish analysers.
FOREIGN = ["hoeveel kinderbijslag krijg ik", "huurtoeslag aanvragen zqleak0003x", "wie viel Kindergeld bekomme ich",
           "Zuschuss zur Miete", "aide pour payer mon loyer", "ayuda para el alquiler", "pensión de jubilación",
           "пособие на ребенка", "子供手当", "إعانة الأطفال", "çocuk yardımı"]
LANGUAGE_PARAMS = [{}, {"lang": "nl"}, {"lang": "de"}, {"lang": "en"}, {"lang": "sv"}]


def queries_for(corpus: Corpus, count: int, seed: int = 7) -> list[str]:
    """Canaries, public tokens, internal titles' words, attacks, odd strings, then random words up to ``count``."""
    rng = random.Random(seed)
    queries = list(corpus.canaries) + list(corpus.public_tokens) + list(corpus.people) + ATTACKS + ODD + FOREIGN
    queries += [f"{rng.choice(VOCABULARY)} {canary}" for canary in rng.sample(corpus.canaries, min(50, len(corpus.canaries)))]
    while len(queries) < count:
        queries.append(" ".join(rng.sample(VOCABULARY, rng.randint(1, 5))))
    return queries


class Checker:
    """Sends public requests and records every violation in ``figures``."""

    def __init__(self, client, figures: Figures, forbidden: list[str], slugs: list[str] = ()) -> None:  # noqa: ANN001
        self.client, self.figures = client, figures
        self.forbidden = sorted({f.casefold() for f in forbidden})
        self.slugs = list(slugs)

    def get(self, url: str, allowed: set[str], params: dict | None = None, extra: list[str] = ()):  # noqa: ANN201
        response = self.client.get(url, params=params)
        figures = self.figures
        figures.requests += 1
        figures.statuses[response.status_code] += 1
        label = f"{url} {params or ''}"[:200]
        if response.status_code >= 500:
            figures.server_errors.append(label)
        try:
            payload = response.json()
        except ValueError:
            payload = response.text
        if isinstance(payload, dict):
            payload.pop("query", None)  # the echo of what the citizen typed is not a leak
        seen = (json.dumps(payload, ensure_ascii=False) + json.dumps(dict(response.headers))).casefold()
        for canary in self.forbidden + [e.casefold() for e in extra]:
            if canary in seen:
                figures.canary_hits.append((canary, label))
        if response.status_code == 200 and isinstance(payload, dict) and isinstance(payload.get("data"), list):
            for hit in payload["data"]:
                figures.results += 1
                if hit.get("document") not in allowed:
                    figures.non_public_results.append((str(hit.get("document")), label))
            self._facets(payload, allowed, label)
        if response.status_code == 200 and isinstance(payload, dict) and isinstance(payload.get("groups"), list):
            shown = {page["document"] for group in payload["groups"] for page in group["pages"]}
            linked = {link["document"] for group in payload["groups"] for page in group["pages"]
                      for link in page["translation_links"] + ([page["original"]] if page["original"] else [])}
            figures.results += len(shown)
            figures.non_public_results += [(slug, label) for slug in sorted((shown | linked) - allowed)]
            if payload.get("total") != len(shown):  # a count that is not the pages shown could count hidden ones
                figures.non_public_results.append((f"total {payload.get('total')} for {len(shown)} pages", label))
        if response.status_code == 200 and isinstance(payload, str):  # a web page: every page it links to
            for slug in set(re.findall(r'href="/public(?:/v1/documents|/d)/([^"?/]+)', payload)):
                figures.results += 1
                if slug not in allowed:
                    figures.non_public_results.append((slug, label))
        return response

    def _facets(self, payload: dict, allowed: set[str], label: str) -> None:
        """No facet value names a document's own concept unless a citizen may see that document, and the
        shared concept never counts more documents than were found."""
        for facet in payload.get("facets") or []:
            for value in facet.get("values", []):
                self.figures.facet_values += 1
                owner = _own_concept(value.get("concept", ""), self.slugs)
                if owner is not None and owner not in allowed and (value.get("count") or not value.get("selected")):
                    self.figures.facet_leaks.append((value["concept"], label))
                if value.get("count", 0) > payload.get("total", 0):
                    self.figures.facet_leaks.append((f"{value.get('concept')} counts {value.get('count')} of "
                                                     f"{payload.get('total')}", label))


def run_leak_check(client, database, corpus: Corpus, queries: list[str]) -> Figures:  # noqa: ANN001
    """Ask every public endpoint everything, flip documents in the database only, ask again."""
    figures = Figures(documents=len(corpus.slugs), visible=len(corpus.allowed), canaries=len(corpus.canaries),
                      people=len(corpus.people), queries=len(queries))
    checker = Checker(client, figures, corpus.canaries + corpus.people, corpus.slugs)
    _ask_everything(checker, corpus.slugs, corpus.allowed, queries)
    spec = client.get("/openapi.json").text.casefold()
    figures.canary_hits += [(c, "/openapi.json") for c in checker.forbidden if c in spec]

    # stale index: flip half the visible documents to internal or retired in the database only
    flipped = sorted(corpus.allowed)[::2]
    figures.flipped = len(flipped)
    with database.engine.begin() as connection:
        for n, slug in enumerate(flipped):
            if n % 2:
                connection.execute(text("UPDATE document_version SET audience = 'internal' WHERE id = "
                                        "(SELECT current_version_id FROM document WHERE slug = :s)"), {"s": slug})
            else:
                connection.execute(text("UPDATE document_version SET state = 'retired' WHERE id = "
                                        "(SELECT current_version_id FROM document WHERE slug = :s)"), {"s": slug})
                connection.execute(text("UPDATE document SET current_version_id = NULL WHERE slug = :s"), {"s": slug})
    if not client.app.state.search.keyword.chunk_ids():
        raise AssertionError("Bug in the check: the index is empty, so the stale round proves nothing")
    still_allowed = corpus.allowed - set(flipped)
    stale_tokens = [token for token, slug in corpus.public_tokens.items() if slug in flipped]
    figures.stale_queries = len(queries) + len(stale_tokens)
    stale = Checker(client, figures, corpus.canaries + corpus.people + stale_tokens, corpus.slugs)
    # every flipped and every still visible document, and a sample of the rest (asked in round one)
    sample = random.Random(11).sample(corpus.slugs, min(100, len(corpus.slugs)))
    _ask_everything(stale, sorted(set(flipped) | corpus.allowed | set(sample)), still_allowed, queries + stale_tokens)
    return figures


EXPLORE_BAD = [[("s", "nobody")], [("s", "topic:housing")], [("s", "x" * 300)],
               [("s", s) for s in SITUATIONS * 5], [("s", "tenant"), ("q", "x" * 10_000)], [("s", "tenant"), ("lang", "../../etc")]]


def _explore(checker: Checker, allowed: set[str], queries: list[str]) -> None:
    """What applies to me: every situation alone and all together, in several languages, with questions (the
    canaries, attacks and odd strings among them), as JSON and as the web page; bad input must be refused."""
    picks = [[s] for s in SITUATIONS] + [SITUATIONS, ["situation:tenant", "student"]]
    for n, situations in enumerate(picks):
        for language in LANGUAGE_PARAMS[:3]:
            params = [("s", s) for s in situations] + list(language.items())
            checker.get("/public/v1/explore", allowed, params)
            checker.get("/public/explore", allowed, [*params, ("lang", "nl")] if not language else params)
        for q in queries[n::max(1, len(queries) // 20)][:20]:
            checker.get("/public/v1/explore", allowed, [("s", s) for s in situations] + [("q", q)])
    checker.get("/public/v1/explore", allowed)
    checker.get("/public/explore", allowed)
    for params in EXPLORE_BAD:
        for url in ("/public/v1/explore", "/public/explore"):
            if checker.get(url, allowed, params).status_code == 200:
                checker.figures.bad_input_accepted.append(f"{url} {params}"[:200])


def _ask_everything(checker: Checker, slugs: list[str], allowed: set[str], queries: list[str]) -> None:
    for n, q in enumerate(queries):
        checker.get("/public/v1/search", allowed, {"q": q, **LANGUAGE_PARAMS[n % len(LANGUAGE_PARAMS)]})
    for params in BAD_PAGING:
        response = checker.get("/public/v1/search", allowed, {"q": "benefit", **params})
        if response.status_code == 200:
            checker.figures.bad_input_accepted.append(str(params))
    for q in ("benefit", "claim form"):
        for lang in ("nl", "en", "de"):
            checker.get("/public/v1/search", allowed, {"q": q, "lang": lang})
    _explore(checker, allowed, queries)
    # facets selected: every document's own concept, and the shared one (issue 20)
    for n, slug in enumerate(slugs[:200]):
        i = checker.slugs.index(slug) if slug in checker.slugs else n
        checker.get("/public/v1/search", allowed, {"q": VOCABULARY[n % len(VOCABULARY)], "concept": f"{FACET_SCHEME}:d{i}"})
        checker.get("/public", allowed, {"q": VOCABULARY[n % len(VOCABULARY)], "concept": f"{FACET_SCHEME}:d{i}"})
    for q in VOCABULARY:
        checker.get("/public/v1/search", allowed, {"q": q, "concept": f"{FACET_SCHEME}:all", "page_size": 50})
    for slug in slugs + ["..", "doc-99999", "DOC-00001", "doc-00001%00", "doc-00001/../doc-00002"]:
        response = checker.get(f"/public/v1/documents/{slug}", allowed)
        expected = 200 if slug in allowed else 404
        if response.status_code != expected:
            checker.figures.wrong_document_status.append((slug, response.status_code))
        receipt = checker.get(f"/public/v1/documents/{slug}/receipt", allowed)
        if receipt.status_code != expected:  # the receipt is the document's: the same 404, no oracle (issue 16)
            checker.figures.wrong_document_status.append((f"{slug}/receipt", receipt.status_code))
        community = checker.get(f"/public/v1/documents/{slug}/community", allowed)
        if slug not in allowed and community.status_code != 404:
            checker.figures.wrong_document_status.append((f"{slug}/community", community.status_code))
