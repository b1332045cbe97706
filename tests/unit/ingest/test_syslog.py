"""Syslog header parsing: RFC 3164, RFC 5424 and the year and zone defaults."""

from __future__ import annotations

import pytest

from socwb.ingest.formats._fields import format_time
from socwb.ingest.model import ParseContext, RecordError
from socwb.ingest.syslog import parse_syslog

LINE_3164 = "<38>Feb  5 17:32:18 gw01 sshd[811]: Connection closed"


def test_rfc3164_takes_year_and_zone_from_context():
    ctx = ParseContext(default_year=2023, default_timezone="America/New_York")

    header = parse_syslog(LINE_3164, ctx)

    assert format_time(header.timestamp) == "2023-02-05T22:32:18.000Z"
    assert header.hostname == "gw01"
    assert header.app_name == "sshd"
    assert header.process_id == 811
    assert header.priority == 38
    assert header.message == "Connection closed"


def test_rfc3164_without_default_year_is_rejected():
    with pytest.raises(RecordError, match="has no year: set the default year"):
        parse_syslog(LINE_3164, ParseContext())


def test_rfc3164_unknown_timezone_is_rejected():
    ctx = ParseContext(default_year=2023, default_timezone="Mars/Olympus")

    with pytest.raises(RecordError, match="unknown time zone 'Mars/Olympus'"):
        parse_syslog(LINE_3164, ctx)


def test_rfc3164_invalid_date_is_rejected():
    with pytest.raises(RecordError, match="invalid syslog date"):
        parse_syslog("Feb 30 10:00:00 host app: x", ParseContext(default_year=2023))


def test_rfc3164_line_without_host():
    header = parse_syslog(
        "Apr 25 11:19:00 ovpn-server[13818]: TLS Error", ParseContext(default_year=2024)
    )

    assert header.hostname is None
    assert header.app_name == "ovpn-server"
    assert header.process_id == 13818


def test_rfc5424_keeps_its_own_offset():
    line = "<165>1 2003-10-11T22:14:15.003-07:00 host1 evntslog 99 ID47 - An application event"

    header = parse_syslog(line, ParseContext())

    assert format_time(header.timestamp) == "2003-10-12T05:14:15.003Z"
    assert header.hostname == "host1"
    assert header.app_name == "evntslog"
    assert header.process_id == 99
    assert header.message == "An application event"


def test_non_syslog_line_is_rejected():
    with pytest.raises(RecordError, match="not a syslog line"):
        parse_syslog("just text", ParseContext(default_year=2024))
