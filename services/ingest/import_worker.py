"""The start-up of a CSV import worker process (services.ingest.imports.ImportProcesses).

Standard library only, on purpose: this module is imported in a fresh worker before anything of the project,
so that it can put the project's root first on sys.path. The worker inherits the server's sys.path, and a
dashboard process has script folders on it (pages/ holds settings.py, the Settings page), which would shadow
the project's own modules (settings.py) when the worker imports services.ingest.imports.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time

NICENESS = 10


def init(root: str) -> None:
    """Project root first on sys.path; a lower CPU priority; exit when the process that started us is gone.

    A bulk import is background work: on a busy machine the server's requests get the CPU first (a woken
    request preempts the import at once instead of waiting for its time slice). A server stopped without its
    clean-up (SIGKILL, a supervisor's timeout) cannot tell its workers to stop; they would live on, orphaned.
    The rows committed so far stay, and the job stays `running`.
    """
    sys.path[:] = [root, *(p for p in sys.path if os.path.abspath(p or ".") != root)]
    with contextlib.suppress(OSError, AttributeError):  # not permitted, or not a POSIX system: run as is
        os.nice(NICENESS)
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
