"""The `socwb users` commands: add, list and disable workbench users in the local users file."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from socwb.auth import DEFAULT_USERS_FILE, Role, UsersFile
from socwb.settings import Settings

logger = logging.getLogger(__name__)


def _default_users_file() -> Path:
    """Return the users file from the settings, when the command runs under ``socwb``."""
    context = click.get_current_context(silent=True)
    settings = context.find_root().obj if context else None
    if isinstance(settings, Settings):
        return settings.workbench.users_file
    return DEFAULT_USERS_FILE


_USERS_FILE_OPTION = click.option(
    "--users-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=_default_users_file,
    help="Users file to change or read (JSON, mode 0600); SOCWB_WORKBENCH__USERS_FILE by default.",
)


@click.group("users")
def users() -> None:
    """Manage the workbench's local users: roles analyst, reviewer, admin and auditor."""


@users.command("add")
@click.argument("name")
@click.option(
    "--role",
    "roles",
    type=click.Choice([role.value for role in Role]),
    multiple=True,
    required=True,
    help="Role to grant; repeat the option for several roles.",
)
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@click.option(
    "--oidc-only", is_flag=True, help="Store no password: the user signs in only through OIDC."
)
@_USERS_FILE_OPTION
def add_user(
    name: str, roles: tuple[str, ...], password_stdin: bool, oidc_only: bool, users_file: Path
) -> None:
    """Add user NAME; the password comes from a prompt or stdin, never from the command line."""
    if oidc_only and password_stdin:
        raise click.UsageError("--oidc-only stores no password, so --password-stdin is invalid")
    password = None if oidc_only else _read_password(password_stdin)
    try:
        record = UsersFile(users_file).add(name, password, [Role(role) for role in roles])
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"added {record.name} ({', '.join(roles)}) to {users_file}")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@users.command("list")
@_USERS_FILE_OPTION
def list_users(users_file: Path) -> None:
    """Print every user with roles, sign-in method and state; never prints hashes."""
    records = UsersFile(users_file).load()
    click.echo(f"{'NAME':<32} {'ROLES':<24} {'SIGN-IN':<9} STATE")
    for record in records:
        roles = ",".join(role.value for role in record.roles)
        state = "disabled" if record.is_disabled else "enabled"
        click.echo(f"{record.name:<32} {roles:<24} {record.sign_in_method:<9} {state}")


@users.command("disable")
@click.argument("name")
@_USERS_FILE_OPTION
def disable_user(name: str, users_file: Path) -> None:
    """Disable user NAME so sign-in fails; the record stays for the audit trail."""
    try:
        UsersFile(users_file).disable(name)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"disabled {name}")
