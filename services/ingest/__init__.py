"""Ingest: the event pipeline (identity, scoring, storage), idempotency, CSV import/export and data repair."""
