"""Workbench users, roles and permissions: the users file, password hashing and sign-in sessions.

Every server-side function that changes state calls `require(principal, permission)`
first, so a control hidden in the UI cannot be bypassed by calling the function.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from socwb.errors import ConfigurationError, WorkbenchError

logger = logging.getLogger(__name__)

DEFAULT_USERS_FILE = Path("~/.config/socwb/users.json")
USER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$"
MIN_PASSWORD_LENGTH = 12
DEFAULT_SESSION_TIMEOUT = timedelta(minutes=30)


class Role(StrEnum):
    """A workbench role; a user may hold several."""

    ANALYST = "analyst"
    REVIEWER = "reviewer"
    ADMIN = "admin"
    AUDITOR = "auditor"


class Permission(StrEnum):
    """An action the workbench guards."""

    VIEW_ALERTS = "view_alerts"
    WORK_ALERTS = "work_alerts"
    VIEW_REPORTS = "view_reports"
    PROPOSE_SUPPRESSION = "propose_suppression"
    DECIDE_SUPPRESSION = "decide_suppression"
    PROVISION = "provision"
    ADMINISTER_USERS = "administer_users"


_ANALYST = frozenset(
    {
        Permission.VIEW_ALERTS,
        Permission.WORK_ALERTS,
        Permission.VIEW_REPORTS,
        Permission.PROPOSE_SUPPRESSION,
    }
)
_REVIEWER = _ANALYST | {Permission.DECIDE_SUPPRESSION}
_ADMIN = _REVIEWER | {Permission.PROVISION, Permission.ADMINISTER_USERS}
# Auditors read alerts, incidents and reports, and change nothing.
_AUDITOR = frozenset({Permission.VIEW_ALERTS, Permission.VIEW_REPORTS})

ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.ANALYST: _ANALYST,
    Role.REVIEWER: _REVIEWER,
    Role.ADMIN: _ADMIN,
    Role.AUDITOR: _AUDITOR,
}
"""Permissions per role. Deciding on one's own suppression proposal is refused separately."""


class AuthenticationError(WorkbenchError):
    """Sign-in failed, or a session is unknown, expired or signed out."""


class PermissionDenied(WorkbenchError):
    """The signed-in user's roles do not grant the permission an action needs."""


@dataclass(frozen=True)
class Principal:
    """A signed-in user: the name recorded as actor, and the roles that grant permissions."""

    name: str
    roles: frozenset[Role]

    @property
    def permissions(self) -> frozenset[Permission]:
        """All permissions granted by the principal's roles."""
        granted: frozenset[Permission] = frozenset()
        for role in self.roles:
            granted |= ROLE_PERMISSIONS[role]
        return granted

    def can(self, permission: Permission) -> bool:
        """Return whether any of the principal's roles grants `permission`."""
        return permission in self.permissions


def require(principal: Principal | None, permission: Permission) -> Principal:
    """Raise unless `principal` has `permission`; return the principal for chaining.

    Raises:
        PermissionDenied: No user is signed in, or no role of the principal grants it.
    """
    if principal is None:
        raise PermissionDenied(f"{permission.value} requires a signed-in user; sign in first")
    if not principal.can(permission):
        roles = ", ".join(sorted(role.value for role in principal.roles)) or "no role"
        holders = ", ".join(
            role.value for role, perms in ROLE_PERMISSIONS.items() if permission in perms
        )
        raise PermissionDenied(
            f"user {principal.name!r} ({roles}) may not {permission.value}; "
            f"it needs the role {holders}"
        )
    return principal


# Password hashing -----------------------------------------------------------------------

_HASHER = PasswordHasher()
# A hash of a random password, verified when a user does not exist, so a failed
# sign-in takes the same time whether or not the name is known.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """Hash a password with argon2id and the argon2-cffi default cost parameters.

    Raises:
        ValueError: The password is shorter than `MIN_PASSWORD_LENGTH` characters.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Return whether `password` matches an argon2 hash; a malformed hash never matches."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# The users file -------------------------------------------------------------------------


