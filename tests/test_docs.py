"""The documentation is kept honest by tests (STYLE 13)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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


def test_the_readme_table_says_what_each_setting_says() -> None:
    """The config table's description of each setting is its Field description (the README adds only backticks)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = {name: text.replace("`", "") for name, text in re.findall(r"^\| `(KB_[A-Z_]+)` \| [^|]+ \| (.*) \|$", readme, re.M)}
    differing = {f"KB_{name.upper()}": (table.get(f"KB_{name.upper()}"), field.description)
                 for name, field in Settings.model_fields.items() if table.get(f"KB_{name.upper()}") != field.description}
    assert not differing, differing


def test_the_placeholder_secret_is_refused_in_production_only() -> None:
    """What KB_ENV and KB_SECRET_KEY say: dev and test run with the placeholder, production refuses it."""
    from pydantic import ValidationError

    from kb.config import DEV_SECRET_KEY, Environment

    for env in (Environment.dev, Environment.test):
        assert Settings(env=env).secret_key == DEV_SECRET_KEY
    with pytest.raises(ValidationError, match="KB_SECRET_KEY"):
        Settings(env=Environment.production)


def _readme_code() -> list[str]:
    """The README's code: every line of its fenced blocks and every `inline span`."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", readme, re.M | re.S)
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", readme, flags=re.M | re.S)
    return [line for block in blocks for line in block.splitlines()] + re.findall(r"`([^`\n]+)`", prose)


def _commands_named_in_readme() -> tuple[set[str], set[str]]:
    """(commands the README names, words after `kb` that name no command), resolved against the CLI at run time."""
    from tests.docs_gen import cli_root

    root = cli_root()
    named, unknown = set(), set()
    for code in _readme_code():
        for match in re.finditer(r"(?<![\w./-])kb((?: [a-z][a-z0-9-]*)+)", code):
            node, name = root, "kb"
            for word in match.group(1).split():
                if not hasattr(node, "commands"):
                    break  # a command's argument, e.g. `kb approve SLUG`
                if word not in node.commands:
                    unknown.add(f"{name} {word}")
                    break
                node, name = node.commands[word], f"{name} {word}"
            else:
                if hasattr(node, "commands"):
                    unknown.add(f"{name} (a group: name one of its commands)")
                    continue
            if not hasattr(node, "commands"):
                named.add(name)
    return named, unknown


def test_every_cli_command_is_in_the_readme_and_every_named_one_exists() -> None:
    from tests.docs_gen import cli_commands

    named, unknown = _commands_named_in_readme()
    existing = {full for full, _command in cli_commands()}
    assert not unknown, f"the README names commands kb does not have: {sorted(unknown)}"
    assert existing <= named, f"commands missing from the README: {sorted(existing - named)}"
    assert {"kb serve", "kb audit verify", "kb index check"} <= named  # the parser found what it should


def test_every_environment_variable_in_the_readme_is_read_and_every_one_read_is_in_the_readme() -> None:
    """KB_* in the README: settings, environment variables of CLI options, or ones the test suite reads."""
    from tests.docs_gen import cli_envvars

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"\bKB_[A-Z0-9_]*[A-Z0-9]\b", readme))
    settings = {f"KB_{name.upper()}" for name in Settings.model_fields}
    cli = cli_envvars()
    tests_read = {name for path in (ROOT / "tests").rglob("*.py")
                  for name in re.findall(r"environ(?:\.get\(|\[)\"(KB_TEST_[A-Z0-9_]+)\"", path.read_text(encoding="utf-8"))}
    assert {"KB_HOST", "KB_AS"} <= cli and "KB_TEST_DATABASE_URL" in tests_read  # the sources were read
    assert not named - settings - cli - tests_read, f"named but read by nothing: {sorted(named - settings - cli - tests_read)}"
    assert not (settings | cli) - named, f"read but not in the README: {sorted((settings | cli) - named)}"


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
