"""GitLab audit events: membership, protected branches, deployments and deploy keys."""

from __future__ import annotations

import json

import pytest

from socwb.ingest.detect import detect_format
from socwb.ingest.model import Rejected

from .conftest import TEST_DATA, events_of, field, parse_file

SAMPLE = TEST_DATA / "gitlab_audit.ndjson"


def _event_with_id(event_id):
    for event in events_of(parse_file("gitlab_audit", SAMPLE)):
        if field(event, "event.id") == event_id:
            return event
    raise AssertionError(f"no GitLab audit event with id {event_id}")


def test_gitlab_sample_parses_completely():
    results = parse_file("gitlab_audit", SAMPLE)

    assert len(results) == 6
    assert not [result for result in results if isinstance(result, Rejected)]


def test_gitlab_owner_grant_marks_escalation():
    event = _event_with_id("4101")

    assert event["@timestamp"] == "2024-03-20T10:15:05.123Z"
    assert field(event, "event.action") == "member-added"
    assert field(event, "event.category") == ["iam"]
    assert field(event, "event.type") == ["user", "creation", "admin"]
    assert field(event, "event.outcome") == "success"
    assert field(event, "user.name") == "root"
    assert field(event, "user.target.name") == "mallory"
    assert field(event, "source.ip") == "203.0.113.77"
    assert field(event, "socwb.iam.permission") == "Owner"
    assert field(event, "socwb.iam.is_escalation") is True
    assert field(event, "event.dataset") == "cicd.gitlab_audit"


def test_gitlab_api_record_role_change_without_event_type():
    event = _event_with_id("4102")

    assert event["@timestamp"] == "2024-03-20T10:20:00.000Z"
    assert field(event, "event.action") == "member-role-changed"
    assert field(event, "event.type") == ["user", "change"]
    assert field(event, "user.name") == "carol"
    assert field(event, "user.target.name") == "dave"
    assert field(event, "source.ip") == "10.0.0.30"
    assert field(event, "socwb.iam.permission") == "Maintainer"
    assert field(event, "socwb.iam.is_escalation") is None


def test_gitlab_protected_branch_removed_is_tagged():
    event = _event_with_id("4103")

    assert field(event, "event.action") == "protected-branch-removed"
    assert field(event, "event.category") == ["configuration"]
    assert field(event, "event.type") == ["deletion"]
    assert field(event, "gitlab.branch") == "main"
    assert field(event, "tags") == ["security-control-disabled"]


def test_gitlab_force_push_allowed_is_tagged():
    event = _event_with_id("4104")

    assert field(event, "event.action") == "protected-branch-changed"
    assert field(event, "gitlab.branch") == "release"
    assert field(event, "tags") == ["security-control-disabled"]


def test_gitlab_deployment_started():
    event = _event_with_id("4105")

    assert event["@timestamp"] == "2024-03-20T10:30:00.000Z"
    assert field(event, "event.action") == "deployment-started"
    assert field(event, "event.category") == ["process"]
    assert field(event, "event.type") == ["start"]
    assert field(event, "user.name") == "deploy-bot"


def test_gitlab_deploy_key_added():
    event = _event_with_id("4106")

    assert field(event, "event.action") == "deploy-key-added"
    assert field(event, "event.category") == ["iam"]
    assert field(event, "event.type") == ["creation"]


def test_gitlab_member_removed_has_no_permission(parse_lines):
    record = {
        "id": 1,
        "author_id": 1,
        "entity_type": "Group",
        "details": {"remove": "user_access", "author_name": "root", "target_details": "eve"},
        "created_at": "2024-03-20T11:00:00Z",
    }

    [event] = parse_lines("gitlab_audit", [json.dumps(record)])

    assert field(event, "event.action") == "member-removed"
    assert field(event, "event.type") == ["user", "deletion"]
    assert field(event, "user.target.name") == "eve"
    assert field(event, "socwb.iam.is_escalation") is None


def test_gitlab_event_without_created_at_is_rejected(parse_lines):
    record = {"author_id": 1, "entity_type": "Group", "details": {"add": "user_access"}}

    [result] = parse_lines("gitlab_audit", [json.dumps(record)])

    assert isinstance(result, Rejected)
    assert "no valid created_at field" in result.reason


@pytest.mark.parametrize("source", [None, "cicd"])
def test_gitlab_detected(source):
    head = SAMPLE.read_text(encoding="utf-8")

    assert detect_format(head, source=source).name == "gitlab_audit"
