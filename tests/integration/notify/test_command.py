"""`socwb notify run` on the real node with a local webhook receiver."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from socwb.commands.notify import notify
from socwb.rules.model import Severity
from socwb.settings import Settings

from .conftest import AlertFactory, WebhookReceiver

pytestmark = pytest.mark.node


def write_config(path: Path, url: str) -> Path:
    config = {
        "channels": [{"kind": "webhook", "name": "hook", "url": url, "timeout": 5}],
        "notify_channels": ["hook"],
        "max_attempts": 1,
    }
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def test_notify_run_delivers_once(
    settings: Settings,
    make_alert: AlertFactory,
    receiver: WebhookReceiver,
    tmp_path: Path,
) -> None:
    make_alert(severity=Severity.CRITICAL)
    config = write_config(tmp_path / "notify.json", receiver.url())
    runner = CliRunner()

    first = runner.invoke(notify, ["run", "--config", str(config)], obj=settings)
    second = runner.invoke(notify, ["run", "--config", str(config)], obj=settings)

    assert first.exit_code == 0, first.output
    assert "delivered 1," in first.stdout
    assert second.exit_code == 0, second.output
    assert "delivered 0, escalated 0, skipped 1" in second.stdout
    assert len(receiver.requests) == 1


def test_notify_run_failure_exits_1(
    settings: Settings, make_alert: AlertFactory, closed_port_url: str, tmp_path: Path
) -> None:
    alert = make_alert(severity=Severity.HIGH)
    config = write_config(tmp_path / "notify.json", closed_port_url)

    result = CliRunner().invoke(notify, ["run", "--config", str(config)], obj=settings)

    assert result.exit_code == 1
    assert f"failed: {alert.id}/hook:" in result.stderr
    assert "s3cr3tT0k3nPath" not in result.stderr
