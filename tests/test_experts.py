"""Expert location: Model 2 scoring on a hand-made corpus, evidence, opt-out, routing, inbox, webhook."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from kb.actors import SpaceRole
from kb.app import create_app
from kb.experts.service import Item, model2
from kb.notifications.outbox import sign
from kb.notifications.worker import deliver_due
from tests.factories import make_cast, make_document, make_person


def test_model2_matches_hand_computation() -> None:
    items = [Item("a", "A", 1.0, [(1, "authored"), (2, "approved")]),
             Item("b", "B", 0.5, [(2, "authored"), (1, "owns")])]
    ranked = model2(items, {"authored": 1.0, "approved": 0.3, "owns": 0.3})
    assert [(person, round(score, 4)) for person, score, _ in ranked] == [(1, 1.15), (2, 0.8)]
    assert [e.kind for e in ranked[0][2]] == ["authored", "owns"]


@pytest.fixture
def experts(settings, database):  # noqa: ANN001, ANN201
    cast = make_cast(database)
    hydro = make_person(database, "hana", spaces={"benefits": SpaceRole.contributor})
    aero = make_person(database, "arno", spaces={"benefits": SpaceRole.contributor})
    for slug, body, author in [
        ("hydraulic-pumps", "# Hydraulic pumps\n\nServicing hydraulic pumps and pressure valves on landing gear.", hydro),
        ("hydraulic-leaks", "# Hydraulic leaks\n\nFinding hydraulic fluid leaks in brake lines.", hydro),
        ("wing-flutter", "# Wing flutter\n\nAeroelastic flutter of wings at high speed.", aero),
    ]:
        make_document(database, {**cast, "contributor": author}, slug=slug, state="approved", audience="internal", body=body)
    with TestClient(create_app(settings, database=database)) as client:
        yield client, {**cast, "hana": hydro, "arno": aero}


def test_the_right_expert_comes_first_with_evidence(experts) -> None:  # noqa: ANN001
    client, cast = experts
    hits = client.get("/api/v1/experts", params={"q": "hydraulic pump pressure"}, headers=cast["reader"].headers).json()["data"]
    assert hits[0]["username"] == "hana"
    kinds = {(e["kind"], e["item"]) for e in hits[0]["evidence"]}
    assert ("authored", "hydraulic-pumps") in kinds
    flutter = client.get("/api/v1/experts", params={"q": "wing flutter aeroelastic"}, headers=cast["reader"].headers).json()["data"]
    assert flutter[0]["username"] == "arno"


def test_opt_out_exclude_me_and_self_declared(experts) -> None:  # noqa: ANN001
    client, cast = experts
    client.patch("/api/v1/me/expertise", json={"opted_out": True}, headers=cast["hana"].headers)
    hits = client.get("/api/v1/experts", params={"q": "hydraulic pump"}, headers=cast["reader"].headers).json()["data"]
    assert "hana" not in {h["username"] for h in hits}
    client.patch("/api/v1/me/expertise", json={"opted_out": False}, headers=cast["hana"].headers)
    mine = client.get("/api/v1/experts", params={"q": "hydraulic pump", "exclude_me": True}, headers=cast["hana"].headers).json()["data"]
    assert "hana" not in {h["username"] for h in mine}
    client.patch("/api/v1/me/expertise", json={"declared_skills": ["parental leave"]}, headers=cast["reader"].headers)
    declared = client.get("/api/v1/experts", params={"q": "parental leave rules"}, headers=cast["owner"].headers).json()["data"]
    rita = next(h for h in declared if h["username"] == "rita")
    assert [e["kind"] for e in rita["evidence"]] == ["self_declared"] and rita["evidence"][0]["title"] == "self-declared"


def test_suggested_experts_on_a_question_and_ask(experts, settings, database) -> None:  # noqa: ANN001
    client, cast = experts
    qid = client.post("/api/v1/questions", json={"title": "Hydraulic pump keeps losing pressure", "body_md": "Why?"},
                      headers=cast["reader"].headers).json()["id"]
    suggested = client.get(f"/api/v1/questions/{qid}/experts", headers=cast["reader"].headers).json()["data"]
    assert suggested[0]["username"] == "hana"
    asked = client.post("/api/v1/experts/hana/ask", json={"question_id": qid, "message": "Could you look?"},
                        headers=cast["reader"].headers)
    assert asked.status_code == 201
    inbox = client.get("/api/v1/me/inbox", headers=cast["hana"].headers).json()
    assert inbox["count"] == 1 and inbox["data"][0]["from_user"] == "rita" and inbox["data"][0]["question_id"] == qid
    assert client.post("/api/v1/experts/rita/ask", json={}, headers=cast["reader"].headers).status_code == 409


def test_webhook_is_signed(settings, database) -> None:  # noqa: ANN001
    from tests.test_experts_actions import receiver

    cast = make_cast(database)
    with receiver(204) as (url, received):
        configured = settings.model_copy(update={"expert_webhook_url": url, "secret_key": "hook-secret"})
        with TestClient(create_app(configured, database=database)) as client:
            client.post("/api/v1/experts/olga/ask", json={"message": "Help"}, headers=cast["reader"].headers)
            deliver_due(database, configured)
    payload, signature = received[0]
    assert payload["expert"] == "olga" and payload["from"] == "rita"
    body = json.dumps(payload, sort_keys=True).encode("utf-8")
    assert signature == sign("hook-secret", body)


def test_expert_profile(experts) -> None:  # noqa: ANN001
    client, cast = experts
    profile = client.get("/api/v1/experts/people/hana", headers=cast["reader"].headers).json()
    assert sorted(profile["documents"]) == ["hydraulic-leaks", "hydraulic-pumps"]
    assert "hydraul" in " ".join(profile["expertise"]) and profile["opted_out"] is False
    assert client.get("/api/v1/experts/people/olga", headers=cast["reader"].headers).json()["spaces_owned"] == ["benefits"]
