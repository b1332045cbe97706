"""Roles, permission checks, password hashing, the users file and server-side sessions."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from socwb.auth import (
    ROLE_PERMISSIONS,
    AuthenticationError,
    Permission,
    PermissionDenied,
    Principal,
    Role,
    SessionRegistry,
    UsersFile,
    hash_password,
    require,
    verify_password,
)
from socwb.commands.users import users
from socwb.errors import WorkbenchError

PASSWORD = "correct horse battery"
NOW = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def principal(*roles: Role) -> Principal:
    return Principal("ana", frozenset(roles))


@pytest.mark.parametrize(
    ("role", "permission", "expected"),
    [
        (Role.ANALYST, Permission.WORK_ALERTS, True),
        (Role.ANALYST, Permission.PROPOSE_SUPPRESSION, True),
        (Role.ANALYST, Permission.DECIDE_SUPPRESSION, False),
        (Role.ANALYST, Permission.PROVISION, False),
        (Role.ANALYST, Permission.ADMINISTER_USERS, False),
        (Role.REVIEWER, Permission.WORK_ALERTS, True),
        (Role.REVIEWER, Permission.DECIDE_SUPPRESSION, True),
        (Role.REVIEWER, Permission.PROVISION, False),
        (Role.ADMIN, Permission.DECIDE_SUPPRESSION, True),
        (Role.ADMIN, Permission.PROVISION, True),
        (Role.ADMIN, Permission.ADMINISTER_USERS, True),
        (Role.AUDITOR, Permission.VIEW_ALERTS, True),
        (Role.AUDITOR, Permission.VIEW_REPORTS, True),
        (Role.AUDITOR, Permission.WORK_ALERTS, False),
        (Role.AUDITOR, Permission.PROPOSE_SUPPRESSION, False),
        (Role.AUDITOR, Permission.PROVISION, False),
    ],
    ids=lambda value: str(value),
)
def test_role_grants_permission(role: Role, permission: Permission, expected: bool) -> None:
    assert principal(role).can(permission) is expected


def test_roles_nest_analyst_reviewer_admin() -> None:
    assert ROLE_PERMISSIONS[Role.ANALYST] < ROLE_PERMISSIONS[Role.REVIEWER]
    assert ROLE_PERMISSIONS[Role.REVIEWER] < ROLE_PERMISSIONS[Role.ADMIN]


def test_require_returns_principal_when_granted() -> None:
    analyst = principal(Role.ANALYST)

    assert require(analyst, Permission.WORK_ALERTS) is analyst


def test_require_raises_with_user_and_needed_role() -> None:
    with pytest.raises(PermissionDenied, match=r"'ana' \(analyst\) may not decide_suppression"):
        require(principal(Role.ANALYST), Permission.DECIDE_SUPPRESSION)


def test_require_without_principal_raises() -> None:
    with pytest.raises(PermissionDenied, match="requires a signed-in user"):
        require(None, Permission.VIEW_ALERTS)


def test_permission_denied_is_workbench_error() -> None:
    assert issubclass(PermissionDenied, WorkbenchError)


def test_password_hash_is_argon2id_and_verifies() -> None:
    password_hash = hash_password(PASSWORD)

    assert password_hash.startswith("$argon2id$")
    assert PASSWORD not in password_hash
    assert verify_password(password_hash, PASSWORD)
    assert not verify_password(password_hash, PASSWORD + "x")


def test_verify_password_with_malformed_hash_is_false() -> None:
    assert not verify_password("not-a-hash", PASSWORD)


def test_hash_password_rejects_short_password() -> None:
    with pytest.raises(ValueError, match="at least 12 characters"):
        hash_password("short")


def test_users_file_is_created_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "config" / "users.json"

    UsersFile(path).add("ana", PASSWORD, [Role.ANALYST])

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert PASSWORD not in path.read_text()


def test_users_file_authenticates_enabled_user(tmp_path: Path) -> None:
    users_file = UsersFile(tmp_path / "users.json")
    users_file.add("rita", PASSWORD, [Role.REVIEWER])

    signed_in = users_file.authenticate("rita", PASSWORD)

    assert signed_in == Principal("rita", frozenset({Role.REVIEWER}))


@pytest.mark.parametrize(
    ("name", "password"),
    [("ana", "wrong password!!"), ("nobody", PASSWORD)],
    ids=["wrong-password", "unknown-user"],
)
def test_authenticate_failure_has_one_message(tmp_path: Path, name: str, password: str) -> None:
    users_file = UsersFile(tmp_path / "users.json")
    users_file.add("ana", PASSWORD, [Role.ANALYST])

    with pytest.raises(AuthenticationError, match="unknown user, wrong password or disabled"):
        users_file.authenticate(name, password)


def test_disabled_user_cannot_sign_in(tmp_path: Path) -> None:
    users_file = UsersFile(tmp_path / "users.json")
    users_file.add("ana", PASSWORD, [Role.ANALYST])

    users_file.disable("ana")

    with pytest.raises(AuthenticationError):
        users_file.authenticate("ana", PASSWORD)
    assert users_file.find("ana") is not None


def test_oidc_only_user_cannot_use_password(tmp_path: Path) -> None:
    users_file = UsersFile(tmp_path / "users.json")
    users_file.add("ana@example.org", None, [Role.ANALYST])

    with pytest.raises(AuthenticationError):
        users_file.authenticate("ana@example.org", "")
    assert users_file.principal_for("ana@example.org").roles == {Role.ANALYST}


def test_users_file_rejects_duplicate_name(tmp_path: Path) -> None:
    users_file = UsersFile(tmp_path / "users.json")
    users_file.add("ana", PASSWORD, [Role.ANALYST])

    with pytest.raises(ValueError, match="exists already"):
        users_file.add("ana", PASSWORD, [Role.ADMIN])


def test_session_resolves_until_signed_out() -> None:
    registry = SessionRegistry()
    session = registry.start(principal(Role.ANALYST), now=NOW)

    assert registry.resolve(session.session_id, now=NOW).name == "ana"
    registry.end(session.session_id)

    with pytest.raises(AuthenticationError, match="signed out"):
        registry.resolve(session.session_id, now=NOW)


def test_session_times_out_when_idle() -> None:
    registry = SessionRegistry(timeout=timedelta(minutes=15))
    session = registry.start(principal(Role.ANALYST), now=NOW)
    registry.resolve(session.session_id, now=NOW + timedelta(minutes=14))

    with pytest.raises(AuthenticationError, match="timed out"):
        registry.resolve(session.session_id, now=NOW + timedelta(minutes=30))
    with pytest.raises(AuthenticationError, match="signed out"):
        registry.resolve(session.session_id, now=NOW + timedelta(minutes=30))


def test_session_unknown_id_is_rejected() -> None:
    with pytest.raises(AuthenticationError, match="unknown session"):
        SessionRegistry().resolve("forged-id", now=NOW)


def test_end_user_ends_all_their_sessions() -> None:
    registry = SessionRegistry()
    first = registry.start(principal(Role.ANALYST), now=NOW)
    second = registry.start(principal(Role.ANALYST), now=NOW)

    assert registry.end_user("ana") == 2
    for session in (first, second):
        with pytest.raises(AuthenticationError):
            registry.resolve(session.session_id, now=NOW)


def test_users_add_reads_password_from_stdin(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    arguments = ["add", "ana", "--role", "analyst", "--password-stdin", "--users-file", str(path)]

    result = CliRunner().invoke(users, arguments, input=PASSWORD + "\n")

    assert result.exit_code == 0, result.output
    assert UsersFile(path).authenticate("ana", PASSWORD).name == "ana"


def test_users_add_prompts_for_password(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    arguments = ["add", "rita", "--role", "reviewer", "--role", "admin", "--users-file", str(path)]

    result = CliRunner().invoke(users, arguments, input=f"{PASSWORD}\n{PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert UsersFile(path).authenticate("rita", PASSWORD).roles == {Role.REVIEWER, Role.ADMIN}


def test_users_list_and_disable(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    UsersFile(path).add("ana", PASSWORD, [Role.ANALYST])
    runner = CliRunner()

    disabled = runner.invoke(users, ["disable", "ana", "--users-file", str(path)])
    listing = runner.invoke(users, ["list", "--users-file", str(path)])

    assert disabled.exit_code == 0, disabled.output
    assert "ana" in listing.output
    assert "disabled" in listing.output
    assert "argon2" not in listing.output


def test_users_disable_unknown_user_fails(tmp_path: Path) -> None:
    result = CliRunner().invoke(users, ["disable", "nobody", "--users-file", str(tmp_path / "u")])

    assert result.exit_code == 1
    assert "not found" in result.output
