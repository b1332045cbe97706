"""Normalization of vendor security logs to ECS documents (pure functions, no I/O).

Entry points: `socwb.ingest.detect.detect_format`, `socwb.ingest.registry`, the
normalizers' `parse` method and `socwb.ingest.ids.document_id`.
"""
