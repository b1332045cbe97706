"""Identity provider normalization: Okta, Duo, Entra ID, Google Workspace, OneLogin."""

from __future__ import annotations

from .conftest import field

OKTA_SCENARIO = "idp/okta_scenario_bruteforce_then_admin_grant.ndjson"


def test_okta_privilege_grant_marks_escalation(sample_event):
    event = sample_event("okta", OKTA_SCENARIO, "user.account.privilege.grant")

    assert event["@timestamp"] == "2021-06-26T21:27:03.490Z"
    assert field(event, "event.action") == "user.account.privilege.grant"
    assert field(event, "event.outcome") == "success"
    assert field(event, "event.category") == ["iam"]
    assert field(event, "event.type") == ["user", "change", "admin"]
    assert field(event, "user.name") == "drew.holloway@org28.example"
    assert field(event, "user.target.name") == "wcastillo@gmail.com"
    assert field(event, "source.ip") == "192.70.71.24"
    assert field(event, "socwb.iam.is_escalation") is True
    assert field(event, "socwb.iam.permission") == (
        "Organization administrator, Application administrator (all)"
    )


def test_okta_failed_login(sample_event):
    event = sample_event("okta", OKTA_SCENARIO, '"result":"FAILURE"')

    assert event["@timestamp"] == "2021-06-25T21:27:03.490Z"
    assert field(event, "event.category") == ["authentication"]
    assert field(event, "event.type") == ["start"]
    assert field(event, "event.outcome") == "failure"
    assert field(event, "user.name") == "drew.holloway@org28.example"
    assert field(event, "source.ip") == "90.28.200.107"
    assert field(event, "source.geo.country_name") == "Argentina"


def test_okta_mfa_factor_deactivation_is_tagged_mfa(sample_event):
    event = sample_event(
        "okta", "idp/okta_system_log_panther_tests.ndjson", "user.mfa.factor.deactivate"
    )

    assert field(event, "event.action") == "mfa-factor-deactivated"
    assert field(event, "socwb.auth.is_mfa_event") is True
    assert "mfa" in event["tags"]
    assert field(event, "user.name") == "umoreau@contoso-corp.example"


def test_duo_push_denied_is_mfa_failure(sample_event):
    event = sample_event("duo", "idp/duo_auth_admin_panther_tests.ndjson", '"result":"denied"')

    assert field(event, "event.action") == "mfa-push-denied"
    assert field(event, "event.category") == ["authentication"]
    assert field(event, "event.outcome") == "failure"
    assert field(event, "user.name") == "rgallagher@coho.example"
    assert field(event, "source.ip") == "192.198.107.208"
    assert field(event, "socwb.auth.is_mfa_event") is True


def test_duo_admin_create_is_new_admin_account(sample_event):
    event = sample_event("duo", "idp/duo_auth_admin_panther_tests.ndjson", "admin_create")

    assert event["@timestamp"] == "2023-01-17T16:47:54.000Z"
    assert field(event, "event.type") == ["user", "creation", "admin"]
    assert field(event, "user.name") == "Jamie Jovanovic"
    assert field(event, "user.target.name") == "Xan Whitfield"
    assert field(event, "socwb.iam.permission") == "Owner"
    assert field(event, "socwb.iam.is_escalation") is True


def test_azure_ad_elevate_access_marks_escalation(sample_event):
    event = sample_event(
        "azure_ad", "idp/azure_ad_signin_audit_panther_tests.ndjson", "elevated their access"
    )

    assert event["@timestamp"] == "2025-01-15T08:45:30.123Z"
    assert field(event, "event.category") == ["iam"]
    assert "admin" in field(event, "event.type")
    assert field(event, "user.name") == "wgallagher@fourthcoffee.example"
    assert field(event, "source.ip") == "164.48.157.18"
    assert field(event, "socwb.iam.permission") == "User Access Administrator"
    assert field(event, "socwb.iam.is_escalation") is True


def test_azure_ad_sign_in_failure(sample_event):
    event = sample_event(
        "azure_ad", "idp/azure_ad_signin_audit_panther_tests.ndjson", '"errorCode":50126'
    )

    assert event["@timestamp"] == "2025-01-15T09:30:45.123Z"
    assert field(event, "event.action") == "sign-in-failed"
    assert field(event, "event.outcome") == "failure"
    assert field(event, "user.name") == "dlambert@fourthcoffee.example"
    assert field(event, "source.ip") == "209.248.232.21"
    assert field(event, "error.code") == "50126"


def test_google_assign_admin_role_marks_escalation(sample_event):
    event = sample_event(
        "google_workspace", "idp/google_workspace_activity_panther_tests.ndjson", "ASSIGN_ROLE"
    )

    assert field(event, "event.type") == ["user", "change", "admin"]
    assert field(event, "user.name") == "kquintero@example.com"
    assert field(event, "user.target.name") == "bob@example.com"
    assert field(event, "socwb.iam.permission") == "Some Admin Role"
    assert field(event, "socwb.iam.is_escalation") is True


def test_google_login_failure(sample_event):
    event = sample_event(
        "google_workspace", "idp/google_workspace_activity_panther_tests.ndjson", "login_failure"
    )

    assert field(event, "event.category") == ["authentication"]
    assert field(event, "event.outcome") == "failure"
    assert field(event, "user.name") == "bob@example.com"
    assert field(event, "source.ip") == "27.136.86.127"


def test_onelogin_failed_authentication(sample_event):
    event = sample_event(
        "onelogin", "idp/onelogin_events_panther_tests.ndjson", '"event_type_id":"6"'
    )

    assert event["tags"] == ["timestamp_from_context"]
    assert field(event, "event.action") == "login-failed"
    assert field(event, "event.outcome") == "failure"
    assert field(event, "user.name") == "Marley Zeller"
