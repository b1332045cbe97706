"""Off-hours privileged logins, data export baselines and new login locations on a real engine."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from socwb.detection import Detector
from socwb.rules.catalog import DATA_EXPORT_ABOVE_BASELINE, NEW_LOGIN_LOCATION, privileged_off_hours
from socwb.rules.model import iso
from socwb.search import SearchBackend
from socwb.settings import OrganisationSettings

from .conftest import index_events, stored_alerts

MakeDetector = Callable[..., Detector]
MIB = 1024 * 1024


def login(user: str, moment: datetime, address: str = "203.0.113.10", country: str = "DE") -> Any:
    return {
        "@timestamp": iso(moment),
        "event": {
            "kind": "event",
            "category": ["authentication"],
            "type": ["start"],
            "outcome": "success",
            "dataset": "idp.okta",
        },
        "user": {"name": user},
        "source": {"ip": address, "geo": {"country_iso_code": country}},
    }


def export(user: str, moment: datetime, size: int) -> Any:
    return {
        "@timestamp": iso(moment),
        "event": {
            "kind": "event",
            "category": ["database"],
            "type": ["access"],
            "action": "data-export",
            "dataset": "app.app_json",
        },
        "user": {"name": user},
        "socwb": {"data": {"bytes": size}},
    }


def test_privileged_login_at_night_alerts(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    night = datetime(2024, 3, 12, 1, 0, tzinfo=UTC)  # 02:00 in Berlin, a Tuesday
    day = datetime(2024, 3, 12, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
    events = [login("root", night), login("root", day), login("alice", night)]
    index_events(provisioned, f"logs-idp.okta-{namespace}", events)
    organisation = OrganisationSettings(timezone="Europe/Berlin")
    detector = make_detector(organisation=organisation)

    detector.run(privileged_off_hours(["root"]))

    alerts = stored_alerts(detector, "privileged_off_hours")
    assert [alert.entity_key for alert in alerts] == ["user.name=root"]
    assert alerts[0].first_event == night
    assert alerts[0].last_event == night


def test_export_above_three_times_baseline_alerts(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    stream = f"logs-app.app_json-{namespace}"
    today = (datetime.now(UTC) - timedelta(minutes=30)).replace(second=0, microsecond=0)
    history = [
        export(user, today - timedelta(days=day, hours=2), 50 * MIB)
        for user in ("carol", "dave")
        for day in range(1, 8)
    ]
    index_events(provisioned, stream, history)
    detector = make_detector(settings=long_first_run())
    detector.run(DATA_EXPORT_ABOVE_BASELINE)

    burst = [
        export("carol", today, 80 * MIB),
        export("carol", today + timedelta(minutes=20), 80 * MIB),
        export("dave", today, 120 * MIB),
        export("erin", today, 200 * MIB),
    ]
    index_events(provisioned, stream, burst)
    record = detector.run(DATA_EXPORT_ABOVE_BASELINE)

    alerts = {alert.entity_key: alert for alert in stored_alerts(detector)}
    assert sorted(alerts) == ["user.name=carol", "user.name=erin"]
    assert alerts["user.name=carol"].evidence.buckets["limit"] == 150 * MIB
    assert alerts["user.name=carol"].evidence.buckets["peak"] == 160 * MIB
    assert alerts["user.name=carol"].count == 2
    assert record.buckets == 3


def long_first_run() -> Any:
    from .conftest import TEST_SETTINGS

    return TEST_SETTINGS.model_copy(update={"first_run_lookback": timedelta(hours=1)})


def test_known_login_location_survives_restart(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    stream = f"logs-idp.okta-{namespace}"
    today = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0)
    history = [login("user004", today - timedelta(days=day)) for day in range(1, 11)]
    index_events(provisioned, stream, history)
    make_detector().run(NEW_LOGIN_LOCATION)

    latest = [
        login("user004", today),
        login("user004", today + timedelta(seconds=30), "198.51.100.20", "US"),
        login("user004", today + timedelta(seconds=40), "198.51.100.21", "DE"),
        login("newbie", today, "198.51.100.30", "FR"),
    ]
    index_events(provisioned, stream, latest)
    restarted = make_detector()
    restarted.run(NEW_LOGIN_LOCATION)
    restarted.run(NEW_LOGIN_LOCATION)

    alerts = {alert.entity_key: alert for alert in stored_alerts(restarted)}
    assert sorted(alerts) == [
        "user.name=user004 source.ip=198.51.100.20",
        "user.name=user004 source.ip=198.51.100.21",
    ]
    assert alerts["user.name=user004 source.ip=198.51.100.20"].flags == {"is_new_country": True}
    assert alerts["user.name=user004 source.ip=198.51.100.21"].flags == {"is_new_country": False}
    assert alerts["user.name=user004 source.ip=198.51.100.20"].severity.value == "Medium"
