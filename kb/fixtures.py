"""Deterministic sample content: a fictional public benefits agency and its internal pages.

``sample_documents()`` reads ``kb/sample/documents`` as plain records; ``load_demo(database)``
creates one user per role and the spaces (through ``kb.accounts.actions``, as ``kb.actors.SYSTEM``),
and the sample documents (through the documents service, as their named authors and approvers).
Used by ``kb demo``, ``make run`` and the tests.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from kb.actors import SYSTEM, Channel, GlobalRole, SpaceRole
from kb.documents.ingest_docx import split_front_matter

SAMPLE_DIR = Path(__file__).parent / "sample" / "documents"
SAMPLE_TAXONOMY = Path(__file__).parent / "sample" / "taxonomy.ttl"
"""Life situations, topics and regions with labels in en, nl, de, fr and es (SKOS Turtle, issue 20)."""


@dataclass(frozen=True)
class SampleDocument:
    """One sample document as a plain record: its metadata and where its content lies."""

    path: Path
    slug: str
    space: str
    audience: str
    language: str
    author: str
    intended_use: str
    licence: str
    tags: tuple[str, ...]
    title: str | None = None
    translation_of: str | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    review_by: dt.date | None = None
    body: str | None = None  # Markdown body for .md files; None for binary files
    applies_to: tuple[str, ...] = ()
    topic: tuple[str, ...] = ()
    region: tuple[str, ...] = ()

    @property
    def is_docx(self) -> bool:
        return self.path.suffix == ".docx"


def _parse_meta(block: str) -> dict[str, str]:
    return split_front_matter(f"---\n{block}\n---\n")[0]


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _list(value: str | None) -> tuple[str, ...]:
    return tuple(t.strip() for t in (value or "").split(",") if t.strip())


def _record(path: Path, meta: dict[str, str], body: str | None) -> SampleDocument:
    return SampleDocument(
        path=path, slug=meta["slug"], space=meta["space"], audience=meta["audience"], language=meta["language"],
        author=meta["author"], intended_use=meta["intended_use"], licence=meta.get("licence", ""),
        tags=tuple(t.strip() for t in meta.get("tags", "").split(",") if t.strip()), title=meta.get("title"),
        translation_of=meta.get("translation_of") or None, valid_from=_date(meta.get("valid_from")),
        valid_until=_date(meta.get("valid_until")), review_by=_date(meta.get("review_by")), body=body,
        applies_to=_list(meta.get("applies_to")), topic=_list(meta.get("topic")), region=_list(meta.get("region")),
    )


def sample_documents() -> list[SampleDocument]:
    """Every sample document, originals before their translations, in a stable order."""
    records = []
    for path in sorted(SAMPLE_DIR.iterdir()):
        if path.suffix == ".md":
            meta, body = split_front_matter(path.read_text(encoding="utf-8"))
            records.append(_record(path, meta, body))
        elif path.suffix == ".docx":
            meta = _parse_meta(path.with_name(path.name + ".meta").read_text(encoding="utf-8"))
            records.append(_record(path, meta, None))
    return sorted(records, key=lambda r: (r.translation_of is not None, r.slug))


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    global_role: GlobalRole
    spaces: dict[str, SpaceRole] = field(default_factory=dict)

    @property
    def password(self) -> str:
        # Known on purpose: demo data only, refused by `kb demo` when KB_ENV=production.
        return f"{self.username}-demo-2026"


DEMO_SPACES: dict[str, tuple[str, str]] = {
    "benefits": ("Benefits", "Public information on benefit entitlements for citizens"),
    "engineering": ("Engineering", "Runbooks and technical procedures of the platform team"),
    "hr": ("Human resources", "Employment policies"),
    "safety": ("Health and safety", "Procedures that keep people in our buildings safe"),
}

DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("rita", "Rita Reader", GlobalRole.reader),
    DemoUser("carl", "Carl Contributor", GlobalRole.reader,
             {"benefits": SpaceRole.contributor, "engineering": SpaceRole.contributor, "safety": SpaceRole.contributor}),
    DemoUser("olga", "Olga Owner", GlobalRole.reader,
             {"benefits": SpaceRole.owner, "engineering": SpaceRole.owner, "hr": SpaceRole.owner, "safety": SpaceRole.owner}),
    DemoUser("otto", "Otto Owner", GlobalRole.reader,
             {"benefits": SpaceRole.owner, "engineering": SpaceRole.owner, "hr": SpaceRole.owner, "safety": SpaceRole.owner}),
    DemoUser("mona", "Mona Moderator", GlobalRole.moderator),
    DemoUser("adam", "Adam Admin", GlobalRole.admin),
)


def role_label(user: DemoUser) -> str:
    if user.global_role is not GlobalRole.reader:
        return user.global_role.value
    roles = set(user.spaces.values())
    return "owner" if SpaceRole.owner in roles else "contributor" if SpaceRole.contributor in roles else "reader"


@dataclass
class DemoReport:
    users_created: int = 0
    spaces_created: int = 0
    documents_loaded: int = 0
    documents_approved: int = 0
    concepts_created: int = 0
    credentials: list[tuple[str, str, str]] = field(default_factory=list)

    def render(self) -> str:
        lines = [
            f"Demo data: {self.users_created} users, {self.spaces_created} spaces, "
            f"{self.documents_loaded} documents imported, {self.documents_approved} approved, "
            f"{self.concepts_created} taxonomy concepts (new this run).",
            "",
            "Sign in with (role, username, password):",
        ]
        lines += [f"  {role:<12} {username:<6} {password}" for role, username, password in self.credentials]
        lines.append("")
        lines.append("Get an API token: curl -X POST localhost:8000/api/v1/auth/token "
                     "-H 'content-type: application/json' -d '{\"username\":\"rita\",\"password\":\"rita-demo-2026\"}'")
        return "\n".join(lines)


def load_demo(database) -> DemoReport:  # noqa: ANN001  (kb.db.Database; imported lazily)
    """Create demo users, spaces and sample documents. Idempotent: existing items are kept."""
    from kb.accounts import actions as accounts
    from kb.accounts.schemas import SpaceCreate, UserCreate

    report = DemoReport()
    with database.session() as session:
        for slug, (name, description) in DEMO_SPACES.items():
            if not _exists(lambda: accounts.read_space(session, SYSTEM, slug=slug)):
                accounts.create_space(session, SYSTEM, data=SpaceCreate(slug=slug, name=name, description=description),
                                      four_eyes_default=database.settings.four_eyes_default)
                report.spaces_created += 1
        for demo_user in DEMO_USERS:
            if not _exists(lambda: accounts.read_user(session, SYSTEM, username=demo_user.username)):
                accounts.create_user(session, SYSTEM, data=UserCreate(
                    username=demo_user.username, display_name=demo_user.display_name,
                    email=f"{demo_user.username}@northbridge.example", password=demo_user.password,
                    global_role=demo_user.global_role))
                report.users_created += 1
            for slug, role in demo_user.spaces.items():
                accounts.set_member(session, SYSTEM, slug=slug, username=demo_user.username, role=role)
            report.credentials.append((role_label(demo_user), demo_user.username, demo_user.password))
        _load_taxonomy(session, report)
        _load_documents(database, session, report)
    return report


def _load_taxonomy(session, report: "DemoReport") -> None:  # noqa: ANN001
    """The sample taxonomy, through the SKOS import every surface uses (as kb itself: ``SYSTEM``).
    Importing it again changes nothing and records nothing."""
    from kb.taxonomy import actions as taxonomy

    imported = taxonomy.import_skos(session, SYSTEM, text=SAMPLE_TAXONOMY.read_text(encoding="utf-8"), format="turtle")
    report.concepts_created += imported.concepts_created


def _exists(read) -> bool:  # noqa: ANN001
    """Whether ``read()`` finds its object (False on NOT_FOUND): what keeps ``load_demo`` idempotent."""
    from kb.errors import ErrorCode, KbError

    try:
        read()
    except KbError as error:
        if error.code is not ErrorCode.NOT_FOUND:
            raise
        return False
    return True


PENDING_EDIT = ("unemployment-benefit", "## Your obligations",
                "## Your obligations\n\nFrom 1 January 2027 you report your applications every two weeks.")


def _load_documents(database, session, report: DemoReport) -> None:  # noqa: ANN001
    """Import every sample document as its author and submit it, and approve it by another owner:
    through the documents' actions, as each person would on any surface (issue 15)."""
    from kb.accounts import actions as accounts
    from kb.documents import actions as documents
    from kb.documents.schemas import DraftSave

    def actor(username: str):  # noqa: ANN202
        return accounts.identify_by_username(session, username=username, channel=Channel.system)  # bootstrap

    for sample in sample_documents():
        author = actor(sample.author)
        fields = DraftSave(
            title=sample.title, audience=sample.audience, language=sample.language, tags=list(sample.tags),
            intended_use=sample.intended_use, licence=sample.licence, valid_from=sample.valid_from,
            valid_until=sample.valid_until, review_by=sample.review_by,
            applies_to=list(sample.applies_to) or None, topic=list(sample.topic) or None, region=list(sample.region) or None,
        )
        imported = documents.import_document(
            session, author, space=sample.space, filename=sample.path.name, data=sample.path.read_bytes(),
            files_dir=database.settings.files_dir, fields=fields, slug=sample.slug, translation_of=sample.translation_of,
            submit=True)
        if imported.outcome == "unchanged":
            continue
        report.documents_loaded += 1
        approver = actor("otto" if sample.author == "olga" else "olga")
        approved = documents.approve_version(session, approver, slug=sample.slug, number=imported.version,
                                             comment="Checked against the current rules.")
        report.documents_approved += 1
        if sample.slug == PENDING_EDIT[0]:
            # One edit waits in the owners' review queue, so the demo shows the workflow in motion.
            body = approved.body_md.replace(PENDING_EDIT[1], PENDING_EDIT[2])
            documents.save_draft(session, author, slug=sample.slug, data=DraftSave(body_md=body), submit=True)
