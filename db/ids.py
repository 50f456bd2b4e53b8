"""Opaque, prefixed identifiers: the prefix tells a human what kind of thing an id names."""

import uuid


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"
