"""Keycloak user events and admin events."""

from __future__ import annotations

import json

import pytest

from socwb.ingest.detect import detect_format
from socwb.ingest.model import Rejected

from .conftest import TEST_DATA, events_of, field, parse_file

SAMPLE = TEST_DATA / "keycloak_events.ndjson"
ADMIN_ID = "11111111-2222-4333-8444-555555555555"


def _event_with_id(event_id):
    for event in events_of(parse_file("keycloak", SAMPLE)):
        if field(event, "event.id") == event_id:
            return event
    raise AssertionError(f"no Keycloak event with id {event_id}")


def test_keycloak_sample_parses_completely():
    results = parse_file("keycloak", SAMPLE)

    assert len(results) == 6
    assert not [result for result in results if isinstance(result, Rejected)]


def test_keycloak_login_error():
    event = _event_with_id("5b1f4c2e-0d5a-4c1f-9a61-3f2e8d0c1a01")

    assert event["@timestamp"] == "2024-03-20T10:15:00.000Z"
    assert field(event, "event.action") == "login-failed"
    assert field(event, "event.category") == ["authentication"]
    assert field(event, "event.type") == ["start", "denied"]
    assert field(event, "event.outcome") == "failure"
    assert field(event, "event.reason") == "invalid_user_credentials"
    assert field(event, "user.name") == "alice"
    assert field(event, "source.ip") == "203.0.113.61"
    assert field(event, "keycloak.realm") == "corp"
    assert field(event, "event.dataset") == "idp.keycloak"


def test_keycloak_login():
    event = _event_with_id("5b1f4c2e-0d5a-4c1f-9a61-3f2e8d0c1a02")

    assert event["@timestamp"] == "2024-03-20T10:16:00.500Z"
    assert field(event, "event.action") == "login-succeeded"
    assert field(event, "event.type") == ["start"]
    assert field(event, "event.outcome") == "success"
    assert field(event, "user.name") == "alice"


def test_keycloak_totp_update_is_mfa_change():
    event = _event_with_id("5b1f4c2e-0d5a-4c1f-9a61-3f2e8d0c1a03")

    assert field(event, "event.action") == "update-totp"
    assert field(event, "event.type") == ["change"]
    assert field(event, "socwb.auth.is_mfa_event") is True
    assert field(event, "tags") == ["mfa"]


def test_keycloak_realm_admin_role_mapping_marks_escalation():
    event = _event_with_id("9a8b7c6d-0000-4000-8000-000000000001")

    assert event["@timestamp"] == "2024-03-20T10:18:20.000Z"
    assert field(event, "event.action") == "role-granted"
    assert field(event, "event.category") == ["iam"]
    assert field(event, "event.type") == ["user", "change", "admin"]
    assert field(event, "event.outcome") == "success"
    assert field(event, "user.id") == ADMIN_ID
    assert field(event, "user.name") is None
    assert field(event, "user.target.id") == "8c3d1f7a-2b4e-4f0a-9d6c-5e7f8a9b0c11"
    assert field(event, "source.ip") == "10.0.0.21"
    assert field(event, "socwb.iam.permission") == "realm-admin"
    assert field(event, "socwb.iam.is_escalation") is True


def test_keycloak_ordinary_role_mapping_is_no_escalation():
    event = _event_with_id("9a8b7c6d-0000-4000-8000-000000000002")

    assert field(event, "event.action") == "role-granted"
    assert field(event, "socwb.iam.permission") == "offline_access"
    assert field(event, "socwb.iam.is_escalation") is None


def test_keycloak_admin_group_membership_marks_escalation():
    event = _event_with_id("9a8b7c6d-0000-4000-8000-000000000003")

    assert field(event, "event.action") == "group-member-added"
    assert field(event, "event.type") == ["group", "change", "admin"]
    assert field(event, "group.name") == "platform-admins"
    assert field(event, "socwb.iam.is_escalation") is True


def test_keycloak_role_mapping_removal_is_revocation(parse_lines):
    record = {
        "time": 1710930000000,
        "realmId": "corp",
        "authDetails": {"userId": ADMIN_ID, "ipAddress": "10.0.0.21"},
        "operationType": "DELETE",
        "resourceType": "REALM_ROLE_MAPPING",
        "resourcePath": "users/u1/role-mappings/realm",
        "representation": [{"name": "realm-admin"}],
    }

    [event] = parse_lines("keycloak", [json.dumps(record)])

    assert field(event, "event.action") == "role-revoked"
    assert field(event, "socwb.iam.permission") == "realm-admin"
    assert field(event, "socwb.iam.is_escalation") is None


def test_keycloak_logout_is_not_authentication(parse_lines):
    record = {"time": 1710930000000, "type": "LOGOUT", "realmId": "corp", "userId": "u1"}

    [event] = parse_lines("keycloak", [json.dumps(record)])

    assert field(event, "event.action") == "logout"
    assert field(event, "event.category") == ["session"]
    assert field(event, "event.type") == ["end"]


def test_keycloak_event_without_time_is_rejected(parse_lines):
    record = {"type": "LOGIN", "realmId": "corp", "time": None}

    [result] = parse_lines("keycloak", [json.dumps(record)])

    assert isinstance(result, Rejected)
    assert "no valid time field" in result.reason


@pytest.mark.parametrize("source", [None, "idp"])
def test_keycloak_detected(source):
    head = SAMPLE.read_text(encoding="utf-8")

    assert detect_format(head, source=source).name == "keycloak"


@pytest.mark.parametrize(
    ("credential_type", "is_mfa"),
    [("otp", True), ("webauthn", True), ("password", None)],
    ids=["otp", "webauthn", "password"],
)
def test_keycloak_credential_update_mfa_flag(parse_lines, credential_type, is_mfa):
    record = {
        "time": 1710930000000,
        "type": "UPDATE_CREDENTIAL",
        "realmId": "corp",
        "details": {"username": "alice", "credential_type": credential_type},
    }

    [event] = parse_lines("keycloak", [json.dumps(record)])

    assert field(event, "event.action") == "update-credential"
    assert field(event, "socwb.auth.is_mfa_event") is is_mfa
