"""Targeting: segments (saved, live lists of leads) and the filters triggers apply with them."""
