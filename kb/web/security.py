"""The web UI's guards: the session cookie, CSRF tokens, and the security headers of every page.

Cookies are ``HttpOnly`` and ``SameSite=Lax``, ``Secure`` when the request came over TLS. Every form
of a signed-in page carries the session's CSRF token; the sign-in form uses a double-submit cookie.
Pages get a Content-Security-Policy without inline scripts or styles: the UI works without
JavaScript, and nothing is loaded from another origin.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "kb_session"
LOGIN_CSRF_COOKIE = "kb_login_csrf"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
API_PREFIXES = ("/api/", "/public/v1/", "/docs", "/redoc", "/openapi.json")
PAGE_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


def same(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two tokens; a missing token never matches."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


def new_token() -> str:
    return secrets.token_urlsafe(24)


def is_tls(scope_scheme: str) -> bool:
    return scope_scheme == "https"


class PageSecurityHeaders:
    """Add the CSP and friends to every response outside the JSON API and its documentation."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(API_PREFIXES):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in PAGE_HEADERS if h[0] not in names)]
            await send(message)

        await self.app(scope, receive, send_with_headers)
