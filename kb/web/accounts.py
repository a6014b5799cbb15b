"""Web pages: sign in and out.

Signing in goes through the same action as the API's ``POST /api/v1/auth/token``
(``kb.accounts.actions.sign_in``: the same per-IP and per-account limits, the same hashing cap);
signing out through ``sign_out``. Imports actions, never an ``api`` module or a service.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from kb.accounts import actions
from kb.errors import ErrorCode, KbError
from kb.http import client_ip
from kb.web.common import page_router, Csrf, SessionDep, ViewerDep, back, checked, local_path, page, set_cookie
from kb.web.security import LOGIN_CSRF_COOKIE, SESSION_COOKIE, new_token, same

router = page_router()


# ------------------------------------------------------------------------------------ sign in

@router.get("/login")
def login_form(request: Request, who: ViewerDep, next: Annotated[str | None, Query(max_length=500)] = None) -> Response:  # noqa: A002
    token = new_token()
    response = page(request, "login.html", who, next=local_path(next), csrf=token, error=None)
    set_cookie(request, response, LOGIN_CSRF_COOKIE, token, 3600)
    return response


@router.post("/login")
def login(request: Request, session: SessionDep, who: ViewerDep,
          username: Annotated[str, Form(max_length=64)], password: Annotated[str, Form(max_length=200)],
          csrf: Csrf = None, next: Annotated[str | None, Form(max_length=500)] = None) -> Response:  # noqa: A002
    if not same(csrf, request.cookies.get(LOGIN_CSRF_COOKIE)):
        raise KbError(ErrorCode.FORBIDDEN, "This form has expired: reload the sign-in page and try again")
    state = request.app.state
    try:
        started = actions.sign_in(
            session, who.actor, username=username, password=password, client_ip=client_ip(request),
            limits=actions.SignInLimits(limiter=state.rate_limiter, gate=state.login_gate, settings=state.settings),
            wanted=actions.WebSessionWanted(max_age_seconds=state.settings.session_max_age_seconds))
    except KbError as error:
        if error.code is not ErrorCode.INVALID_CREDENTIALS:
            raise
        return page(request, "login.html", who, status_code=401, next=local_path(next), csrf=csrf, error=error.message)
    response = RedirectResponse(local_path(next), status_code=303)
    set_cookie(request, response, SESSION_COOKIE, started.cookie, started.max_age_seconds)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, who: ViewerDep, csrf: Csrf = None) -> Response:
    actor = checked(who, csrf)
    actions.sign_out(session, actor, web_session_id=who.web_session.web_session_id)  # type: ignore[union-attr]
    response = back("/login", "signed-out")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
