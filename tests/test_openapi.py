"""The OpenAPI spec declares what the app does: error shape, security, access levels."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def spec() -> dict:
    from kb.app import create_app
    from kb.config import Settings

    return create_app(Settings(database_url="sqlite:///:memory:")).openapi()


def operations(spec: dict):  # noqa: ANN201
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_every_operation_declares_its_errors_with_the_one_shape(spec: dict) -> None:
    for path, method, operation in operations(spec):
        responses = operation["responses"]
        for status in ("400", "401", "404", "413", "422", "500"):
            assert status in responses, f"{method} {path} does not declare {status}"
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, f"{method} {path} {status}"


def test_every_operation_declares_access_and_security(spec: dict) -> None:
    assert spec["components"]["securitySchemes"]["ApiToken"]["scheme"] == "bearer"
    for path, method, operation in operations(spec):
        access = operation["x-kb-access"]
        if access == "anonymous":
            assert "security" not in operation, f"{method} {path} is anonymous but asks for a token"
        else:
            assert operation["security"] == [{"ApiToken": []}], f"{method} {path}"


def test_no_default_fastapi_validation_schema_remains(spec: dict) -> None:
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_each_app_states_each_access_note_once(spec: dict) -> None:
    """Issue 15: annotating shared router objects gave the third app three "Access:" notes."""
    from kb.app import create_app
    from kb.config import Settings

    for _ in range(2):
        later = create_app(Settings(database_url="sqlite:///:memory:")).openapi()
    for path, method, operation in operations(later):
        assert operation.get("description", "").count("Access:") == 1, f"{method} {path}: {operation.get('description')!r}"
    assert later["paths"] == spec["paths"]
