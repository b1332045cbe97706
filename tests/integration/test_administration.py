"""Admin functions on the real node: role checks, apply and its actor, lifecycle state, users."""

from __future__ import annotations

import getpass
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from socwb.administration import (
    NOT_RUN_YET,
    apply_provisioning,
    coverage_overview,
    lifecycle_states,
    list_user_accounts,
    preview_apply,
    verify_integrity,
)
from socwb.auth import PermissionDenied, Principal, Role, UsersFile
from socwb.lifecycle_fallback import run_lifecycle
from socwb.provisioning import uses_lifecycle_fallback
from socwb.search import SearchBackend

pytestmark = pytest.mark.node

ADMIN = Principal("adam", frozenset({Role.ADMIN}))
ANALYST = Principal("ana", frozenset({Role.ANALYST}))
REVIEWER = Principal("rita", frozenset({Role.REVIEWER}))
AUDITOR = Principal("audrey", frozenset({Role.AUDITOR}))
PASSWORD = "admin test password 1"


def _index_one_event(backend: SearchBackend, namespace: str) -> str:
    """Write one event to an EDR data stream and return its backing index."""
    stream = f"logs-edr.test-{namespace}"
    backend.index_document(stream, {"@timestamp": "2026-01-01T00:00:00Z"}, refresh=True)
    found = backend.get_json(f"/_data_stream/{stream}")
    return str(found["data_streams"][0]["indices"][0]["index_name"])


@pytest.mark.parametrize("user", [ANALYST, REVIEWER, AUDITOR], ids=lambda user: user.name)
def test_apply_rejects_non_admin(backend: SearchBackend, namespace: str, user: Principal) -> None:
    with pytest.raises(PermissionDenied, match="needs the role admin"):
        apply_provisioning(user, backend, namespace)

    assert preview_apply(ADMIN, backend, namespace).count("unchanged") == 0


@pytest.mark.parametrize(
    "read",
    [
        lambda user, backend, namespace: preview_apply(user, backend, namespace),
        lambda user, backend, namespace: coverage_overview(user, backend, namespace),
        lambda user, backend, namespace: lifecycle_states(user, backend, namespace),
        lambda user, backend, namespace: verify_integrity(
            user, backend, namespace, datetime.now(UTC)
        ),
    ],
    ids=["preview", "coverage", "lifecycle", "integrity"],
)
def test_admin_reads_reject_analyst(backend: SearchBackend, namespace: str, read: object) -> None:
    with pytest.raises(PermissionDenied, match="may not provision"):
        read(ANALYST, backend, namespace)  # type: ignore[operator]


def test_preview_changes_nothing_and_apply_installs(
    backend: SearchBackend, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="socwb.provisioning")

    preview = preview_apply(ADMIN, backend, namespace)
    applied = apply_provisioning(ADMIN, backend, namespace)
    after = preview_apply(ADMIN, backend, namespace)

    assert preview.dry_run is True
    assert preview.count("create") == len(preview.changes)
    assert applied.count("create") == preview.count("create")
    assert after.count("unchanged") == len(after.changes)
    finished = [
        record.getMessage()
        for record in caplog.records
        if record.getMessage().startswith("apply finished")
    ]
    assert f"namespace={namespace} actor=adam dry_run=False" in finished[1]
    assert f"created={applied.count('create')}" in finished[1]


def test_lifecycle_states_list_every_backing_index(backend: SearchBackend, namespace: str) -> None:
    if not uses_lifecycle_fallback(backend):
        pytest.skip("the states come from the fallback records only without ISM")
    apply_provisioning(ADMIN, backend, namespace)
    index = _index_one_event(backend, namespace)

    before = lifecycle_states(ADMIN, backend, namespace)
    run_lifecycle(backend, namespace, datetime.now(UTC) + timedelta(days=31))
    after = lifecycle_states(ADMIN, backend, namespace)

    assert [(item.index, item.state) for item in before] == [(index, NOT_RUN_YET)]
    assert after[0].index == index
    assert after[0].policy == f"socwb-retention-edr-{namespace}"
    assert after[0].state == "hot"
    assert after[0].action == "transition"
    assert after[0].rolled_over_at is not None
    assert len(after) == 2
    assert after[1].state == NOT_RUN_YET
    run_lifecycle(backend, namespace, datetime.now(UTC) + timedelta(days=1))
    successor = lifecycle_states(ADMIN, backend, namespace)[1]
    assert successor.state == "hot"
    assert successor.action == "rollover"


def test_user_list_has_no_password_hashes(tmp_path: Path) -> None:
    users = UsersFile(tmp_path / "users.json")
    users.add("adam", PASSWORD, [Role.ADMIN])
    users.add("ana@example.org", None, [Role.ANALYST])
    users.disable("ana@example.org")

    accounts = list_user_accounts(ADMIN, users)

    assert [account.name for account in accounts] == ["adam", "ana@example.org"]
    assert [account.sign_in_method for account in accounts] == ["password", "oidc"]
    assert [account.is_disabled for account in accounts] == [False, True]
    assert not any("argon2" in repr(account) for account in accounts)
    with pytest.raises(PermissionDenied, match="may not administer_users"):
        list_user_accounts(REVIEWER, users)


def test_cli_apply_logs_os_user(search_url: str, namespace: str, backend: SearchBackend) -> None:
    environment = {name: value for name, value in os.environ.items() if name != "SOCWB_LOG_LEVEL"}
    environment.update({"SOCWB_SEARCH__URLS": search_url, "SOCWB_SEARCH__NAMESPACE": namespace})

    completed = subprocess.run(
        [sys.executable, "-m", "socwb", "apply", "--dry-run"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert f"apply started namespace={namespace} actor={getpass.getuser()}" in completed.stderr
    assert "dry_run=True" in completed.stderr
