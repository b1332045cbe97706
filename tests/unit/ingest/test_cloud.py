"""AWS CloudTrail, AWS WAF and Azure activity log normalization."""

from __future__ import annotations

import json

from socwb.ingest.model import Rejected

from .conftest import field

CLOUDTRAIL_TESTS = "cloud/aws_cloudtrail_panther_tests.json"
CLOUDTRAIL_EXFIL = "cloud/aws_cloudtrail_ec2_proxy_s3_exfiltration.ndjson"
CLOUDTRAIL_SCENARIO = "cloud/aws_cloudtrail_scenario_enrichment_example.json"


def test_cloudtrail_attach_admin_policy_marks_escalation(sample_event):
    event = sample_event("aws_cloudtrail", CLOUDTRAIL_TESTS, "policy/AdministratorAccess")

    assert event["@timestamp"] == "2019-01-01T00:00:00.000Z"
    assert field(event, "event.action") == "AttachUserPolicy"
    assert field(event, "event.outcome") == "success"
    assert field(event, "event.category") == ["iam"]
    assert field(event, "event.type") == ["change", "user", "admin"]
    assert field(event, "user.name") == "Tester"
    assert field(event, "user.target.name") == "new-user"
    assert field(event, "source.ip") == "27.136.86.127"
    assert field(event, "socwb.iam.permission") == "arn:aws:iam::aws:policy/AdministratorAccess"
    assert field(event, "socwb.iam.is_escalation") is True


def test_cloudtrail_attach_ordinary_policy_is_no_escalation(sample_event):
    event = sample_event("aws_cloudtrail", CLOUDTRAIL_SCENARIO, "AmazonEC2FullAccess")

    assert event["@timestamp"] == "2020-11-01T08:36:02.000Z"
    assert field(event, "user.name") == "root"
    assert field(event, "user.target.name") == "wlambert"
    assert field(event, "socwb.iam.permission") == "arn:aws:iam::aws:policy/AmazonEC2FullAccess"
    assert field(event, "socwb.iam.is_escalation") is None
    assert "admin" not in field(event, "event.type")


def test_cloudtrail_deny_all_inline_policy_is_no_escalation(sample_event):
    event = sample_event("aws_cloudtrail", CLOUDTRAIL_TESTS, "TestUserDenyAll")

    assert field(event, "event.action") == "PutUserPolicy"
    assert field(event, "socwb.iam.permission") == "TestUserDenyAll"
    assert field(event, "socwb.iam.is_escalation") is None


