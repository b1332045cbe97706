"""A local single-node OpenSearch assembled from Maven Central, for machines without Docker."""

from socwb.node.process import LocalNode, NodeStatus, default_home

__all__ = ["LocalNode", "NodeStatus", "default_home"]
