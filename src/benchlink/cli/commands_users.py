"""``benchlink users``: add, list, disable, enable, unlock, passwd and service tokens.

Every subcommand authenticates first (see :mod:`benchlink.cli.credentials`); the only exception
is ``users add`` on an empty database, which creates the first admin. New passwords come from
``BENCHLINK_NEW_PASSWORD`` or two hidden prompts, never from the command line, where they would
land in shell history and in every process listing.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from benchlink.cli.credentials import auth_friendly, new_password, require, service_for
from benchlink.cli.errors import friendly
from benchlink.core.auth import AuthError, Permission, Role
from benchlink.runtime.settings import Settings

Common = Callable[[argparse.ArgumentParser], None]


def register(sub: Any, common: Common) -> None:
    users = sub.add_parser("users", help="manage user accounts, roles and service tokens")
    actions = users.add_subparsers(dest="users_action", metavar="ACTION", required=True)

    def action(name: str, helptext: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = actions.add_parser(name, help=helptext)
        common(parser)
        return parser

    add = action("add", "create an account (password from BENCHLINK_NEW_PASSWORD or a prompt)")
    add.add_argument("name", help="the login name")
    add.add_argument("--role", default="operator", help="operator (default), supervisor or admin")
    add.set_defaults(handler=cmd_users_add)

    lst = action("list", "list accounts, roles and lock state")
    lst.add_argument("--json", action="store_true", help="one JSON object per line")
    lst.set_defaults(handler=cmd_users_list)

    for verb, helptext in (("disable", "disable an account (and revoke its service token)"),
                           ("enable", "enable a disabled account"),
                           ("unlock", "clear a lockout after repeated failed logins")):
        p = action(verb, helptext)
        p.add_argument("name", help="the login name")
        p.set_defaults(handler=cmd_users_state, verb=verb)

    passwd = action("passwd", "change a password (your own by default)")
    passwd.add_argument("name", nargs="?", help="whose password (default: yours)")
    passwd.set_defaults(handler=cmd_users_passwd)

    token = action("token", "issue (or --revoke) a service token for headless `serve` (admin)")
    token.add_argument("name", help="the account the service runs as")
    token.add_argument("--revoke", action="store_true", help="revoke the account's token instead of issuing one")
    token.set_defaults(handler=cmd_users_token)


def _open(settings: Settings) -> Any:
    from benchlink.runtime.bootstrap import open_store

    return open_store(settings)


def _run(call: Callable[[], int]) -> int:
    return int(friendly(lambda: auth_friendly(call)))


def cmd_users_add(args: argparse.Namespace, settings: Settings) -> int:
    def run() -> int:
        store = _open(settings)
        service = service_for(settings, store)
        role = Role.parse(args.role)
        if not service.has_users():
            if role is not Role.ADMIN:
                raise AuthError("the first account must be an admin: add --role admin")
            actor = service.create_first_admin(args.name, new_password(args.name))
            print(f"created the first admin {actor.username!r}")
            return 0
        actor = require(settings, store, Permission.USERS_EDIT, user=getattr(args, "user", None))
        record = service.add_user(actor, args.name, role, new_password(args.name))
        print(f"created {record.role.value} {record.username!r}")
        return 0

    return _run(run)


def _when(value: datetime | None) -> str:
    return "" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M")


def cmd_users_list(args: argparse.Namespace, settings: Settings) -> int:
    def run() -> int:
        store = _open(settings)
        actor = require(settings, store, Permission.USERS_EDIT, user=getattr(args, "user", None))
        records = service_for(settings, store).list_users(actor)
        now = datetime.now().astimezone()
        if args.json:
            for r in records:
                print(json.dumps({
                    "username": r.username, "role": r.role.value, "disabled": r.disabled,
                    "locked": r.locked_until is not None and r.locked_until > now,
                    "failed_attempts": r.failed_attempts, "has_token": r.has_token,
                    "created_at": r.created_at.isoformat(),
                    "last_login_at": None if r.last_login_at is None else r.last_login_at.isoformat(),
                }))
            return 0
        print(f"{'user':<20} {'role':<11} {'state':<9} {'token':<6} last login")
        for r in records:
            state = "disabled" if r.disabled else (
                "locked" if r.locked_until is not None and r.locked_until > now else "active")
            print(f"{r.username:<20} {r.role.value:<11} {state:<9} {'yes' if r.has_token else '':<6} "
                  f"{_when(r.last_login_at)}")
        return 0

    return _run(run)


def cmd_users_state(args: argparse.Namespace, settings: Settings) -> int:
    def run() -> int:
        store = _open(settings)
        actor = require(settings, store, Permission.USERS_EDIT, user=getattr(args, "user", None))
        service = service_for(settings, store)
        if args.verb == "unlock":
            service.unlock_user(actor, args.name)
        else:
            service.set_disabled(actor, args.name, args.verb == "disable")
        print(f"{args.verb}d {args.name!r}")
        return 0

    return _run(run)


def cmd_users_passwd(args: argparse.Namespace, settings: Settings) -> int:
    def run() -> int:
        store = _open(settings)
        service = service_for(settings, store)
        me = getattr(args, "user", None) or os.environ.get("BENCHLINK_USER") or ""
        if args.name is None or args.name == me:
            if not me:
                raise AuthError("whose password? pass --user NAME (or set BENCHLINK_USER), or name the account")
            old = os.environ.get("BENCHLINK_PASSWORD") or _prompt_old(me)
            service.change_own_password(me, old, new_password(me))
            print(f"password changed for {me!r}")
            return 0
        actor = require(settings, store, Permission.USERS_EDIT, user=getattr(args, "user", None))
        service.reset_password(actor, args.name, new_password(args.name))
        print(f"password changed for {args.name!r}")
        return 0

    return _run(run)


def _prompt_old(name: str) -> str:
    if not sys.stdin.isatty():
        raise AuthError(f"no current password for {name!r}: set BENCHLINK_PASSWORD or run this in a terminal")
    return getpass.getpass(f"current password for {name}: ")


def cmd_users_token(args: argparse.Namespace, settings: Settings) -> int:
    def run() -> int:
        store = _open(settings)
        actor = require(settings, store, Permission.TOKENS_ISSUE, user=getattr(args, "user", None))
        service = service_for(settings, store)
        if args.revoke:
            service.revoke_token(actor, args.name)
            print(f"service token of {args.name!r} revoked")
            return 0
        issued = service.issue_token(actor, args.name)
        print(issued.token)
        print(f"benchlink: service token for {issued.username!r} shown once; it is stored only as a hash. "
              "Run serve with BENCHLINK_TOKEN set to it. Issuing again replaces it.", file=sys.stderr)
        return 0

    return _run(run)
