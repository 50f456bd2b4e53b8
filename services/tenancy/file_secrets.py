"""Secrets generated once into the data folder (LEADVANE_DATA_DIR, default data/), mode 0600, when no setting
names one: the API token signing key, the integration secrets' encryption key.

Processes starting together agree on one value: each writes its candidate to a private temporary file and
hard-links it into place, which succeeds for exactly one of them; the others read the winner's file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def file_secret(folder: Path, name: str, make: Callable[[], str], hint: str) -> str:
    """The secret in `folder/name`, created with `make()` if the file does not exist yet. `hint` says what to do
    when the file exists but is empty."""
    path = folder / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, candidate = tempfile.mkstemp(prefix=f".{name}-", dir=path.parent)  # created with mode 0600
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(make())
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):  # another process won: use its value
                os.link(candidate, path)  # atomic, and only ever one winner: the file appears complete
        finally:
            os.unlink(candidate)
    value = path.read_text().strip()
    if not value:
        raise RuntimeError(f"{path} is empty: {hint}")
    return value
