"""Schemathesis against the ASGI app, in-process, as every role (RELIABILITY T2 and T3).

Used by tests/test_api_fuzz.py (100 cases per operation in ``make test``, on SQLite and PostgreSQL)
and bench/fuzz_api.py (any size and seed, with more figures). For every operation of the OpenAPI
spec, hypothesis draws cases (valid and, with ``negative=True``, invalid ones) together with an
identity: reader, contributor, owner, a second owner, moderator, admin, the owner of another space,
or anonymous, each with its own API token. Every response goes through schemathesis's checks; failures are
collected per check and operation instead of stopping the run, so the bench can count them.

Random requests change state: an identity may revoke its own token, an admin may deactivate or
demote a colleague, an owner may remove someone from the space. After every successful change to
accounts the cast is restored (active, original role and membership, a working token), so that
every identity keeps being exercised.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

IDENTITIES = ["anonymous", "reader", "contributor", "owner", "owner2", "moderator", "admin", "outsider_owner"]
ACCOUNT_PATHS = ("/api/v1/users", "/api/v1/me/tokens", "/api/v1/spaces")


@dataclass
class FuzzFigures:
    operations_total: int = 0
    operations_tested: int = 0
    cases: int = 0
    per_operation: Counter = field(default_factory=Counter)
    per_identity: Counter = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    failures: dict[str, list[str]] = field(default_factory=dict)  # check -> "METHOD /path as who: message"
    seconds: float = 0.0
    seconds_per_operation: Counter = field(default_factory=Counter)  # generating and running its cases
    answers: list[tuple[str, str, int]] = field(default_factory=list)  # (operation, identity, status) of every case, in order

    @property
    def statuses(self) -> Counter:
        return Counter(status for _label, _who, status in self.answers)

    @property
    def failure_count(self) -> int:
        return sum(len(items) for items in self.failures.values())

    def summary(self) -> str:
        by_check = {name: len(items) for name, items in sorted(self.failures.items())}
        fewest = min(self.per_operation.values()) if self.per_operation else 0
        return (f"operations_tested={self.operations_tested}/{self.operations_total} cases={self.cases} "
                f"min_cases_per_operation={fewest} identities={len(self.per_identity)} "
                f"statuses={dict(sorted(self.statuses.items()))} 5xx={len(self.server_errors)} "
                f"failures={self.failure_count} by_check={by_check} seconds={self.seconds:.0f} "
                f"slowest={[(label, round(seconds, 1)) for label, seconds in self.seconds_per_operation.most_common(3)]}")


def build_world(database) -> dict[str, Any]:  # noqa: ANN001
    """The cast (one person per role, plus an owner of another space) and content for them to act on."""
    from kb.db import transaction
    from kb.social import service as social
    from kb.social.schemas import AnswerCreate, CommentCreate, QuestionCreate
    from tests.factories import make_cast, make_document

    cast = make_cast(database)
    make_document(database, cast, slug="child-benefit", state="approved",
                  body="# Child benefit\n\nChild benefit is paid every quarter for each child under 18.")
    make_document(database, cast, slug="failover-runbook", state="approved", audience="internal",
                  body="# Failover runbook\n\nPromote the standby database when the primary fails.")
    make_document(database, cast, slug="draft-policy", state="draft")
    make_document(database, cast, slug="review-policy", state="in_review")
    with database.session() as session:
        with transaction(session):
            social.comment(session, actor=cast["reader"].actor, slug="child-benefit",
                           data=CommentCreate(body_md="When is it paid?"))
        with transaction(session):
            asked = social.ask(session, actor=cast["reader"].actor,
                               data=QuestionCreate(title="How to claim for twins?", body_md="One form or two?", space="benefits"))
        with transaction(session):
            social.answer(session, actor=cast["contributor"].actor, question_id=asked.id,
                          data=AnswerCreate(body_md="One form for both children."))
    return cast


def restore_cast(database, cast: dict[str, Any]) -> None:  # noqa: ANN001
    """Undo what fuzzing did to the cast's accounts: active, original roles, a working token each."""
    from sqlalchemy import select

    from kb.accounts import service as accounts
    from kb.accounts.models import SpaceMembership, User
    from kb.actors import SYSTEM
    from kb.db import transaction

    with database.session() as session:
        for person in cast.values():
            actor = person.actor
            with transaction(session):
                user = session.execute(select(User).where(User.username == actor.username)).scalar_one()
                user.is_active, user.global_role = True, actor.global_role.value
                session.add(user)
                for membership in session.execute(select(SpaceMembership).where(SpaceMembership.user_id == user.id)).scalars():
                    if membership.space_id not in actor.space_roles:
                        session.delete(membership)
                for space_id, role in actor.space_roles.items():
                    membership = session.execute(select(SpaceMembership).where(
                        SpaceMembership.user_id == user.id, SpaceMembership.space_id == space_id)).scalar_one_or_none()
                    if membership is None:
                        session.add(SpaceMembership(space_id=space_id, user_id=user.id, role=role))
                    elif membership.role != role:
                        membership.role = role
                        session.add(membership)
            if accounts.resolve_token(session, person.token) is None:
                with transaction(session):
                    person.token = accounts.create_token(session, actor=SYSTEM, user=user, name="fuzz")[1]
            session.rollback()


