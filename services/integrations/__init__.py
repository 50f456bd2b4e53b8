"""Talking to the outside world: the outbound HTTP guard (and later Slack, CRM)."""
