from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from kb.config import DEV_SECRET_KEY, Environment, Settings, load_settings


def test_defaults_run_out_of_the_box(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("KB_"):
            monkeypatch.delenv(name)
    settings = load_settings()
    assert settings.data_dir == Path("kb-data")
    assert settings.resolved_database_url == "sqlite:///kb-data/kb.sqlite3"
    assert settings.four_eyes_default is True
    assert settings.keyword_engine.value == "tantivy"
    assert settings.public_cors_origins == []


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("KB_PUBLIC_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("KB_FOUR_EYES_DEFAULT", "false")
    monkeypatch.setenv("KB_MAX_REQUEST_BYTES", "1000")
    settings = load_settings()
    assert settings.resolved_database_url == "postgresql+psycopg://u@h/db"
    assert settings.public_cors_origins == ["https://a.example", "https://b.example"]
    assert settings.four_eyes_default is False
    assert settings.max_request_bytes == 1000


def test_placeholder_secret_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="KB_SECRET_KEY"):
        Settings(env=Environment.production)
    assert Settings(env=Environment.production, secret_key="s3cret-for-real").secret_key != DEV_SECRET_KEY


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_KEYWORD_ENGINE", "elasticsearch")
    with pytest.raises(ValidationError):
        load_settings()