def default_checks(negative: bool) -> list:
    from schemathesis import checks
    from schemathesis.specs.openapi import checks as openapi_checks

    chosen = [checks.not_a_server_error, openapi_checks.status_code_conformance,
              openapi_checks.content_type_conformance, openapi_checks.response_headers_conformance,
              openapi_checks.response_schema_conformance, openapi_checks.ignored_auth]
    if negative:
        chosen.append(openapi_checks.negative_data_rejection)
    return chosen


@dataclass
class Target:
    """One kb that every drawn case is sent to: its app, its database and the cast built in it (tokens of its own)."""

    name: str
    app: Any
    database: Any
    cast: dict[str, Any]


def fuzz(targets: list[Target], *, cases_per_operation: int, seed: int = 1, negative: bool = True,
         operations: list[str] | None = None) -> dict[str, FuzzFigures]:
    """Draw ``cases_per_operation`` cases (valid and, if ``negative``, invalid) for every operation; send each to every target.

    A case is drawn once and sent to each target in turn (say, kb on SQLite and kb on PostgreSQL), as
    the identity drawn with it: hypothesis's drawing is most of a run's time, and the backends get the
    very same requests. Each target's figures are its own.
    """
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, seed as hypothesis_seed, settings as hypothesis_settings
    from hypothesis.errors import Unsatisfiable
    from hypothesis import strategies as st
    from schemathesis.generation import GenerationMode

    if not targets or len({target.name for target in targets}) != len(targets):
        raise ValueError(f"targets need distinct names: {[target.name for target in targets]}")
    schema = schemathesis.openapi.from_asgi("/openapi.json", targets[0].app)
    # Credentials are ours to send, per identity: schemathesis must not generate (or drop) them.
    schema.config.generation.update(with_security_parameters=False)
    figures = {target.name: FuzzFigures() for target in targets}
    started = time.perf_counter()
    all_operations = sorted((result.ok() for result in schema.get_all_operations()), key=lambda op: op.label)
    for each in figures.values():
        each.operations_total = len(all_operations)
    modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if negative else [])
    for operation in all_operations:
        if operations is not None and operation.label not in operations:
            continue
        operation_started = time.perf_counter()
        for mode in modes:
            budget = cases_per_operation // len(modes) + (cases_per_operation % len(modes) if mode is modes[0] else 0)
            checks = default_checks(mode is GenerationMode.NEGATIVE)
            try:
                strategy = operation.as_strategy(generation_mode=mode)
            except Exception as exc:  # noqa: BLE001 - no invalid case exists for some operations
                for each in figures.values():
                    each.failures.setdefault("strategy", []).append(f"{operation.label} {mode.value}: {exc!r}"[:300])
                continue

            @hypothesis_settings(max_examples=budget, deadline=None, database=None, derandomize=False,
                                 suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
            @hypothesis_seed(seed)
            @given(case=strategy, who=st.sampled_from(IDENTITIES))
            def run(case, who: str) -> None:  # noqa: ANN001
                for target in targets:
                    _one(case, who, target, checks, figures[target.name])

            try:
                run()
            except Unsatisfiable:
                continue  # no invalid request exists for this operation (e.g. no parameters at all)
        seconds = time.perf_counter() - operation_started
        for each in figures.values():
            if each.per_operation[operation.label]:
                each.operations_tested += 1
            each.seconds_per_operation[operation.label] = seconds
    for each in figures.values():
        each.seconds = time.perf_counter() - started
    return figures


def _one(case, who: str, target: Target, checks: list, figures: FuzzFigures) -> None:  # noqa: ANN001
    from schemathesis.core.failures import FailureGroup

    headers = {} if who == "anonymous" else {"Authorization": f"Bearer {target.cast[who].token}"}
    label = case.operation.label
    figures.cases += 1
    figures.per_operation[label] += 1
    figures.per_identity[who] += 1
    try:
        response = case.call(headers=headers, app=target.app)
    except Exception as exc:  # noqa: BLE001 - the app raised: the client would have had a 500
        figures.answers.append((label, who, 500))
        figures.server_errors.append(f"{label} as {who}: unhandled {exc!r}"[:600])
        return
    figures.answers.append((label, who, response.status_code))
    if response.status_code >= 500:
        figures.server_errors.append(f"{label} as {who}: {response.status_code} {response.text[:200]}")
    try:
        case.validate_response(response, checks=checks, headers=headers, transport_kwargs={"app": target.app})
    except FailureGroup as group:
        for failure in group.exceptions:
            name = type(failure).__name__
            figures.failures.setdefault(name, []).append(f"{label} as {who}: {failure.title}: {failure.message}"[:600])
    method, path = case.method.upper(), case.operation.path
    if 200 <= response.status_code < 300 and method != "GET" and path.startswith(ACCOUNT_PATHS):
        restore_cast(target.database, target.cast)
