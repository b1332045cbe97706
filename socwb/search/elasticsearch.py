"""Elasticsearch 8 adapter over the elasticsearch client, with retention through ILM."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from socwb.errors import ConfigurationError
from socwb.search.base import EngineInfo, QueryBody, SearchBackend, TransportFailure, _path
from socwb.search.retry import RetryPolicy
from socwb.settings import SearchSettings

logger = logging.getLogger(__name__)

COMPATIBLE_JSON = "application/vnd.elasticsearch+json; compatible-with=8"
COMPATIBLE_NDJSON = "application/vnd.elasticsearch+x-ndjson; compatible-with=8"


def build_elasticsearch_client(settings: SearchSettings) -> Any:
    """Build an elasticsearch client with its own retries off (ours do backoff).

    Raises:
        ConfigurationError: the elasticsearch package is not installed.
    """
    try:
        from elasticsearch import Elasticsearch
    except ImportError as exc:
        raise ConfigurationError(
            "the engine is Elasticsearch but the 'elasticsearch' package is missing; "
            "install it with: pip install 'elasticsearch>=8.13,<9'"
        ) from exc
    options: dict[str, Any] = {
        "hosts": settings.urls,
        "request_timeout": settings.request_timeout,
        "max_retries": 0,
        "retry_on_timeout": False,
        "verify_certs": settings.verify_certs,
    }
    if settings.ca_certs is not None:
        options["ca_certs"] = str(settings.ca_certs)
    if settings.api_key is not None:
        options["api_key"] = settings.api_key.get_secret_value()
    elif settings.username is not None and settings.password is not None:
        options["basic_auth"] = (settings.username, settings.password.get_secret_value())
    return Elasticsearch(**options)


class ElasticsearchBackend(SearchBackend):
    """Elasticsearch 8.x."""

    def __init__(self, client: Any, info: EngineInfo, retry_policy: RetryPolicy) -> None:
        super().__init__(info, retry_policy)
        self._client = client

    def _send(self, method: str, path: str, params: Mapping[str, Any] | None, body: Any) -> Any:
        from elastic_transport import ConnectionError as TransportConnectionError
        from elasticsearch import ApiError

        headers = {"accept": COMPATIBLE_JSON}
        if body is not None:
            headers["content-type"] = (
                COMPATIBLE_NDJSON if isinstance(body, str) else COMPATIBLE_JSON
            )
        try:
            response = self._client.perform_request(
                method, path, params=dict(params or {}), headers=headers, body=body
            )
        except TransportConnectionError as exc:
            raise TransportFailure(f"connection failed: {exc}", status=None) from exc
        except ApiError as exc:
            raise TransportFailure(str(exc.message), status=exc.meta.status, body=exc.body) from exc
        return response.body

    def close(self) -> None:
        self._client.close()

    def put_lifecycle_policy(self, name: str, body: QueryBody) -> None:
        """Create or replace an ILM policy."""
        self.request("PUT", _path("_ilm", "policy", name), body=body)

    def get_lifecycle_policy(self, name: str) -> QueryBody | None:
        stored = self.get_json(_path("_ilm", "policy", name))
        if stored is None or name not in stored:
            return None
        return {"policy": stored[name]["policy"]}
