"""``kb`` commands: users, spaces and their members, API tokens.

Operator commands: each calls one action of ``kb.accounts.actions`` as ``kb.actors.SYSTEM`` (kb
itself, an admin of no space, recorded as ``system``). Imports actions, never a service or an
``api`` module; opens no transaction (the action owns it).
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from kb.actors import SYSTEM
from kb.cli.common import choice, KbErrors, fail, open_database, space_app, token_app, user_app

# ----------------------------------------------------------------------------------------- users

@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Login name: lowercase letters, digits, . _ -")],
    display_name: Annotated[Optional[str], typer.Option("--name", help="Display name")] = None,
    email: Annotated[Optional[str], typer.Option(help="E-mail address")] = None,
    role: Annotated[str, typer.Option(help="Global role: reader, moderator or admin")] = "reader",
    password: Annotated[Optional[str], typer.Option(help="Password (min. 10 characters); read from KB_NEW_PASSWORD if set", envvar="KB_NEW_PASSWORD")] = None,
) -> None:
    """Create a user."""
    from pydantic import ValidationError

    from kb.accounts import actions
    from kb.accounts.schemas import UserCreate

    try:
        data = UserCreate(username=username, display_name=display_name or username, email=email,
                          password=password, global_role=role)
    except ValidationError as exc:
        raise fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
    database = open_database()
    with database.session() as session, KbErrors():
        user = actions.create_user(session, SYSTEM, data=data)
    typer.echo(f"Created user {user.username} ({data.global_role.value})")


# ---------------------------------------------------------------------------------------- spaces

@space_app.command("add")
def space_add(
    slug: Annotated[str, typer.Argument(help="Short name used in URLs")],
    name: Annotated[Optional[str], typer.Option(help="Display name")] = None,
    description: Annotated[str, typer.Option(help="What the space is about")] = "",
    owner: Annotated[Optional[list[str]], typer.Option(help="Username to make an owner (repeatable)")] = None,
    four_eyes: Annotated[Optional[bool], typer.Option("--four-eyes/--no-four-eyes", help="Require approval by someone other than the author (default: KB_FOUR_EYES_DEFAULT)")] = None,
) -> None:
    """Create a space, optionally with its owners."""
    from pydantic import ValidationError

    from kb.accounts import actions
    from kb.accounts.schemas import SpaceCreate

    try:
        data = SpaceCreate(slug=slug, name=name or slug, description=description, four_eyes=four_eyes)
    except ValidationError as exc:
        raise fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
    database = open_database()
    with database.session() as session, KbErrors():
        actions.create_space(session, SYSTEM, data=data, four_eyes_default=database.settings.four_eyes_default,
                             owners=owner or [])
    typer.echo(f"Created space {slug}" + (f" owned by {', '.join(owner)}" if owner else ""))


@space_app.command("member")
def space_member(
    slug: Annotated[str, typer.Argument(help="The space")],
    username: Annotated[str, typer.Argument(help="The user")],
    role: Annotated[str, typer.Argument(help="reader, contributor or owner")],
) -> None:
    """Grant a user a role in a space."""
    from kb.accounts import actions
    from kb.actors import SpaceRole

    space_role = choice(SpaceRole, role, "role")
    database = open_database()
    with database.session() as session, KbErrors():
        actions.set_member(session, SYSTEM, slug=slug, username=username, role=space_role)
    typer.echo(f"{username} is now {role} of {slug}")


# ---------------------------------------------------------------------------------------- tokens

@token_app.command("create")
def token_create(
    username: Annotated[str, typer.Argument(help="Whose token")],
    name: Annotated[str, typer.Option(help="What the token is for")] = "cli",
    days: Annotated[Optional[int], typer.Option(help="Expire after this many days", min=1)] = None,
) -> None:
    """Create an API token for a user and print it (it is shown only once)."""
    from kb.accounts import actions

    database = open_database()
    with database.session() as session, KbErrors():
        created = actions.create_token(session, SYSTEM, username=username, name=name, expires_in_days=days)
    typer.echo(created.token)
