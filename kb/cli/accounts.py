"""``kb`` commands: users, spaces and their members, API tokens, and the governance requests.

Each command authenticates the person it acts as (``kb.cli.common.authenticated``: an API token, or
``--as`` and a password) and calls one action of ``kb.accounts.actions`` as them, under the same
rules as the API (issue 16): ``kb user add`` needs an admin, and a change that hands out the power to
approve (an admin or moderator account, an owner) or lowers a safeguard becomes a pending request
that a second entitled person decides with ``kb governance approve`` (or through the API or the web).
Only the bootstrap acts as ``kb.actors.SYSTEM``: ``kb init --admin`` and ``kb demo``. Imports
actions, never a service or an ``api`` module; opens no transaction (the action owns it).
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from kb.cli.common import (
    MAX_ID, AsUser, KbErrors, TokenFile, authenticated, choice, cli_token, fail, governance_app, open_database, space_app, token_app,
    user_app, waiting,
)


def _invalid(exc) -> typer.Exit:  # noqa: ANN001 - pydantic.ValidationError, imported lazily
    return fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))


# ----------------------------------------------------------------------------------------- users

@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Login name: lowercase letters, digits, . _ -")],
    display_name: Annotated[Optional[str], typer.Option("--name", help="Display name")] = None,
    email: Annotated[Optional[str], typer.Option(help="E-mail address")] = None,
    role: Annotated[str, typer.Option(help="Global role: reader, moderator or admin (not reader: a request a second admin approves)")] = "reader",
    password: Annotated[Optional[str], typer.Option(help="The new user's password (min. 10 characters); read from KB_NEW_PASSWORD if set", envvar="KB_NEW_PASSWORD")] = None,
    as_user: AsUser = None,
    token_file: TokenFile = None,
) -> None:
    """Create a user, as an admin. An admin or moderator is created as a reader, and the role waits for a second admin."""
    from pydantic import ValidationError

    from kb.accounts import actions
    from kb.accounts.schemas import GovernanceRequestPublic, UserCreate

    try:
        data = UserCreate(username=username, display_name=display_name or username, email=email,
                          password=password, global_role=role)
    except ValidationError as exc:
        raise _invalid(exc) from None
    database = open_database()
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        created = actions.create_user(session, actor, data=data)
    if isinstance(created, GovernanceRequestPublic):
        typer.echo(f"Created user {username} (reader)")
        typer.echo(waiting(created))
    else:
        typer.echo(f"Created user {created.username} ({created.global_role.value})")


# ---------------------------------------------------------------------------------------- spaces

@space_app.command("add")
def space_add(
    slug: Annotated[str, typer.Argument(help="Short name used in URLs")],
    name: Annotated[Optional[str], typer.Option(help="Display name")] = None,
    description: Annotated[str, typer.Option(help="What the space is about")] = "",
    owner: Annotated[Optional[list[str]], typer.Option(help="Username to make an owner (repeatable; each a request a second admin approves)")] = None,
    four_eyes: Annotated[Optional[bool], typer.Option("--four-eyes/--no-four-eyes", help="Require approval by someone other than the author (default: KB_FOUR_EYES_DEFAULT; off: a request)")] = None,
    as_user: AsUser = None,
    token_file: TokenFile = None,
) -> None:
    """Create a space, as an admin; its owners (and four eyes off) wait for a second admin."""
    from pydantic import ValidationError

    from kb.accounts import actions
    from kb.accounts.schemas import GovernanceRequestPublic, SpaceCreate
    from kb.actors import SpaceRole

    try:
        data = SpaceCreate(slug=slug, name=name or slug, description=description, four_eyes=four_eyes)
    except ValidationError as exc:
        raise _invalid(exc) from None
    database = open_database()
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        for username in owner or []:  # an unknown owner: nothing is created
            actions.read_user(session, actor, username=username)
        actions.create_space(session, actor, data=data, four_eyes_default=database.settings.four_eyes_default)
        typer.echo(f"Created space {slug}")
        # Owners one by one, as the API names them (PUT …/members/{username}): each is a request.
        for username in owner or []:
            made = actions.set_member(session, actor, slug=slug, username=username, role=SpaceRole.owner)
            typer.echo(waiting(made) if isinstance(made, GovernanceRequestPublic) else f"{username} is now owner of {slug}")
        for pending in actions.list_governance_requests(session, actor).data:
            if pending.kind == "space.update" and pending.target == slug and pending.status == "pending":
                typer.echo(waiting(pending))


@space_app.command("member")
def space_member(
    slug: Annotated[str, typer.Argument(help="The space")],
    username: Annotated[str, typer.Argument(help="The user")],
    role: Annotated[str, typer.Argument(help="reader, contributor or owner (making or unmaking an owner: a request)")],
    as_user: AsUser = None,
    token_file: TokenFile = None,
) -> None:
    """Grant a user a role in a space, as its owner or an admin; making or unmaking an owner waits for a second person."""
    from kb.accounts import actions
    from kb.accounts.schemas import GovernanceRequestPublic
    from kb.actors import SpaceRole

    space_role = choice(SpaceRole, role, "role")
    database = open_database()
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        made = actions.set_member(session, actor, slug=slug, username=username, role=space_role)
    typer.echo(waiting(made) if isinstance(made, GovernanceRequestPublic) else f"{username} is now {role} of {slug}")


@space_app.command("update")
def space_update(
    slug: Annotated[str, typer.Argument(help="The space")],
    name: Annotated[Optional[str], typer.Option(help="New display name")] = None,
    description: Annotated[Optional[str], typer.Option(help="New description")] = None,
    four_eyes: Annotated[Optional[bool], typer.Option("--four-eyes/--no-four-eyes", help="Require approval by someone other than the author (off: a request)")] = None,
    public_community: Annotated[Optional[bool], typer.Option("--public-community/--no-public-community", help="Show the space's comments and answers to the public (on: a request)")] = None,
    as_user: AsUser = None,
    token_file: TokenFile = None,
) -> None:
    """Change a space, as its owner or an admin; lowering a safeguard waits for a second person."""
    from pydantic import ValidationError

    from kb.accounts import actions
    from kb.accounts.schemas import GovernanceRequestPublic, SpaceUpdate

    try:
        data = SpaceUpdate(name=name, description=description, four_eyes=four_eyes, public_community=public_community)
    except ValidationError as exc:
        raise _invalid(exc) from None
    if not data.model_dump(exclude_none=True):
        raise fail("say what to change: --name, --description, --four-eyes/--no-four-eyes or --public-community/--no-public-community")
    database = open_database()
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        changed = actions.update_space(session, actor, slug=slug, data=data)
    typer.echo(waiting(changed) if isinstance(changed, GovernanceRequestPublic) else
               f"Space {slug}: four eyes {'on' if changed.four_eyes else 'off'}, "
               f"public community {'on' if changed.public_community else 'off'}")


@space_app.command("remove")
def space_remove(
    slug: Annotated[str, typer.Argument(help="The space")],
    username: Annotated[str, typer.Argument(help="The member to remove (an owner: a request)")],
    as_user: AsUser = None,
    token_file: TokenFile = None,
) -> None:
    """Remove a member from a space, as its owner or an admin; removing an owner waits for a second person."""
    from kb.accounts import actions

    database = open_database()
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        request = actions.remove_member(session, actor, slug=slug, username=username)
    typer.echo(waiting(request) if request is not None else f"{username} is no longer a member of {slug}")


# ---------------------------------------------------------------------------------------- tokens

@token_app.command("create")
def token_create(
    username: Annotated[Optional[str], typer.Argument(help="Whose token: yours (the default); no one may create another's")] = None,
    name: Annotated[str, typer.Option(help="What the token is for")] = "cli",
    days: Annotated[Optional[int], typer.Option(help="Expire after this many days", min=1)] = None,
    as_user: AsUser = None,
    token_file: TokenFile = None,
) -> None:
    """Create an API token for yourself and print it (it is shown only once)."""
    from kb.accounts import actions

    database = open_database()
    with database.session() as session, KbErrors():
        # Without a token, USERNAME is whose password is asked; with one, the action refuses another's token.
        prompt_for = as_user or (username if cli_token(token_file) is None else None)
        actor = authenticated(session, database.settings, as_user=prompt_for, token_file=token_file)
        created = actions.create_token(session, actor, username=username or actor.username, name=name,
                                       expires_in_days=days)
    typer.echo(created.token)


# ------------------------------------------------------------------------------------ governance

def _request_kinds() -> None:
    """Import the domains that register kinds of governance request of their own (the taxonomy's merges),
    as the app does when it mounts their routes: deciding one needs its rule."""
    import kb.taxonomy.actions  # noqa: F401


@governance_app.command("list")
def governance_list(as_user: AsUser = None, token_file: TokenFile = None) -> None:
    """List the pending requests you may decide, and your own requests."""
    from kb.accounts import actions

    _request_kinds()
    database = open_database()
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        requests = actions.list_governance_requests(session, actor).data
    for request in requests:
        decide = "  (you may decide it)" if request.may_decide else ""
        typer.echo(f"{request.id}  {request.status:<8} {request.kind} {request.target}: "
                   f"{', '.join(f'{k}={v}' for k, v in request.change.items())}  asked by {request.requested_by}{decide}")
    if not requests:
        typer.echo("No requests.")


@governance_app.command("approve")
def governance_approve(
    request_id: Annotated[int, typer.Argument(help="The request's id (kb governance list)", min=1, max=MAX_ID)],
    as_user: AsUser = None,
    token_file: TokenFile = None,
) -> None:
    """Approve a pending request as the second person: its change takes effect, recorded with you as actor."""
    from kb.accounts import actions

    _request_kinds()
    database = open_database()
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        decided = actions.approve_governance_request(session, actor, request_id=request_id)
    typer.echo(f"Approved request {decided.id} ({decided.kind} {decided.target}) as {actor.username}")


@governance_app.command("refuse")
def governance_refuse(
    request_id: Annotated[int, typer.Argument(help="The request's id (kb governance list)", min=1, max=MAX_ID)],
    reason: Annotated[str, typer.Option(help="Why the change is refused (kept on record)")],
    as_user: AsUser = None,
    token_file: TokenFile = None,
) -> None:
    """Refuse a pending request, with a reason kept on record; nothing changes."""
    from pydantic import ValidationError

    from kb.accounts import actions
    from kb.accounts.schemas import GovernanceRefusal

    _request_kinds()
    try:
        refusal = GovernanceRefusal(reason=reason)
    except ValidationError as exc:
        raise _invalid(exc) from None
    database = open_database()
    with database.session() as session, KbErrors():
        actor = authenticated(session, database.settings, as_user=as_user, token_file=token_file)
        decided = actions.refuse_governance_request(session, actor, request_id=request_id, reason=refusal.reason)
    typer.echo(f"Refused request {decided.id} ({decided.kind} {decided.target}) as {actor.username}")
