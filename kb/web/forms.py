"""What a refused form tells the person who filled it in: one message per field, in plain words.

Pydantic and FastAPI describe a refusal for programmers (``String should match pattern
'^[a-z0-9][a-z0-9-]{0,119}$'``); a form shows the person what to change, at the field that needs it
(issue 17). Pure functions over the errors' ``loc``/``type``/``ctx``; imports only ``kb.errors`` from kb and
nothing from the web framework.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from kb.errors import ErrorCode, KbError

# The patterns kb's schemas use, said the way a person can follow them.
PATTERNS = {
    "^[a-z0-9][a-z0-9-]{0,119}$": "Use lower-case letters, digits and hyphens, starting with a letter or digit",
    "^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$": "Use a language code such as en, nl or pt-BR",
    "^(internal|public)$": "Choose internal or public",
    "^(yes|no)$": "Choose yes or no",
}

WRAPPERS = ("body", "query", "path", "form")


def field_of(loc: Iterable[Any]) -> str:
    """The form field an error is about ('' when it is about the form as a whole)."""
    parts = [str(p) for p in loc if p not in WRAPPERS and not isinstance(p, int)]
    return parts[-1] if parts else ""


def plain(error: Mapping[str, Any]) -> str:
    """One pydantic error item in words a person can act on."""
    kind = str(error.get("type", ""))
    message = str(error.get("msg", ""))
    ctx = dict(error.get("ctx") or {}) or _context_in(message)
    if kind == "missing":
        return "Fill this in"
    if kind == "string_pattern_mismatch":
        return PATTERNS.get(str(ctx.get("pattern", "")), "This is not in the expected form")
    if kind == "string_too_long":
        return f"Shorten this to at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return "Fill this in" if ctx.get("min_length") == 1 else f"Write at least {ctx.get('min_length')} characters"
    if kind in ("int_parsing", "int_type", "float_parsing"):
        return "Enter a whole number" if kind.startswith("int") else "Enter a number"
    if kind in ("greater_than_equal", "greater_than"):
        return f"Enter {ctx.get('ge', ctx.get('gt'))} or more" if kind == "greater_than_equal" else f"Enter more than {ctx.get('gt')}"
    if kind in ("less_than_equal", "less_than"):
        return f"Enter {ctx.get('le', ctx.get('lt'))} or less" if kind == "less_than_equal" else f"Enter less than {ctx.get('lt')}"
    if kind == "enum" or kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "")
        return f"Choose one of: {expected}" if expected else "Choose one of the offered values"
    if kind.startswith("date") or kind.startswith("datetime"):
        return "Enter a date as YYYY-MM-DD"
    if kind in ("url_parsing", "url_scheme", "url_type"):
        return "Enter a web address starting with http:// or https://"
    if kind in ("too_long", "list_type", "too_short"):
        return "Give fewer items" if kind == "too_long" else "This list is not valid"
    if kind == "value_error":
        text = message.removeprefix("Value error, ").strip()
        return text[:1].upper() + text[1:] if text else "This is not valid"
    return message or "This is not valid"


def _context_in(message: str) -> dict[str, Any]:
    """The context pydantic put in its message, for errors whose ``ctx`` was dropped on the way (JSON details)."""
    if found := re.search(r"pattern '(.*)'$", message):
        return {"pattern": found.group(1)}
    if found := re.search(r"(at most|at least|greater than or equal to|less than or equal to) (\d+)", message):
        key = {"at most": "max_length", "at least": "min_length", "greater than or equal to": "ge",
               "less than or equal to": "le"}[found.group(1)]
        return {key: int(found.group(2))}
    return {}


def field_errors(errors: Iterable[Mapping[str, Any]], known: Iterable[str] = ()) -> dict[str, str]:
    """Plain messages keyed by field; an error about no known field goes under '' (the form as a whole).

    The first message per field wins: one thing to fix at a time reads better than a list.
    """
    fields = set(known)
    messages: dict[str, str] = {}
    for error in errors:
        field = field_of(error.get("loc", ()))
        if fields and field not in fields:
            field = ""
        messages.setdefault(field, plain(error))
    return messages


def summary(messages: Mapping[str, str], labels: Mapping[str, str] | None = None) -> str:
    """One sentence for the top of a form or an error page: each field's label and its message."""
    labels = labels or {}
    parts = []
    for field, message in messages.items():
        label = labels.get(field, field.replace("_", " ").capitalize()) if field else ""
        parts.append(f"{label}: {message}" if label else message)
    return "; ".join(parts)


def refusal(error: Exception, fields: tuple[str, ...]) -> tuple[int, str, dict[str, str]]:
    """A refused write or import as (status, message for the top of the form, plain message per field).

    Field messages come from the error's ``loc`` (pydantic, or a KbError's details) or, for the service's
    refusals that name one field, from the refusal itself (issue 17: the message at the field, in plain words).
    """
    if isinstance(error, ValidationError):
        errors = field_errors(error.errors(), fields)
        general = errors.pop("", None)  # a rule of the whole form (pydantic's model validators), at no field
        if general is not None and "valid_until must be after valid_from" in general.casefold() and "valid_until" in fields:
            errors["valid_until"], general = "Choose a date after the \u201cvalid from\u201d date", None
        marked = "Please check the fields marked below."
        return 422, (f"{general} {marked}" if errors else general) if general else marked, errors
    if not isinstance(error, KbError):
        return 422, str(error), {}
    errors = {}
    if isinstance(error.details, list) and error.details and isinstance(error.details[0], dict) and "loc" in error.details[0]:
        errors = field_errors(error.details, fields)
    elif error.code is ErrorCode.ALREADY_EXISTS and "slug" in fields:
        errors = {"slug": "This short name is taken by another document: choose another"}
    elif "intended_use" in error.message and "intended_use" in fields:
        errors = {"intended_use": "Say what this version may be used for: it is needed to submit for review"}
    elif "valid_until must be after valid_from" in error.message:
        errors = {"valid_until": "Choose a date after the \u201cvalid from\u201d date"}
    elif error.code in (ErrorCode.UNSUPPORTED_MEDIA_TYPE, ErrorCode.INVALID_FILE, ErrorCode.PAYLOAD_TOO_LARGE) and "file" in fields:
        errors = {"file": error.message}
    message = "Please check the fields marked below." if errors and list(errors) != [""] else error.message
    return error.code.status, message, {k: v for k, v in errors.items() if k}
