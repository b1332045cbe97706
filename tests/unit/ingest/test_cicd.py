"""GitHub audit log and webhook normalization."""

from __future__ import annotations

import json

from .conftest import field

AUDIT = "cicd/github_audit_log_panther_tests.ndjson"


def test_github_business_add_admin_marks_escalation(sample_event):
    event = sample_event("github_audit", AUDIT, "business.add_admin")

    assert field(event, "event.category") == ["iam"]
    assert field(event, "event.type") == ["user", "change", "admin"]
    assert field(event, "user.name") == "cat"
    assert field(event, "user.target.name") == "bob"
    assert field(event, "socwb.iam.is_escalation") is True


def test_github_org_owner_grant_marks_escalation(parse_lines):
    record = {
        "action": "org.update_member",
        "actor": "alice",
        "user": "mallory",
        "org": "acme",
        "permission": "admin",
        "@timestamp": 1700000000000,
        "_document_id": "d1",
    }

    [event] = parse_lines("github_audit", [json.dumps(record)])

    assert event["@timestamp"] == "2023-11-14T22:13:20.000Z"
    assert field(event, "socwb.iam.is_escalation") is True
    assert field(event, "socwb.iam.permission") == "admin"


def test_github_disable_two_factor_requirement_is_tagged(sample_event):
    event = sample_event("github_audit", AUDIT, "org.disable_two_factor_requirement")

    assert event["@timestamp"] == "2021-05-18T02:31:58.553Z"
    assert field(event, "user.name") == "admin-user"
    assert "security-control-disabled" in event["tags"]
    assert field(event, "socwb.auth.is_mfa_event") is True


def test_github_webhook_workflow_job_completed(sample_event):
    event = sample_event(
        "github_webhook", "cicd/github_webhook_panther_tests.ndjson", "workflow_job"
    )

    assert event["@timestamp"] == "2025-10-15T18:47:18.000Z"
    assert field(event, "event.action") == "workflow_job.completed"
    assert field(event, "event.outcome") == "success"
    assert field(event, "process.name") == "Validate PR Title"
