"""Web server and WAF normalization: access logs, ModSecurity and nginx error_log."""

from __future__ import annotations

from .conftest import field


def test_apache_access_line(sample_event):
    event = sample_event("apache_access", "waf/apache_combined_access.log", '" 404 ')

    assert event["@timestamp"] == "2015-05-17T10:05:22.000Z"
    assert field(event, "event.category") == ["web"]
    assert field(event, "event.outcome") == "failure"
    assert field(event, "source.ip") == "96.65.31.215"
    assert field(event, "http.request.method") == "GET"
    assert field(event, "http.response.status_code") == 404
    assert field(event, "url.original") == (
        "/doc/index.html?org/elasticsearch/action/search/SearchResponse.html"
    )


def test_modsecurity_access_denied_is_request_blocked(sample_event):
    event = sample_event(
        "modsecurity", "waf/modsecurity_apache_error_f2b.log", "Access denied with code 403"
    )

    assert event["@timestamp"] == "2013-12-23T13:12:31.000Z"
    assert field(event, "event.action") == "request-blocked"
    assert field(event, "event.outcome") == "failure"
    assert field(event, "rule.id") == "960015"
    assert field(event, "rule.name") == "Request Missing an Accept Header"
    assert field(event, "source.ip") == "67.19.160.153"
    assert field(event, "url.original") == "/"


def test_modsecurity_warning_is_rule_match(sample_event):
    event = sample_event("modsecurity", "waf/modsecurity_apache_error.log", "Remote File Inclusion")

    assert event["@timestamp"] == "2015-01-22T14:33:30.959Z"
    assert field(event, "event.action") == "rule-matched"
    assert field(event, "rule.id") == "950119"
    assert field(event, "source.ip") == "172.16.10.87"


def test_nginx_limit_req_is_rate_limited(sample_event):
    event = sample_event("nginx_error", "waf/nginx_error_limit_req.log", "2015/10/29 20:01:02")

    assert event["@timestamp"] == "2015-10-29T20:01:02.000Z"
    assert field(event, "event.action") == "rate-limited"
    assert field(event, "event.outcome") == "failure"
    assert field(event, "source.ip") == "101.161.217.47"
    assert field(event, "http.request.method") == "POST"
    assert field(event, "url.original") == "/index.htm"
    assert field(event, "rule.name") == "one"


def test_nginx_line_behind_journal_prefix(sample_event):
    event = sample_event("nginx_error", "waf/nginx_error_limit_req.log", "host nginx[983479]")

    assert event["@timestamp"] == "2023-12-09T21:35:20.000Z"
    assert field(event, "source.ip") == "192.0.2.2"


def test_nginx_basic_auth_password_mismatch(sample_event):
    event = sample_event("nginx_error", "waf/nginx_error_http_auth.log", '"xyz": password mismatch')

    assert event["@timestamp"] == "2012-04-09T11:53:36.000Z"
    assert field(event, "event.action") == "http-auth-failed"
    assert field(event, "event.category") == ["authentication", "web"]
    assert field(event, "event.outcome") == "failure"
    assert field(event, "user.name") == "xyz"
    assert field(event, "source.ip") == "69.255.128.94"
