"""OpenSearch adapter over opensearch-py, with retention through ISM."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_errors

from socwb.search.base import (
    EngineInfo,
    QueryBody,
    SearchBackend,
    TlsFailure,
    TransportFailure,
    _path,
)
from socwb.search.retry import RetryPolicy
from socwb.settings import SearchSettings

logger = logging.getLogger(__name__)

NDJSON = "application/x-ndjson"
ISM_POLICIES = "_plugins/_ism/policies"


def build_opensearch_client(settings: SearchSettings) -> OpenSearch:
    """Build an opensearch-py client with its own retries off (ours do backoff)."""
    options: dict[str, Any] = {
        "hosts": settings.urls,
        "timeout": settings.request_timeout,
        "max_retries": 0,
        "retry_on_timeout": False,
        "verify_certs": settings.verify_certs,
        "ssl_show_warn": settings.verify_certs,
    }
    if settings.ca_certs is not None:
        options["ca_certs"] = str(settings.ca_certs)
    if settings.api_key is not None:
        options["headers"] = {"Authorization": f"ApiKey {settings.api_key.get_secret_value()}"}
    elif settings.username is not None and settings.password is not None:
        options["http_auth"] = (settings.username, settings.password.get_secret_value())
    return OpenSearch(**options)


def send_with_opensearch_client(
    client: OpenSearch, method: str, path: str, params: Mapping[str, Any] | None, body: Any
) -> Any:
    """Send a raw request and turn opensearch-py errors into ``TransportFailure``."""
    headers = {"content-type": NDJSON} if isinstance(body, str) else None
    try:
        return client.transport.perform_request(
            method, path, params=params, body=body, headers=headers
        )
    except os_errors.SSLError as exc:
        raise TlsFailure(f"TLS handshake failed: {exc.info or exc}", status=None) from exc
    except os_errors.ConnectionError as exc:
        raise TransportFailure(f"connection failed: {exc.info or exc}", status=None) from exc
    except os_errors.TransportError as exc:
        status = exc.status_code if isinstance(exc.status_code, int) else None
        raise TransportFailure(str(exc.error), status=status, body=exc.info) from exc


class OpenSearchBackend(SearchBackend):
    """OpenSearch 2.x and 3.x."""

    def __init__(self, client: OpenSearch, info: EngineInfo, retry_policy: RetryPolicy) -> None:
        super().__init__(info, retry_policy)
        self._client = client

    def _send(self, method: str, path: str, params: Mapping[str, Any] | None, body: Any) -> Any:
        return send_with_opensearch_client(self._client, method, path, params, body)

    def close(self) -> None:
        self._client.close()

    def has_ism(self) -> bool:
        """Return whether the Index State Management plugin is loaded on this cluster."""
        plugins = self.request("GET", "/_cat/plugins", params={"format": "json"})
        return any(row.get("component") == "opensearch-index-management" for row in plugins)

    def put_lifecycle_policy(self, name: str, body: QueryBody) -> None:
        """Create or update an ISM policy; updates carry the stored sequence numbers."""
        stored = self.get_json(_path(*ISM_POLICIES.split("/"), name))
        params = None
        if stored is not None:
            params = {"if_seq_no": stored["_seq_no"], "if_primary_term": stored["_primary_term"]}
        self.request("PUT", _path(*ISM_POLICIES.split("/"), name), params=params, body=body)

    def get_lifecycle_policy(self, name: str) -> QueryBody | None:
        stored = self.get_json(_path(*ISM_POLICIES.split("/"), name))
        if stored is None:
            return None
        return {"policy": stored["policy"]}
