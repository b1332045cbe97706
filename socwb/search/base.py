"""The search interface the rest of soc-workbench uses, and its shared result types.

Adapters in this package wrap the vendor clients. Everything above this package
speaks only in the terms defined here, so one code path serves OpenSearch and
Elasticsearch.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from socwb.errors import (
    ConflictError,
    PartialResultsError,
    QueryRejectedError,
    SearchUnavailableError,
)
from socwb.search.retry import RetriesExhaustedError, RetryPolicy, call_with_retry

logger = logging.getLogger(__name__)

QueryBody = dict[str, Any]
Response = dict[str, Any]
Distribution = Literal["opensearch", "elasticsearch"]


@dataclass(frozen=True)
class EngineInfo:
    """Engine kind, version and cluster name from ``GET /``."""

    distribution: Distribution
    version: str
    cluster_name: str

    @property
    def major(self) -> int:
        """The major version number."""
        return int(self.version.split(".")[0])

    @property
    def lifecycle_api(self) -> Literal["ism", "ilm"]:
        """ISM on OpenSearch, ILM on Elasticsearch."""
        return "ism" if self.distribution == "opensearch" else "ilm"


@dataclass(frozen=True)
class BulkItemError:
    """One document of a bulk request that the engine did not accept."""

    index: str
    doc_id: str | None
    status: int
    error_type: str
    reason: str
    position: int


@dataclass
class BulkResult:
    """Outcome of one bulk request, item by item."""

    created: int = 0
    duplicates: int = 0
    errors: list[BulkItemError] = field(default_factory=list)
    retryable: list[int] = field(default_factory=list)


class TransportFailure(Exception):
    """An adapter's neutral form of a vendor exception, before it is mapped to ours."""

    def __init__(self, message: str, *, status: int | None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class TlsFailure(TransportFailure):
    """The TLS handshake failed, for example because the certificate's CA is not trusted."""


TLS_HINT = (
    "check that SOCWB_SEARCH__CA_CERTS names the CA bundle that signed the engine's certificate"
)


def check_search_response(response: Response, *, index: str) -> Response:
    """Raise when a search response is incomplete instead of using it silently.

    Raises:
        PartialResultsError: the search timed out or some shards failed.
    """
    if response.get("timed_out"):
        raise PartialResultsError(
            f"search on index {index!r} timed out, so its results are incomplete; "
            "retry, narrow the time range, or raise the search timeout"
        )
    shards = response.get("_shards") or {}
    if shards.get("failed"):
        reasons = [
            str((failure.get("reason") or {}).get("reason", failure))
            for failure in shards.get("failures", [])[:3]
        ]
        raise PartialResultsError(
            f"search on index {index!r} failed on {shards['failed']} of "
            f"{shards.get('total')} shards: {'; '.join(reasons) or 'no reason given'}"
        )
    return response


def summarise_bulk(response: Response, operations: list[Mapping[str, Any]]) -> BulkResult:
    """Count created, duplicate and failed items of a bulk response.

    A 409 on a ``create`` means the document exists already, which an
    idempotent ingest counts as a duplicate, not as an error.
    """
    result = BulkResult()
    for position, item in enumerate(response.get("items", [])):
        action, outcome = next(iter(item.items()))
        status = int(outcome.get("status", 0))
        if status in (200, 201):
            result.created += 1
        elif status == 409 and action == "create":
            result.duplicates += 1
        elif status in (429, 502, 503, 504):
            result.retryable.append(position)
        else:
            error = outcome.get("error") or {}
            result.errors.append(
                BulkItemError(
                    index=str(outcome.get("_index", "")),
                    doc_id=outcome.get("_id"),
                    status=status,
                    error_type=str(error.get("type", "unknown")),
                    reason=str(error.get("reason", error)),
                    position=position,
                )
            )
    return result


def _path(*parts: str) -> str:
    return "/" + "/".join(quote(part, safe=",*") for part in parts)


class SearchBackend(ABC):
    """One engine behind a narrow interface: search, write, templates and policies.

    Subclasses send raw requests with their vendor client and translate its
    errors into ``TransportFailure``. This class adds retries, response checks
    and the mapping to soc-workbench errors.
    """

    def __init__(self, info: EngineInfo, retry_policy: RetryPolicy) -> None:
        self.info = info
        self.retry_policy = retry_policy

    @abstractmethod
    def _send(self, method: str, path: str, params: Mapping[str, Any] | None, body: Any) -> Any:
        """Send one request; raise ``TransportFailure`` on any failure."""

    @abstractmethod
    def close(self) -> None:
        """Release the client's connections."""

    # Lifecycle policies differ per engine: ISM on OpenSearch, ILM on Elasticsearch.

    @abstractmethod
    def put_lifecycle_policy(self, name: str, body: QueryBody) -> None:
        """Create or replace a retention policy."""

    @abstractmethod
    def get_lifecycle_policy(self, name: str) -> QueryBody | None:
        """Return a policy body as stored, or None when it does not exist."""

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> Any:
        """Send a request with retries and return the decoded response.

        Raises:
            SearchUnavailableError: the engine stayed unreachable or overloaded.
            QueryRejectedError: the engine rejected the request (4xx or 5xx).
        """
        description = f"{method} {path}"
        try:
            return call_with_retry(
                lambda: self._send(method, path, params, body),
                policy=self.retry_policy,
                is_retryable=_is_retryable,
                description=description,
            )
        except RetriesExhaustedError as exc:
            raise SearchUnavailableError(
                f"{description} failed after {exc.attempts} attempts: {exc.last_error}; "
                "check that the engine is running and SOCWB_SEARCH__URLS points at it"
            ) from exc
        except TransportFailure as exc:
            raise _rejected(description, exc) from exc

    def search(self, index: str, body: QueryBody, **params: Any) -> Response:
        """Run a search and raise on timeouts or shard failures."""
        response = self.request("POST", _path(index, "_search"), params=params, body=body)
        return check_search_response(response, index=index)

    def count(self, index: str, query: QueryBody | None = None) -> int:
        """Count documents matching ``query`` (all documents when None)."""
        body = {"query": query} if query else None
        response = self.request("POST", _path(index, "_count"), body=body)
        check_search_response(response, index=index)
        return int(response["count"])

    def index_document(
        self,
        index: str,
        document: Mapping[str, Any],
        *,
        doc_id: str | None = None,
        op_type: Literal["create", "index"] = "create",
        refresh: bool = False,
    ) -> Response:
        """Write one document; ``create`` fails with ConflictError when the id exists."""
        params: dict[str, Any] = {"op_type": op_type}
        if refresh:
            params["refresh"] = "true"
        if doc_id is None:
            response = self.request("POST", _path(index, "_doc"), params=params, body=document)
        else:
            path = _path(index, "_doc", doc_id)
            response = self.request("PUT", path, params=params, body=document)
        return dict(response)

    def get_document(self, index: str, doc_id: str) -> Response | None:
        """Return a document with its metadata, or None when it does not exist."""
        try:
            return dict(self.request("GET", _path(index, "_doc", doc_id)))
        except QueryRejectedError as exc:
            if exc.status == 404:
                return None
            raise

    def bulk(
        self, operations: Iterable[Mapping[str, Any]], *, refresh: bool = False
    ) -> tuple[BulkResult, list[Mapping[str, Any]]]:
        """Send action and source lines as one bulk request.

        Returns:
            The summary, and the list of operations sent, so a caller can match
            item positions back to its documents.
        """
        lines = list(operations)
        payload = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)
        params = {"refresh": "true"} if refresh else None
        response = self.request("POST", "/_bulk", params=params, body=payload)
        actions = lines[0::2]
        return summarise_bulk(response, actions), actions

    def refresh(self, index: str) -> None:
        """Make recent writes to ``index`` visible to search."""
        self.request("POST", _path(index, "_refresh"), params={"ignore_unavailable": "true"})

    def put_component_template(self, name: str, body: QueryBody) -> None:
        """Create or replace a component template."""
        self.request("PUT", _path("_component_template", name), body=body)

    def put_index_template(self, name: str, body: QueryBody) -> None:
        """Create or replace a composable index template."""
        self.request("PUT", _path("_index_template", name), body=body)

    def put_ingest_pipeline(self, name: str, body: QueryBody) -> None:
        """Create or replace an ingest pipeline."""
        self.request("PUT", _path("_ingest", "pipeline", name), body=body)

    def get_json(self, path: str) -> Response | None:
        """GET a resource and return None on 404."""
        try:
            return dict(self.request("GET", path))
        except QueryRejectedError as exc:
            if exc.status == 404:
                return None
            raise

    def delete(self, path: str) -> bool:
        """DELETE a resource; return False when it did not exist."""
        try:
            self.request("DELETE", path)
        except QueryRejectedError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def cluster_health(self, **params: Any) -> Response:
        """Return ``_cluster/health``."""
        return dict(self.request("GET", "/_cluster/health", params=params))


def _is_retryable(exc: Exception) -> bool:
    return isinstance(exc, TransportFailure) and (
        exc.status is None or exc.status in (429, 502, 503, 504)
    )


def _rejected(description: str, failure: TransportFailure) -> QueryRejectedError:
    reason = _error_reason(failure.body) or str(failure)
    message = f"{description} was rejected with HTTP {failure.status}: {reason}"
    if failure.status == 409:
        return ConflictError(message, status=409)
    return QueryRejectedError(message, status=failure.status)


def _error_reason(body: Any) -> str | None:
    if not isinstance(body, Mapping):
        return None
    error = body.get("error")
    if isinstance(error, Mapping):
        root = (error.get("root_cause") or [error])[0]
        return f"{root.get('type', 'error')}: {root.get('reason', '')}".strip()
    if isinstance(error, str):
        return error
    return None
