"""Format detection and the registry."""

from __future__ import annotations

import json

import pytest

from socwb.ingest.detect import detect_format
from socwb.ingest.model import FormatDetectionError
from socwb.ingest.registry import all_normalizers, for_source, format_names, get_normalizer


def test_detect_unknown_head_names_candidates():
    with pytest.raises(FormatDetectionError, match="pass --format NAME with one of: .*okta"):
        detect_format("hello world\n")


def test_detect_unknown_head_with_source():
    with pytest.raises(FormatDetectionError, match=r"for source 'idp'.*one of: azure_ad, duo"):
        detect_format("hello world\n", source="idp")


def test_detect_ambiguous_head_names_matching_formats():
    head = json.dumps({"eventName": "x", "eventSource": "y", "eventType": "z", "actor": {}})

    with pytest.raises(
        FormatDetectionError, match="ambiguous input format.*aws_cloudtrail, okta.*--format NAME"
    ):
        detect_format(head + "\n")


def test_detect_source_hint_resolves_ambiguity():
    head = json.dumps({"eventName": "x", "eventSource": "y", "eventType": "z", "actor": {}})

    assert detect_format(head + "\n", source="idp").name == "okta"


def test_detect_unknown_source_is_rejected():
    with pytest.raises(ValueError, match="unknown source 'mainframe'"):
        detect_format("{}", source="mainframe")


def test_registry_names_are_unique():
    names = [normalizer.name for normalizer in all_normalizers()]

    assert len(names) == len(set(names))
    assert format_names() == sorted(names)


def test_registry_dataset_joins_source_and_name():
    assert get_normalizer("aws_cloudtrail").dataset == "cloud.aws_cloudtrail"


def test_registry_for_source_returns_only_that_source():
    names = {normalizer.name for normalizer in for_source("vulnscan")}

    assert names == {"nessus", "openvas", "qualys", "trivy"}


def test_registry_unknown_name_lists_valid_names():
    with pytest.raises(KeyError, match="unknown format 'nope'.*aws_cloudtrail"):
        get_normalizer("nope")
