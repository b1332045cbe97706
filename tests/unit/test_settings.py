"""Settings: defaults, parsing of environment variables, and errors that name the fix."""

from __future__ import annotations

import logging
from datetime import date, time

import pytest

from socwb.errors import ConfigurationError
from socwb.settings import LOCAL_NODE_URL, Settings, load_settings


def test_defaults_point_at_local_node() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    assert settings.search.urls == [LOCAL_NODE_URL]
    assert settings.search.verify_certs is True
    assert settings.search.namespace == "default"
    assert settings.organisation.timezone == "UTC"
    assert settings.organisation.business_days == [0, 1, 2, 3, 4]
    assert settings.node.heap == "1g"


def test_comma_separated_urls_are_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCWB_SEARCH__URLS", "https://a.example:9200/, https://b.example:9200")

    settings = load_settings(_env_file=None)

    assert settings.search.urls == ["https://a.example:9200", "https://b.example:9200"]


def test_business_calendar_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCWB_ORGANISATION__TIMEZONE", "Europe/Oslo")
    monkeypatch.setenv("SOCWB_ORGANISATION__BUSINESS_HOURS_START", "07:30")
    monkeypatch.setenv("SOCWB_ORGANISATION__BUSINESS_DAYS", "0,1,2,3")
    monkeypatch.setenv("SOCWB_ORGANISATION__HOLIDAYS", "2026-12-25,2026-12-26")

    organisation = load_settings(_env_file=None).organisation

    assert organisation.zone.key == "Europe/Oslo"
    assert organisation.business_hours_start == time(7, 30)
    assert organisation.business_days == [0, 1, 2, 3]
    assert organisation.holidays == [date(2026, 12, 25), date(2026, 12, 26)]


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("SOCWB_SEARCH__REQUEST_TIMEOUT", "soon", "valid number"),
        ("SOCWB_SEARCH__URLS", "localhost:9200", "not an http:// or https:// URL"),
        ("SOCWB_SEARCH__NAMESPACE", "Prod-EU", "lower-case letters"),
        ("SOCWB_ORGANISATION__TIMEZONE", "Mars/Olympus", "IANA time zone"),
        ("SOCWB_ORGANISATION__BUSINESS_DAYS", "1,9", "0 (Monday) to 6 (Sunday)"),
        ("SOCWB_NODE__HEAP", "lots", "512m or 2g"),
        ("SOCWB_LOG_LEVEL", "VERBOSE", "DEBUG"),
    ],
    ids=["timeout", "url", "namespace", "timezone", "weekday", "heap", "log-level"],
)
def test_invalid_value_names_variable_value_and_fix(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigurationError) as raised:
        load_settings(_env_file=None)

    message = str(raised.value)
    assert variable in message
    assert repr(value) in message
    assert expected in message


def test_business_hours_must_be_ordered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCWB_ORGANISATION__BUSINESS_HOURS_START", "18:00")
    monkeypatch.setenv("SOCWB_ORGANISATION__BUSINESS_HOURS_END", "08:00")

    with pytest.raises(ConfigurationError, match="business_hours_end must be later"):
        load_settings(_env_file=None)


def test_password_hidden_in_repr_dump_and_errors(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SOCWB_SEARCH__PASSWORD", "hunter2-secret")
    monkeypatch.setenv("SOCWB_SEARCH__API_KEY", "key-secret")

    settings = load_settings(_env_file=None)
    logging.getLogger("test").warning("settings=%s", settings)

    assert "hunter2-secret" not in repr(settings)
    assert "hunter2-secret" not in str(settings.model_dump(mode="json"))
    assert "key-secret" not in caplog.text
    assert settings.search.password is not None
    assert settings.search.password.get_secret_value() == "hunter2-secret"


def test_invalid_secret_value_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCWB_SEARCH__PASSWORD", "")
    monkeypatch.setenv("SOCWB_SEARCH__API_KEY", "secret-key")
    monkeypatch.setenv("SOCWB_SEARCH__MAX_RETRIES", "many")

    with pytest.raises(ConfigurationError) as raised:
        load_settings(_env_file=None)

    assert "secret-key" not in str(raised.value)


def test_dotenv_file_is_read(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SOCWB_SEARCH__NAMESPACE=from_dotenv\n", encoding="utf-8")

    settings = load_settings(_env_file=env_file)

    assert settings.search.namespace == "from_dotenv"


def test_environment_wins_over_dotenv(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SOCWB_SEARCH__NAMESPACE=from_dotenv\n", encoding="utf-8")
    monkeypatch.setenv("SOCWB_SEARCH__NAMESPACE", "from_env")

    settings = load_settings(_env_file=env_file)

    assert settings.search.namespace == "from_env"


def test_java_home_falls_back_to_java_home_variable(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))

    settings = load_settings(_env_file=None)

    assert settings.node.java_home == tmp_path


def test_missing_plugin_zip_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCWB_NODE__PLUGIN_ZIPS", "/nonexistent/ism.zip")

    with pytest.raises(ConfigurationError, match="SOCWB_NODE__PLUGIN_ZIPS.*not a readable .zip"):
        load_settings(_env_file=None)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("45", 45), ("30s", 30), ("15m", 900), ("1h", 3600), ("2d", 172800), ("PT1M", 60)],
)
def test_durations_accept_units_and_iso(
    monkeypatch: pytest.MonkeyPatch, value: str, seconds: int
) -> None:
    monkeypatch.setenv("SOCWB_DETECTORS__INGEST_DELAY", value)

    settings = load_settings(_env_file=None)

    assert settings.detectors.ingest_delay.total_seconds() == seconds


def test_privileged_users_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCWB_DETECTORS__PRIVILEGED_USERS", "root, break-glass")

    settings = load_settings(_env_file=None)

    assert settings.detectors.privileged_users == ["root", "break-glass"]
