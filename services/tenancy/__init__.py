"""Who may do what: units, users, API keys, the permission policy, the audit log, rate limits, sign-in."""
