"""The SOC 2 evidence pack: tables an auditor reads without the product."""
