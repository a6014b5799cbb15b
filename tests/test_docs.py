"""The documentation is kept honest by tests (STYLE 13)."""

from __future__ import annotations

import re
from pathlib import Path

from kb.config import Settings
from kb.errors import ErrorCode
from tests.docs_gen import GENERATED, ROOT


def test_generated_docs_are_current() -> None:
    for relative, render in GENERATED.items():
        on_disk = (ROOT / relative).read_text(encoding="utf-8")
        assert on_disk == render(), f"{relative} is out of date: run `make docs`"


def test_every_route_is_in_permissions_table() -> None:
    from tests.docs_gen import permission_rows

    table = (ROOT / "docs/permissions.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \| `([a-z_]+)` \|", table, re.M))
    assert documented == set(permission_rows())
    assert len(documented) >= 18


def test_every_setting_is_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(KB_[A-Z_]+)` \|", readme, re.M))
    settings = {f"KB_{name.upper()}" for name in Settings.model_fields}
    assert settings == documented, f"undocumented: {settings - documented}; stale: {documented - settings}"


def test_every_setting_has_a_description() -> None:
    assert all(field.description for field in Settings.model_fields.values())


def test_every_error_code_is_documented() -> None:
    table = (ROOT / "docs/errors.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \|", table, re.M))
    assert documented == {(code.code, str(code.status)) for code in ErrorCode}


def test_readme_has_exactly_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Two commands", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make run", "make test"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^run: ", makefile, re.M) and re.search(r"^test: ", makefile, re.M)
    assert "make test" in (ROOT / ".ci/run").read_text(encoding="utf-8")


def test_torch_is_pinned_to_the_cpu_build() -> None:
    constraints = (Path(ROOT) / "constraints.txt").read_text(encoding="utf-8")
    assert re.search(r"^torch==2\.13\.0$", constraints, re.M)


def test_every_audit_action_is_documented() -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "kb").rglob("*.py"))
    recorded = set(re.findall(r'provenance\.record\(\s*session,[^"]*?"([a-z_.]+)"', source))
    table = (ROOT / "docs/audit.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_.]+)` \|", table, re.M))
    assert recorded and recorded == documented, f"undocumented: {recorded - documented}; stale: {documented - recorded}"
