"""Who is running this command? Credentials for CLI commands that change data.

Sources, first match wins:
1. ``BENCHLINK_TOKEN``: a service token made by an admin (``benchlink users token NAME``) for
   headless runs such as ``benchlink serve`` under a service manager.
2. ``--user`` or ``BENCHLINK_USER``, with the password from ``BENCHLINK_PASSWORD`` or, in a
   terminal, a hidden prompt.
When no user exists yet (the very first start), the first admin is created from
``BENCHLINK_ADMIN_PASSWORD`` or interactively. Nothing here echoes or logs a secret.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Mapping
from typing import TypeVar

from benchlink.cli.errors import EXIT_AUTH
from benchlink.core.auth import (
    Actor,
    AuthError,
    CredentialsRequiredError,
    Permission,
    Role,
)
from benchlink.runtime.auth_service import AuthService, policy_from_settings
from benchlink.runtime.settings import Settings
from benchlink.storage.store import Store

T = TypeVar("T")
Prompt = Callable[[str], str]

DEFAULT_ADMIN = "admin"


def _interactive() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _ask_new_password(prompt: Prompt, who: str) -> str:
    first = prompt(f"new password for {who}: ")
    second = prompt(f"repeat the password for {who}: ")
    if first != second:
        raise CredentialsRequiredError("the two passwords differ; nothing was changed, try again")
    return first


def service_for(settings: Settings, store: Store, environ: Mapping[str, str] | None = None) -> AuthService:
    return AuthService(store, policy=policy_from_settings(settings, environ))


def new_password(
    who: str, *, environ: Mapping[str, str] | None = None, prompt: Prompt | None = None,
    interactive: bool | None = None, variable: str = "BENCHLINK_NEW_PASSWORD",
) -> str:
    """A password for an account being created or changed: ``variable`` or two hidden prompts."""
    env = os.environ if environ is None else environ
    if env.get(variable):
        return env[variable]
    if interactive if interactive is not None else _interactive():
        return _ask_new_password(prompt or getpass.getpass, who)
    raise CredentialsRequiredError(f"no password for {who!r}: set {variable} or run this in a terminal")


def first_start(
    service: AuthService, *, user: str | None = None, environ: Mapping[str, str] | None = None,
    prompt: Prompt | None = None, interactive: bool | None = None,
) -> Actor:
    """No users exist: create the first admin (``BENCHLINK_USER`` or ``admin``)."""
    env = os.environ if environ is None else environ
    name = user or env.get("BENCHLINK_USER") or DEFAULT_ADMIN
    if not env.get("BENCHLINK_ADMIN_PASSWORD") and not (interactive if interactive is not None else _interactive()):
        raise CredentialsRequiredError(
            "no users exist yet: set BENCHLINK_ADMIN_PASSWORD (and optionally BENCHLINK_USER) to create the "
            "first admin, or run `benchlink users add admin --role admin` in a terminal"
        )
    password = new_password(name, environ=env, prompt=prompt, interactive=interactive,
                            variable="BENCHLINK_ADMIN_PASSWORD")
    actor = service.create_first_admin(name, password)
    print(f"benchlink: first start: created the admin user {actor.username!r}", file=sys.stderr)
    return actor


def require(
    settings: Settings,
    store: Store,
    permission: Permission,
    *,
    user: str | None = None,
    environ: Mapping[str, str] | None = None,
    prompt: Prompt | None = None,
    interactive: bool | None = None,
) -> Actor:
    """Prove who runs the command and that they may do ``permission``; raises :class:`AuthError`.

    ``user`` is the ``--user`` option (it beats ``BENCHLINK_USER``). ``prompt``/``interactive``
    exist for tests; by default a terminal gets a ``getpass`` prompt and anything else must use
    the environment.
    """
    env = os.environ if environ is None else environ
    tty = interactive if interactive is not None else _interactive()
    ask = prompt or getpass.getpass
    service = service_for(settings, store, env)
    token = env.get("BENCHLINK_TOKEN", "").strip()
    if token:
        actor = service.authenticate_token(token)
        actor.require(permission)
        return actor
    if not service.has_users():
        actor = first_start(service, user=user, environ=env, prompt=prompt, interactive=tty)
        actor.require(permission)
        return actor
    name = user or env.get("BENCHLINK_USER", "")
    if not name:
        if not tty:
            raise CredentialsRequiredError(
                f"this command needs the {permission.value} permission: pass --user NAME (or set BENCHLINK_USER) "
                "with BENCHLINK_PASSWORD, or BENCHLINK_TOKEN for a service"
            )
        name = input("user: ").strip()
    password = env.get("BENCHLINK_PASSWORD", "")
    if not password:
        if not tty:
            raise CredentialsRequiredError(
                f"no password for {name!r}: set BENCHLINK_PASSWORD, or run the command in a terminal"
            )
        password = ask(f"password for {name}: ")
    session = service.authenticate(name, password)
    return session.require(permission)


def require_service(
    settings: Settings, store: Store, *, user: str | None = None, environ: Mapping[str, str] | None = None,
    interactive: bool | None = None,
) -> Actor:
    """For ``serve``: while no user exists the engine runs as ``system`` (a fresh install must
    just work); once users exist, it needs ``BENCHLINK_TOKEN`` or a user with the serve right."""
    env = os.environ if environ is None else environ
    service = service_for(settings, store, env)
    if not env.get("BENCHLINK_TOKEN") and not service.has_users():
        return Actor("system", Role.ADMIN, "system")
    return require(settings, store, Permission.SERVE, user=user, environ=env, interactive=interactive)


def auth_friendly(call: Callable[[], T]) -> T | int:
    """Print an authentication problem as one line and return :data:`EXIT_AUTH`."""
    try:
        return call()
    except AuthError as exc:
        print(f"benchlink: {exc}", file=sys.stderr)
        return EXIT_AUTH
    except ValueError as exc:  # user names and roles that do not validate
        print(f"benchlink: {exc}", file=sys.stderr)
        return 2
    except (EOFError, KeyboardInterrupt):
        print("\nbenchlink: cancelled; nothing was changed", file=sys.stderr)
        return EXIT_AUTH
