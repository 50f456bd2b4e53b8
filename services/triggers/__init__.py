"""Triggers and their delivery: evaluation, firings, the outbox and its dispatcher signal."""
