"""Exception hierarchy shared by every part of soc-workbench.

Each message names what failed, on which object, why, and the fix when it is
known. Entry points print ``ErrorName: message`` and exit with 1, or with 2 for
configuration errors.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class of every error that soc-workbench raises on purpose."""


class ConfigurationError(WorkbenchError):
    """A setting is missing or invalid; the program stops at start."""


class SearchError(WorkbenchError):
    """A call to the search engine failed."""


class SearchUnavailableError(SearchError):
    """The engine could not be reached, or kept responding with 429/502/503/504."""


class UnsupportedEngineError(SearchError):
    """The engine at the configured URL is not OpenSearch 2.x/3.x or Elasticsearch 8.x."""


class QueryRejectedError(SearchError):
    """The engine rejected a request, for example with HTTP 400 or 404."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ConflictError(QueryRejectedError):
    """A write lost an optimistic-concurrency check or hit an existing id (HTTP 409)."""


class PartialResultsError(SearchError):
    """A response timed out or had shard failures, so its results are incomplete."""


class NodeError(WorkbenchError):
    """The local OpenSearch node could not be assembled, started or stopped."""


class ToolMissingError(NodeError):
    """Java or Maven is missing or too old to assemble and run the local node."""


class ArtifactResolutionError(NodeError):
    """Maven could not resolve one or more OpenSearch artifacts."""

    def __init__(self, message: str, *, coordinates: list[str]) -> None:
        super().__init__(message)
        self.coordinates = coordinates


class ProvisioningError(WorkbenchError):
    """An index template, pipeline or lifecycle policy could not be applied."""


class RuleError(WorkbenchError):
    """A detection rule is invalid; the message names the rule and its file."""


class AlertWorkflowError(WorkbenchError):
    """An alert or suppression change is not allowed, for example an illegal transition."""
