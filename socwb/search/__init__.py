"""Search engine access: detect the engine at the configured URL and build its adapter.

Only this package imports the OpenSearch and Elasticsearch clients.
"""

from __future__ import annotations

import logging
from typing import Any

from socwb.errors import SearchUnavailableError, UnsupportedEngineError
from socwb.search.base import (
    TLS_HINT,
    BulkItemError,
    BulkResult,
    EngineInfo,
    QueryBody,
    Response,
    SearchBackend,
    TlsFailure,
    check_search_response,
)
from socwb.search.opensearch import (
    OpenSearchBackend,
    build_opensearch_client,
    send_with_opensearch_client,
)
from socwb.search.retry import RetriesExhaustedError, RetryPolicy, call_with_retry
from socwb.settings import SearchSettings

__all__ = [
    "BulkItemError",
    "BulkResult",
    "EngineInfo",
    "QueryBody",
    "Response",
    "RetryPolicy",
    "SearchBackend",
    "check_search_response",
    "create_backend",
    "parse_engine_info",
    "retry_policy_from",
]

logger = logging.getLogger(__name__)

SUPPORTED = "OpenSearch 2.x or 3.x, or Elasticsearch 8.x"


def retry_policy_from(settings: SearchSettings) -> RetryPolicy:
    """Build the retry policy that the search settings describe."""
    return RetryPolicy(
        max_retries=settings.max_retries,
        initial_delay=settings.retry_backoff_initial,
        max_delay=settings.retry_backoff_max,
    )


def parse_engine_info(root: dict[str, Any], url: str) -> EngineInfo:
    """Read the engine and version from a ``GET /`` body.

    Raises:
        UnsupportedEngineError: any engine or version other than the supported ones.
    """
    version = root.get("version") or {}
    number = str(version.get("number", ""))
    distribution = version.get("distribution")
    major = number.split(".")[0]
    cluster = str(root.get("cluster_name", ""))
    if distribution == "opensearch" and major in ("2", "3"):
        return EngineInfo("opensearch", number, cluster)
    if distribution is None and major == "8" and "tagline" in root:
        return EngineInfo("elasticsearch", number, cluster)
    found = f"{distribution or 'elasticsearch'} {number or 'unknown version'}"
    raise UnsupportedEngineError(
        f"the engine at {url} is {found}; soc-workbench supports {SUPPORTED}"
    )


def create_backend(settings: SearchSettings) -> SearchBackend:
    """Detect the engine behind ``settings.urls`` and return its adapter.

    Raises:
        SearchUnavailableError: no URL responded to ``GET /`` after the retries.
        UnsupportedEngineError: the engine or its version is not supported.
    """
    policy = retry_policy_from(settings)
    probe = build_opensearch_client(settings)
    url = settings.urls[0]
    try:
        root = call_with_retry(
            lambda: send_with_opensearch_client(probe, "GET", "/", None, None),
            policy=policy,
            is_retryable=lambda exc: getattr(exc, "status", 0) in (None, 429, 502, 503, 504),
            description=f"GET {url}/",
        )
    except RetriesExhaustedError as exc:
        probe.close()
        hint = "start one with 'socwb node start' or set SOCWB_SEARCH__URLS"
        if isinstance(exc.last_error, TlsFailure):
            hint = TLS_HINT
        raise SearchUnavailableError(
            f"no search engine responded at {url} after {exc.attempts} attempts: "
            f"{exc.last_error}; {hint}"
        ) from exc
    info = parse_engine_info(root, url)
    logger.info(
        "connected engine=%s version=%s cluster=%s url=%s",
        info.distribution,
        info.version,
        info.cluster_name,
        url,
    )
    if info.distribution == "opensearch":
        return OpenSearchBackend(probe, info, policy)
    probe.close()
    from socwb.search.elasticsearch import ElasticsearchBackend, build_elasticsearch_client

    return ElasticsearchBackend(build_elasticsearch_client(settings), info, policy)
