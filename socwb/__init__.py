"""soc-workbench: security monitoring to a SOC 2 policy on OpenSearch or Elasticsearch."""

__version__ = "0.1.0"
