"""Leads and accounts: reads, aliases and insights about one person or company."""
