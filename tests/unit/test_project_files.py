"""compose.yaml, the README's configuration table and the CLI help agree with the code."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from click.testing import CliRunner

from socwb.cli import cli
from socwb.settings import Settings, settings_reference

REPO_ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((REPO_ROOT / "compose.yaml").read_text(encoding="utf-8"))


def _setting_variables() -> set[str]:
    return {variable for variable, _, _ in settings_reference()}


def test_compose_has_engines_detectors_and_workbench() -> None:
    services = _compose()["services"]

    assert set(services) == {
        "opensearch",
        "elasticsearch",
        "opensearch-node1",
        "opensearch-node2",
        "opensearch-node3",
        "detectors",
        "workbench",
    }
    assert services["elasticsearch"]["profiles"] == ["elasticsearch"]
    assert "profiles" not in services["opensearch"]
    assert services["detectors"]["build"] == "."
    assert services["workbench"]["build"] == "."


def test_compose_ports_match_settings() -> None:
    services = _compose()["services"]
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    local_port = defaults.search.urls[0].rsplit(":", 1)[1]

    assert services["opensearch"]["ports"] == [f"127.0.0.1:{local_port}:9200"]
    assert services["workbench"]["ports"] == ["127.0.0.1:8501:8501"]


def test_compose_volumes_declared_and_used() -> None:
    compose = _compose()
    used = {
        mount.split(":")[0]
        for service in compose["services"].values()
        for mount in service.get("volumes", [])
    }

    assert used == set(compose["volumes"])
    assert "opensearch-data" in used


def test_compose_socwb_variables_are_settings() -> None:
    compose = _compose()
    names: set[str] = set()
    for service in compose["services"].values():
        names.update(name for name in service.get("environment", {}) if name.startswith("SOCWB_"))
    text = (REPO_ROOT / "compose.yaml").read_text(encoding="utf-8")
    names.update(re.findall(r"\$\{(SOCWB_[A-Z_]+)", text))

    assert names
    assert names <= _setting_variables()


def test_compose_has_no_literal_password() -> None:
    compose = _compose()
    for service in compose["services"].values():
        for name, value in dict(service.get("environment", {})).items():
            if "PASSWORD" in name:
                assert str(value).startswith("${"), f"{name} must come from .env"


def test_readme_configuration_table_matches_settings() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(SOCWB_[A-Z_]+)` \| `([^`]*)` \| (.*) \|$", readme, re.MULTILINE)

    expected = settings_reference()

    assert rows == expected, "regenerate the README table with: socwb config --markdown"


def test_help_lists_every_command_with_description() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.startswith("  ")}

    assert result.exit_code == 0
    for command in cli.commands:
        assert command in lines, f"{command} missing from --help"
        assert len(lines[command].split()) > 2, f"{command} has no description"


def test_node_help_lists_start_status_stop() -> None:
    result = CliRunner().invoke(cli, ["node", "--help"])

    assert result.exit_code == 0
    for command in ("start", "status", "stop"):
        assert re.search(rf"^  {command}\s+\S", result.output, re.MULTILINE)
