"""Attack-pattern rules on a real engine: spraying, failures then success, MFA fatigue, travel."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from socwb.detection import Detector
from socwb.rules.catalog import (
    FAILURES_THEN_SUCCESS,
    IMPOSSIBLE_TRAVEL,
    MFA_PUSH_FATIGUE,
    PASSWORD_SPRAYING,
)
from socwb.rules.model import iso
from socwb.search import SearchBackend

from .conftest import auth_failure, every, index_events, normalize, stored_alerts

MakeDetector = Callable[..., Detector]
ATTACKER = "198.51.100.7"
BULK_BATCH = 5000


def okta_stream(namespace: str) -> str:
    return f"logs-idp.okta-{namespace}"


def recent_start() -> datetime:
    """A minute-aligned time a few minutes ago, so every event is in the past."""
    return (datetime.now(UTC) - timedelta(minutes=20)).replace(second=0, microsecond=0)


def failure_from(address: str, user: str, moment: datetime) -> dict[str, Any]:
    event = auth_failure(user, moment)
    event["source"] = {"ip": address}
    return event


def login(user: str, moment: datetime, country: str, address: str) -> dict[str, Any]:
    """A successful Okta login as the okta normalizer emits it, with GeoIP country."""
    return {
        "@timestamp": iso(moment),
        "event": {
            "kind": "event",
            "category": ["authentication"],
            "type": ["start"],
            "action": "user.session.start",
            "outcome": "success",
            "dataset": "idp.okta",
        },
        "user": {"name": user},
        "source": {"ip": address, "geo": {"country_iso_code": country}},
    }


def duo_push(user: str, moment: datetime, result: str, reason: str, txid: str) -> Any:
    """A Duo authentication log record for a push, run through the duo normalizer."""
    record = {
        "event_type": "authentication",
        "factor": "duo_push",
        "result": result,
        "reason": reason,
        "isotimestamp": iso(moment),
        "timestamp": int(moment.timestamp()),
        "txid": txid,
        "user": {"name": user},
        "access_device": {"ip": "203.0.113.20"},
        "application": {"name": "VPN"},
    }
    return normalize("duo", record)


def noise_events(start: datetime, addresses: int) -> Iterator[dict[str, Any]]:
    """Failures from many addresses with one or two users each; every 50th sends 20 events."""
    for number in range(addresses):
        address = f"10.{number // 65536}.{number // 256 % 256}.{number % 256}"
        users = [f"user{number % 900:03d}", f"user{(number + 1) % 900:03d}"][: 1 + number % 2]
        repeats = 20 if number % 50 == 0 else 1
        for repeat in range(repeats):
            moment = start + timedelta(seconds=(number + repeat * 7) % 240)
            yield failure_from(address, users[repeat % len(users)], moment)


def index_in_batches(backend: SearchBackend, stream: str, events: Iterator[dict[str, Any]]) -> int:
    batch: list[dict[str, Any]] = []
    total = 0
    for event in events:
        batch.append(event)
        if len(batch) == BULK_BATCH:
            index_events(backend, stream, batch)
            total += len(batch)
            batch = []
    if batch:
        index_events(backend, stream, batch)
        total += len(batch)
    return total


def test_spraying_found_among_fifteen_thousand_addresses(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    start = recent_start()
    noise = index_in_batches(provisioned, okta_stream(namespace), noise_events(start, 15_000))
    attack = [
        failure_from(ATTACKER, f"user{500 + number:03d}", start + timedelta(seconds=20 * number))
        for number in range(12)
    ]
    index_events(provisioned, okta_stream(namespace), attack)
    detector = make_detector()

    record = detector.run(PASSWORD_SPRAYING)
    again = detector.run(PASSWORD_SPRAYING)

    alerts = stored_alerts(detector, "password_spraying")
    assert [alert.entity_key for alert in alerts] == [f"source.ip={ATTACKER}"]
    assert alerts[0].evidence.buckets["peak"] == 12
    assert alerts[0].count == 12
    assert alerts[0].severity.value == "High"
    assert alerts[0].due_at - alerts[0].created_at == timedelta(hours=1)
    assert record.hits == noise + 12
    assert record.buckets == 15_001
    assert (again.alerts_created, again.alerts_updated) == (0, 0)


def test_spraying_ten_users_no_alert(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    start = recent_start()
    events = [
        failure_from(ATTACKER, f"user{number % 10:03d}", moment)
        for number, moment in enumerate(every(start, 5, 40))
    ]
    index_events(provisioned, okta_stream(namespace), events)
    detector = make_detector()

    detector.run(PASSWORD_SPRAYING)

    assert stored_alerts(detector, "password_spraying") == []


def test_failures_then_success_alerts_once(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    start = recent_start()
    failures = [auth_failure("user025", moment) for moment in every(start, 45, 8)]
    # user026 fails 4 times only, and user027 succeeds 11 minutes after 5 failures.
    few = [auth_failure("user026", moment) for moment in every(start, 30, 4)]
    old = [auth_failure("user027", moment) for moment in every(start, 10, 5)]
    successes = [
        login("user025", start + timedelta(minutes=7, seconds=5), "DE", "203.0.113.10"),
        login("user026", start + timedelta(minutes=3), "DE", "203.0.113.11"),
        login("user027", start + timedelta(minutes=11, seconds=40), "DE", "203.0.113.12"),
    ]
    index_events(provisioned, okta_stream(namespace), failures + few + old + successes)
    detector = make_detector()

    detector.run(FAILURES_THEN_SUCCESS)
    detector.run(FAILURES_THEN_SUCCESS)

    alerts = stored_alerts(detector, "failures_then_success")
    assert [alert.entity_key for alert in alerts] == ["user.name=user025"]
    assert alerts[0].first_event == start
    assert alerts[0].last_event == start + timedelta(minutes=7, seconds=5)
    assert alerts[0].count == 9
    assert alerts[0].evidence.buckets["peak"] == 8


def test_mfa_push_fatigue_from_duo_records(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    start = recent_start()
    moments = every(start, 80, 6)
    pushes = [
        duo_push("user026", moment, "denied", "user_declined", f"tx-{number}")
        for number, moment in enumerate(moments[:5])
    ]
    pushes.append(duo_push("user026", moments[5], "success", "user_approved", "tx-5"))
    # user028 denies 4 pushes and then accepts one: no alert.
    pushes += [
        duo_push("user028", moment, "denied", "user_declined", f"ty-{number}")
        for number, moment in enumerate(moments[:4])
    ]
    pushes.append(duo_push("user028", moments[4], "success", "user_approved", "ty-4"))
    assert pushes[0]["event"]["action"] == "mfa-push-denied"
    index_events(provisioned, f"logs-idp.duo-{namespace}", pushes)
    detector = make_detector()

    detector.run(MFA_PUSH_FATIGUE)
    detector.run(FAILURES_THEN_SUCCESS)

    assert stored_alerts(detector, "failures_then_success") == []
    alerts = stored_alerts(detector, "mfa_push_fatigue")
    assert [alert.entity_key for alert in alerts] == ["user.name=user026"]
    assert alerts[0].first_event == start
    assert alerts[0].last_event == moments[5]
    assert alerts[0].count == 6
    assert alerts[0].evidence.buckets["peak"] == 5


def test_impossible_travel_germany_to_japan(
    make_detector: MakeDetector, provisioned: SearchBackend, namespace: str
) -> None:
    start = recent_start() - timedelta(hours=1)
    events = [
        login("user029", start, "DE", "31.16.10.1"),
        login("user029", start + timedelta(minutes=5), "DE", "31.16.10.1"),
        login("user029", start + timedelta(minutes=41), "JP", "27.80.10.1"),
        # user030 goes from Germany to the Netherlands in an hour: possible.
        login("user030", start - timedelta(minutes=50), "DE", "31.16.10.2"),
        login("user030", start + timedelta(minutes=10), "NL", "31.136.10.2"),
    ]
    index_events(provisioned, okta_stream(namespace), events)
    detector = make_detector()

    record = detector.run(IMPOSSIBLE_TRAVEL)
    detector.run(IMPOSSIBLE_TRAVEL)

    alerts = stored_alerts(detector, "impossible_travel")
    assert [alert.entity_key for alert in alerts] == ["user.name=user029"]
    buckets = alerts[0].evidence.buckets
    assert (buckets["from_country"], buckets["to_country"]) == ("DE", "JP")
    assert buckets["speed_kmh"] > 1000
    assert alerts[0].first_event == start + timedelta(minutes=5)
    assert alerts[0].last_event == start + timedelta(minutes=41)
    assert record.future_events == 0
