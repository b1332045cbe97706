"""Read ElastAlert 2's alert documents and turn them into socwb alerts for evaluation.

ElastAlert 2 writes each alert it sends to its writeback index as a document
with `rule_name`, `match_body` (the matching event, or for flatline rules a
summary with `key` and `count`) and `alert_time`. The rule files in
`bench/elastalert/` use the socwb rule id as their name, so each document maps
to the socwb rule, its group-by fields and its severity.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from socwb.alerts.model import Alert, EntityValue, entity_key
from socwb.rules.catalog import get_rule
from socwb.rules.model import Rule, SilenceSpec
from socwb.search import SearchBackend

PAGE_SIZE = 1000


def elastalert_alerts(backend: SearchBackend, index: str) -> list[Alert]:
    """Return one socwb `Alert` per alert document in ElastAlert's writeback index."""
    backend.refresh(index)
    rules: dict[str, Rule] = {}
    alerts = []
    for document_id, source in _alert_documents(backend, index):
        rule_id = source["rule_name"]
        if rule_id not in rules:
            rules[rule_id] = get_rule(rule_id)
        alerts.append(to_alert(document_id, source, rules[rule_id]))
    return alerts


def _alert_documents(backend: SearchBackend, index: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Yield (id, source) of every document with a `rule_name`, paged with search_after."""
    body: dict[str, Any] = {
        "size": PAGE_SIZE,
        "query": {"exists": {"field": "rule_name"}},
        "sort": [{"alert_time": "asc"}, {"_id": "asc"}],
    }
    while True:
        hits = backend.search(index, body)["hits"]["hits"]
        for hit in hits:
            yield hit["_id"], hit["_source"]
        if len(hits) < PAGE_SIZE:
            return
        body["search_after"] = hits[-1]["sort"]


def to_alert(document_id: str, source: Mapping[str, Any], rule: Rule) -> Alert:
    """Build the socwb `Alert` that represents one ElastAlert alert document (pure)."""
    match = source["match_body"]
    event_time = _parse_time(match["@timestamp"])
    alert_time = _parse_time(source["alert_time"])
    entity = [EntityValue(field=name, value=_entity_value(match, name)) for name in _group_by(rule)]
    return Alert(
        id=document_id,
        rule_id=rule.id,
        rule_name=rule.name,
        severity=rule.severity,
        created_at=alert_time,
        due_at=alert_time + rule.response_time,
        updated_at=alert_time,
        last_seen=alert_time,
        entity=entity,
        entity_key=entity_key(entity),
        first_event=event_time,
        last_event=event_time,
        count=int(match.get("count", 1)),
        criteria=rule.criteria,
        policy_clause=rule.policy_clause,
        run_id="elastalert",
    )


def _group_by(rule: Rule) -> list[str]:
    """Return the rule's entity fields, only the host for the flatline rule."""
    if isinstance(rule.spec, SilenceSpec):
        return [rule.spec.host_field]
    return list(rule.spec.group_by)


def _entity_value(match: Mapping[str, Any], field: str) -> str | None:
    """Return a dotted field of the match, or the flatline summary's `key` for host.name."""
    value: Any = match
    for part in field.split("."):
        if not isinstance(value, Mapping) or part not in value:
            value = None
            break
        value = value[part]
    if value is None and "key" in match and field == "host.name":
        value = match["key"]
    return None if value is None else str(value)


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