class UserRecord(BaseModel):
    """One user of the users file.

    Attributes:
        password_hash: argon2 hash; None for a user who signs in only through OIDC.
        is_disabled: A disabled user cannot sign in; the record stays for the audit trail.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=USER_NAME_PATTERN)
    password_hash: str | None
    roles: list[Role] = Field(min_length=1)
    is_disabled: bool = False
    created_at: datetime
    disabled_at: datetime | None = None

    @property
    def sign_in_method(self) -> str:
        """How the user signs in: `password`, or `oidc` when no hash is stored."""
        return "password" if self.password_hash else "oidc"

    def principal(self) -> Principal:
        """Return the principal this user signs in as."""
        return Principal(self.name, frozenset(self.roles))


class _UsersDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    users: list[UserRecord] = Field(default_factory=list)


class UsersFile:
    """The local users file: JSON, mode 0600, written atomically by replacing the file.

    NOTE: there is no file lock. Two processes that change the file at the same moment
    can lose one change.
    """

    def __init__(self, path: Path = DEFAULT_USERS_FILE) -> None:
        self.path = path.expanduser()

    def load(self) -> list[UserRecord]:
        """Return every user; an absent file has no users.

        Raises:
            ConfigurationError: The file is not valid JSON or does not match the schema.
        """
        if not self.path.exists():
            return []
        self._warn_when_readable_by_others()
        try:
            document = _UsersDocument.model_validate_json(self.path.read_bytes())
        except ValidationError as exc:
            raise ConfigurationError(
                f"users file {self.path} is invalid: {exc.errors()[0]['msg']}; "
                "fix it or recreate it with `socwb users add`"
            ) from None
        return document.users

    def find(self, name: str) -> UserRecord | None:
        """Return the user called `name`, or None."""
        return next((user for user in self.load() if user.name == name), None)

    def add(self, name: str, password: str | None, roles: list[Role]) -> UserRecord:
        """Add a user; `password` None makes an OIDC-only user.

        Raises:
            ValueError: The name exists already, is invalid, or the password is too short.
        """
        users = self.load()
        if any(user.name == name for user in users):
            raise ValueError(f"user {name!r} exists already in {self.path}")
        password_hash = None if password is None else hash_password(password)
        try:
            record = UserRecord(
                name=name, password_hash=password_hash, roles=roles, created_at=datetime.now(UTC)
            )
        except ValidationError as exc:
            raise ValueError(f"invalid user {name!r}: {exc.errors()[0]['msg']}") from None
        self._save([*users, record])
        logger.info("user added user=%s roles=%s file=%s", name, _role_list(roles), self.path)
        return record

    def disable(self, name: str) -> UserRecord:
        """Disable a user so sign-in fails; `SessionRegistry.end_user` ends open sessions.

        Raises:
            ValueError: No user has this name.
        """
        users = self.load()
        for position, user in enumerate(users):
            if user.name == name:
                changed = user.model_copy(
                    update={"is_disabled": True, "disabled_at": datetime.now(UTC)}
                )
                users[position] = changed
                self._save(users)
                logger.info("user disabled user=%s file=%s", name, self.path)
                return changed
        raise ValueError(f"user {name!r} not found in {self.path}")

    def authenticate(self, name: str, password: str) -> Principal:
        """Check a name and password and return the principal.

        Raises:
            AuthenticationError: Unknown user, wrong password, OIDC-only or disabled user;
                the message does not say which, so names cannot be probed.
        """
        user = self.find(name)
        stored_hash = user.password_hash if user and user.password_hash else _DUMMY_HASH
        is_match = verify_password(stored_hash, password)
        if user is None or user.password_hash is None or not is_match or user.is_disabled:
            logger.info("sign-in rejected user=%s", name)
            raise AuthenticationError("sign-in failed: unknown user, wrong password or disabled")
        logger.info("sign-in accepted user=%s", name)
        return user.principal()

    def principal_for(self, name: str) -> Principal:
        """Return the principal of an enabled user, e.g. one signed in through OIDC.

        Raises:
            AuthenticationError: The user is not in the file or is disabled.
        """
        user = self.find(name)
        if user is None or user.is_disabled:
            raise AuthenticationError(
                f"user {name!r} has no enabled account in {self.path}; "
                "an admin adds it with `socwb users add`"
            )
        return user.principal()

    def _save(self, users: list[UserRecord]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        payload = _UsersDocument(users=users).model_dump_json(indent=2)
        temporary = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(payload + "\n")
        os.replace(temporary, self.path)

    def _warn_when_readable_by_others(self) -> None:
        mode = self.path.stat().st_mode & 0o777
        if mode & 0o077:
            logger.warning(
                "users file is readable by other users file=%s mode=%o; run chmod 600 on it",
                self.path,
                mode,
            )


def _role_list(roles: list[Role] | frozenset[Role]) -> str:
    return ",".join(sorted(role.value for role in roles))


# Sessions -------------------------------------------------------------------------------


@dataclass
class Session:
    """A signed-in session held by the server; the id is the only secret the client holds."""

    session_id: str
    principal: Principal
    started_at: datetime
    last_seen: datetime
    method: str = "password"


@dataclass
class SessionRegistry:
    """Server-side sessions with an idle timeout; an ended session id is never accepted again.

    The registry lives in the memory of one process, so a restart signs everyone out.
    NOTE: several workbench replicas would each need the same registry; this one is
    only correct for a single Streamlit server process.
    """

    timeout: timedelta = DEFAULT_SESSION_TIMEOUT
    _sessions: dict[str, Session] = field(default_factory=dict)
    _ended: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, principal: Principal, *, now: datetime, method: str = "password") -> Session:
        """Open a session for `principal` and return it with a new random id."""
        session = Session(secrets.token_urlsafe(32), principal, now, now, method)
        with self._lock:
            self._sessions[session.session_id] = session
        logger.info("session started user=%s method=%s", principal.name, method)
        return session

    def resolve(self, session_id: str | None, *, now: datetime) -> Principal:
        """Return the principal of a live session and extend its idle timeout.

        Raises:
            AuthenticationError: The id is missing, unknown, signed out or timed out.
        """
        if not session_id:
            raise AuthenticationError("not signed in; sign in on the Home page")
        with self._lock:
            if session_id in self._ended:
                raise AuthenticationError("this session was signed out; sign in again")
            session = self._sessions.get(session_id)
            if session is None:
                raise AuthenticationError("unknown session; sign in again")
            if now - session.last_seen > self.timeout:
                self._end_locked(session_id)
                logger.info("session timed out user=%s", session.principal.name)
                raise AuthenticationError("the session timed out; sign in again")
            session.last_seen = now
            return session.principal

    def end(self, session_id: str) -> None:
        """Sign a session out; later use of its id is rejected."""
        with self._lock:
            session = self._end_locked(session_id)
        if session is not None:
            logger.info("session ended user=%s", session.principal.name)

    def end_user(self, name: str) -> int:
        """End every session of one user, e.g. after disabling them; return how many ended."""
        with self._lock:
            ids = [sid for sid, held in self._sessions.items() if held.principal.name == name]
            for session_id in ids:
                self._end_locked(session_id)
        logger.info("sessions ended user=%s count=%d", name, len(ids))
        return len(ids)

    def _end_locked(self, session_id: str) -> Session | None:
        self._ended.add(session_id)
        return self._sessions.pop(session_id, None)
