"""Alerts: the alert document, its status workflow and the store that writes it."""

from socwb.alerts.model import (
    ALLOWED_TRANSITIONS,
    Alert,
    AlertStatus,
    EntityValue,
    Evidence,
    check_transition,
)
from socwb.alerts.store import AlertStore, AlertWriteError

__all__ = [
    "ALLOWED_TRANSITIONS",
    "Alert",
    "AlertStatus",
    "AlertStore",
    "AlertWriteError",
    "EntityValue",
    "Evidence",
    "check_transition",
]