def test_cloudtrail_wildcard_inline_policy_marks_escalation(parse_lines):
    record = {
        "eventTime": "2024-03-01T10:00:00Z",
        "eventID": "b1",
        "eventSource": "iam.amazonaws.com",
        "eventName": "PutRolePolicy",
        "userIdentity": {"type": "IAMUser", "userName": "mallory"},
        "sourceIPAddress": "198.51.100.7",
        "requestParameters": {
            "roleName": "app",
            "policyName": "everything",
            "policyDocument": json.dumps(
                {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
            ),
        },
    }

    [event] = parse_lines("aws_cloudtrail", [json.dumps(record)])

    assert field(event, "socwb.iam.is_escalation") is True
    assert field(event, "socwb.iam.permission") == "everything"


def test_cloudtrail_security_group_open_to_world(sample_event):
    event = sample_event("aws_cloudtrail", CLOUDTRAIL_TESTS, '"cidrIp":"0.0.0.0/0"')

    assert event["@timestamp"] == "2020-04-30T04:40:52.000Z"
    assert field(event, "event.action") == "AuthorizeSecurityGroupIngress"
    assert field(event, "event.category") == ["configuration", "network"]
    assert field(event, "event.type") == ["change"]
    assert field(event, "rule.id") == "sg-0d921df5d84f7270a"
    assert field(event, "user.name") == "Operator"
    assert field(event, "source.ip") == "9.155.29.118"
    assert field(event, "socwb.network.is_open_to_world") is True


def test_cloudtrail_single_host_rule_not_open(sample_event):
    event = sample_event("aws_cloudtrail", CLOUDTRAIL_TESTS, '"cidrIp":"127.0.0.1/32"')

    assert field(event, "event.action") == "AuthorizeSecurityGroupIngress"
    assert field(event, "socwb.network.is_open_to_world") is None


def test_cloudtrail_network_acl_entry_open_to_world(sample_event):
    event = sample_event("aws_cloudtrail", CLOUDTRAIL_TESTS, '"networkAclId":"acl-1"')

    assert field(event, "event.action") == "CreateNetworkAclEntry"
    assert field(event, "event.type") == ["creation"]
    assert field(event, "rule.id") == "acl-1"
    assert field(event, "socwb.network.is_open_to_world") is True


def test_cloudtrail_s3_get_object_sets_bytes(sample_event):
    event = sample_event("aws_cloudtrail", CLOUDTRAIL_EXFIL, '"eventName":"GetObject"')

    assert event["@timestamp"] == "2020-09-14T01:02:34.000Z"
    assert field(event, "event.category") == ["file"]
    assert field(event, "event.type") == ["access"]
    assert field(event, "file.path") == "mordors3stack-s3bucket-llp2yingx64a/ring.txt"
    assert field(event, "socwb.data.bytes") == 89
    assert field(event, "source.ip") == "101.161.217.47"
    assert field(event, "event.id") == "771299cb-e200-4926-9604-c85358b30499"


def test_cloudtrail_console_login_failure(sample_event):
    event = sample_event("aws_cloudtrail", CLOUDTRAIL_TESTS, '"ConsoleLogin":"Failure"')

    assert field(event, "event.category") == ["authentication"]
    assert field(event, "event.type") == ["start"]
    assert field(event, "event.outcome") == "failure"
    assert field(event, "user.name") == "alice"


def test_cloudtrail_records_document_yields_one_event_per_record(parse_lines):
    document = json.dumps(
        {
            "Records": [
                {"eventTime": "2024-01-01T00:00:00Z", "eventName": "ListUsers", "eventID": "1"},
                {"eventTime": "2024-01-01T00:00:01Z", "eventName": "ListRoles", "eventID": "2"},
                "not an object",
            ]
        },
        indent=1,
    )

    results = parse_lines("aws_cloudtrail", document.splitlines(keepends=True))

    assert [field(r, "event.action") for r in results[:2]] == ["ListUsers", "ListRoles"]
    assert isinstance(results[2], Rejected)
    assert results[2].reason == "expected a JSON object, found str"


def test_cloudtrail_truncated_document_is_one_rejection(parse_lines):
    results = parse_lines("aws_cloudtrail", ['{"Records": [\n', '{"eventName": "X"\n'])

    assert len(results) == 1
    assert isinstance(results[0], Rejected)
    assert results[0].reason.startswith("invalid JSON at column")


def test_aws_waf_block_is_request_blocked(sample_event):
    event = sample_event("aws_waf", "waf/aws_waf_panther_tests.ndjson", "/wp-admin/")

    assert event["@timestamp"] == "2024-03-20T10:30:00.000Z"
    assert field(event, "event.action") == "request-blocked"
    assert field(event, "event.outcome") == "failure"
    assert field(event, "event.type") == ["denied"]
    assert field(event, "rule.id") == "AWS-AWSManagedRulesAdminProtectionRuleSet"
    assert field(event, "source.ip") == "203.0.113.45"
    assert field(event, "url.original") == "/wp-admin/"
    assert field(event, "http.request.method") == "GET"


def test_aws_waf_rate_based_rule_is_rate_limited(parse_lines):
    record = {
        "timestamp": 1710930600000,
        "webaclId": "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/test/1",
        "terminatingRuleId": "per-ip-limit",
        "terminatingRuleType": "RATE_BASED",
        "action": "BLOCK",
        "httpRequest": {"clientIp": "198.51.100.9", "uri": "/login", "httpMethod": "POST"},
    }

    [event] = parse_lines("aws_waf", [json.dumps(record)])

    assert event["@timestamp"] == "2024-03-20T10:30:00.000Z"
    assert field(event, "event.action") == "rate-limited"
    assert field(event, "rule.id") == "per-ip-limit"


def test_azure_activity_security_rule_write(sample_event):
    event = sample_event(
        "azure_activity", "cloud/azure_activity_panther_tests.ndjson", "securityRules/AllowRDP"
    )

    assert event["@timestamp"] == "2024-12-17T14:00:00.000Z"
    assert field(event, "event.category") == ["configuration", "network"]
    assert field(event, "event.type") == ["change"]
    assert field(event, "rule.name") == "AllowRDP"
    assert field(event, "source.ip") == "104.222.99.65"
    assert field(event, "cloud.account.id") == "12c19161-6e9b-462c-a9bf-31e71c589096"


def test_azure_internet_rule_open_to_world(parse_lines):
    body = {"properties": {"sourceAddressPrefix": "*", "access": "Allow", "direction": "Inbound"}}
    record = {
        "time": "2024-12-17T14:00:00Z",
        "operationName": "Microsoft.Network/networkSecurityGroups/securityRules/write",
        "category": "Administrative",
        "resultType": "Success",
        "resourceId": (
            "/subscriptions/s1/providers/Microsoft.Network/networkSecurityGroups/n"
            "/securityRules/Any"
        ),
        "properties": {"requestbody": json.dumps(body)},
    }

    [event] = parse_lines("azure_activity", [json.dumps(record)])

    assert field(event, "socwb.network.is_open_to_world") is True


def test_azure_activity_owner_role_assignment_marks_escalation(parse_lines):
    definition = (
        "/subscriptions/s1/providers/Microsoft.Authorization/roleDefinitions/"
        "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
    )
    record = {
        "time": "2024-12-17T14:00:00Z",
        "operationName": "Microsoft.Authorization/roleAssignments/write",
        "category": "Administrative",
        "resultType": "Success",
        "resourceId": "/subscriptions/s1/providers/Microsoft.Authorization/roleAssignments/r1",
        "identity": {"claims": {"name": "admin@example.com"}},
        "properties": {
            "requestbody": json.dumps(
                {"properties": {"roleDefinitionId": definition, "principalId": "p1"}}
            )
        },
    }

    [event] = parse_lines("azure_activity", [json.dumps(record)])

    assert field(event, "event.category") == ["iam"]
    assert field(event, "event.type") == ["change", "admin"]
    assert field(event, "user.name") == "admin@example.com"
    assert field(event, "socwb.iam.permission") == "Owner"
    assert field(event, "socwb.iam.is_escalation") is True
