"""Admin views and actions of the workbench: coverage, provisioning, lifecycle state and users.

Every function checks the principal's permission first, so a caller that skips the
Admin page's own role check still cannot read or change anything without the
admin role.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from socwb import integrity
from socwb.auth import Permission, Principal, Role, UsersFile, require
from socwb.catalogue import load_catalogue
from socwb.coverage import SourceCoverage, coverage_report
from socwb.lifecycle_fallback import index_states, stored_fallback_policy
from socwb.provisioning import ApplyReport, apply_assets, uses_lifecycle_fallback
from socwb.search import QueryBody, SearchBackend

logger = logging.getLogger(__name__)

NOT_RUN_YET = "not run yet"
"""Fallback state of a backing index that `socwb lifecycle run` has not processed."""


@dataclass(frozen=True)
class IndexLifecycle:
    """Lifecycle state of one backing index, from the fallback records or the engine."""

    index: str
    policy: str | None
    state: str
    action: str | None = None
    rolled_over_at: str | None = None
    deleted_at: str | None = None


@dataclass(frozen=True)
class UserAccount:
    """A user of the users file as the Admin page shows it: no password hash."""

    name: str
    roles: tuple[Role, ...]
    sign_in_method: str
    is_disabled: bool
    created_at: datetime
    disabled_at: datetime | None


def coverage_overview(
    principal: Principal, backend: SearchBackend, namespace: str
) -> list[SourceCoverage]:
    """Compute the coverage of every catalogue source, as `socwb coverage` does.

    Raises:
        PermissionDenied: The principal is not an admin.
    """
    require(principal, Permission.PROVISION)
    return coverage_report(backend, load_catalogue(), namespace)


def verify_integrity(
    principal: Principal, backend: SearchBackend, namespace: str, now: datetime
) -> integrity.VerificationReport:
    """Check the integrity ledger and every log index it recorded, as `socwb verify` does.

    Reads the engine only. It reads every document of each recorded index, so
    the page runs it on request, not on every load.

    Raises:
        PermissionDenied: The principal is not an admin.
    """
    require(principal, Permission.PROVISION)
    return integrity.verify(backend, namespace, load_catalogue(), now)


def preview_apply(principal: Principal, backend: SearchBackend, namespace: str) -> ApplyReport:
    """Compare every asset with the cluster and change nothing (`socwb apply --dry-run`).

    Raises:
        PermissionDenied: The principal is not an admin.
    """
    require(principal, Permission.PROVISION)
    return apply_assets(backend, namespace, dry_run=True, actor=principal.name)


def apply_provisioning(principal: Principal, backend: SearchBackend, namespace: str) -> ApplyReport:
    """Install templates, pipelines and retention policies (`socwb apply`) as this user.

    The provisioning log lines name the user as actor.

    Raises:
        PermissionDenied: The principal is not an admin; nothing is changed.
    """
    require(principal, Permission.PROVISION)
    return apply_assets(backend, namespace, actor=principal.name)


def lifecycle_states(
    principal: Principal, backend: SearchBackend, namespace: str
) -> list[IndexLifecycle]:
    """Return the lifecycle state of every log backing index of the namespace, by index name.

    Where socwb runs the retention (OpenSearch without ISM), the states come from
    the fallback records, including indices it deleted. Otherwise they come from
    the engine's ISM or ILM explain API.

    Raises:
        PermissionDenied: The principal is not an admin.
    """
    require(principal, Permission.PROVISION)
    indices = _backing_indices(backend, namespace)
    if uses_lifecycle_fallback(backend):
        return _fallback_states(backend, namespace, indices)
    # NOTE: this branch needs ISM or ILM, which the local node lacks, so no test runs it.
    return [_explained_state(backend, index) for index in indices]


def list_user_accounts(principal: Principal, users: UsersFile) -> list[UserAccount]:
    """Return every user of the users file, without password hashes.

    Raises:
        PermissionDenied: The principal may not administer users.
    """
    require(principal, Permission.ADMINISTER_USERS)
    return [
        UserAccount(
            name=record.name,
            roles=tuple(record.roles),
            sign_in_method=record.sign_in_method,
            is_disabled=record.is_disabled,
            created_at=record.created_at,
            disabled_at=record.disabled_at,
        )
        for record in users.load()
    ]


def _backing_indices(backend: SearchBackend, namespace: str) -> list[str]:
    found = backend.get_json(f"/_data_stream/logs-*-{namespace}") or {}
    return sorted(
        index["index_name"]
        for stream in found.get("data_streams", [])
        for index in stream.get("indices", [])
    )


def _fallback_states(
    backend: SearchBackend, namespace: str, indices: list[str]
) -> list[IndexLifecycle]:
    stored = {state["index"]: state for state in index_states(backend, namespace)}
    policies: dict[str, QueryBody | None] = {}
    states = []
    for state in stored.values():
        name = str(state["policy"])
        if name not in policies:
            policies[name] = stored_fallback_policy(backend, name)
        states.append(_stored_state(state, policies[name]))
    states += [IndexLifecycle(index, None, NOT_RUN_YET) for index in indices if index not in stored]
    return sorted(states, key=lambda state: state.index)


def _stored_state(state: dict[str, Any], policy: QueryBody | None) -> IndexLifecycle:
    is_deleted = bool(state.get("deleted_at"))
    return IndexLifecycle(
        index=state["index"],
        policy=state["policy"],
        state="deleted" if is_deleted else str(state["state"]),
        action=None if is_deleted else _next_action(policy, state),
        rolled_over_at=state.get("rolled_over_at"),
        deleted_at=state.get("deleted_at"),
    )


def _next_action(policy: QueryBody | None, state: dict[str, Any]) -> str:
    """Return the policy action the index waits for, or `transition` once all actions ran."""
    if policy is None:
        return "policy missing"
    states = {item["name"]: item for item in policy["policy"]["states"]}
    actions = states.get(state["state"], {}).get("actions", [])
    position = int(state.get("action_position", 0))
    if position >= len(actions):
        return "transition"
    return str(next(iter(actions[position])))


def _explained_state(backend: SearchBackend, index: str) -> IndexLifecycle:
    if backend.info.lifecycle_api == "ism":
        explained = (backend.get_json(f"/_plugins/_ism/explain/{index}") or {}).get(index, {})
        return IndexLifecycle(
            index=index,
            policy=explained.get("index.plugins.index_state_management.policy_id"),
            state=str((explained.get("state") or {}).get("name", "unmanaged")),
            action=(explained.get("action") or {}).get("name"),
        )
    explained = (backend.get_json(f"/{index}/_ilm/explain") or {}).get("indices", {})
    item = explained.get(index, {})
    return IndexLifecycle(
        index=index,
        policy=item.get("policy"),
        state=str(item.get("phase", "unmanaged")),
        action=item.get("action"),
    )
