"""The list of all normalizers, looked up by format name or source type."""

from __future__ import annotations

import functools
import logging

from socwb.ingest.formats import (
    apache,
    app_json,
    auth0,
    aws,
    azure,
    box,
    cisco,
    cloudflare,
    crowdstrike,
    databricks,
    defender_endpoint,
    drupal,
    duo,
    edr_alerts,
    f5,
    fortinet,
    github,
    gitlab,
    google,
    keycloak,
    metrics,
    modsecurity,
    mongodb,
    mssql,
    mysql,
    mysql_audit,
    nessus,
    nginx,
    okta,
    onelogin,
    onepassword,
    openssh,
    openvas,
    openvpn,
    osquery,
    paloalto,
    postgresql,
    postgresql_structured,
    qualys,
    salesforce,
    slack,
    snowflake,
    teleport,
    trivy,
    vaultwarden,
    windows,
    zoom,
)
from socwb.ingest.formats._base import BaseNormalizer
from socwb.ingest.model import SOURCES

logger = logging.getLogger(__name__)

_NORMALIZER_CLASSES: tuple[type[BaseNormalizer], ...] = (
    aws.CloudTrailNormalizer,
    azure.AzureActivityNormalizer,
    app_json.AppJsonNormalizer,
    auth0.Auth0Normalizer,
    box.BoxNormalizer,
    databricks.DatabricksNormalizer,
    drupal.DrupalWatchdogNormalizer,
    onepassword.OnePasswordNormalizer,
    salesforce.SalesforceNormalizer,
    slack.SlackAuditNormalizer,
    teleport.TeleportNormalizer,
    vaultwarden.VaultwardenNormalizer,
    zoom.ZoomNormalizer,
    aws.AwsWafNormalizer,
    apache.ApacheAccessNormalizer,
    modsecurity.ModSecurityNormalizer,
    nginx.NginxErrorNormalizer,
    cloudflare.CloudflareFirewallNormalizer,
    cloudflare.CloudflareHttpNormalizer,
    f5.F5AsmNormalizer,
    mongodb.MongoDbLogNormalizer,
    mongodb.MongoDbAtlasNormalizer,
    mysql.MySqlErrorNormalizer,
    mysql_audit.MySqlAuditNormalizer,
    postgresql.PostgreSqlStderrNormalizer,
    postgresql_structured.PostgreSqlCsvNormalizer,
    postgresql_structured.PostgreSqlJsonNormalizer,
    mssql.SqlServerErrorLogNormalizer,
    snowflake.SnowflakeNormalizer,
    azure.AzureAdNormalizer,
    duo.DuoNormalizer,
    google.GoogleWorkspaceNormalizer,
    okta.OktaNormalizer,
    keycloak.KeycloakNormalizer,
    onelogin.OneLoginNormalizer,
    cisco.CiscoAsaNormalizer,
    openssh.OpenSshNormalizer,
    openvpn.OpenVpnNormalizer,
    fortinet.FortiGateNormalizer,
    paloalto.PanOsNormalizer,
    crowdstrike.CrowdStrikeFdrNormalizer,
    crowdstrike.CrowdStrikeStreamNormalizer,
    osquery.OsqueryNormalizer,
    edr_alerts.EdrAlertNormalizer,
    defender_endpoint.DefenderEndpointNormalizer,
    windows.WindowsEventNormalizer,
    github.GitHubAuditNormalizer,
    github.GitHubWebhookNormalizer,
    gitlab.GitLabAuditNormalizer,
    nessus.NessusNormalizer,
    qualys.QualysNormalizer,
    openvas.OpenVasNormalizer,
    trivy.TrivyNormalizer,
    metrics.HostMetricsNormalizer,
    metrics.ServiceMetricsNormalizer,
)


@functools.cache
def all_normalizers() -> tuple[BaseNormalizer, ...]:
    """Return one instance of every normalizer, in registry order."""
    return tuple(cls() for cls in _NORMALIZER_CLASSES)


def format_names() -> list[str]:
    """Return the names of all formats, sorted."""
    return sorted(normalizer.name for normalizer in all_normalizers())


def get_normalizer(name: str) -> BaseNormalizer:
    """Return the normalizer called `name`.

    Raises:
        KeyError: No format has that name; the message lists the valid names.
    """
    for normalizer in all_normalizers():
        if normalizer.name == name:
            return normalizer
    raise KeyError(f"unknown format {name!r}: expected one of {', '.join(format_names())}")


def for_source(source: str) -> list[BaseNormalizer]:
    """Return the normalizers of one source type (`cloud`, `idp`, ...).

    Raises:
        ValueError: `source` is not a known source type.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}: expected one of {', '.join(SOURCES)}")
    return [normalizer for normalizer in all_normalizers() if normalizer.source == source]
