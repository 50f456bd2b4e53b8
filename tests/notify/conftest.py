"""Every delivery test here talks to loopback receivers: allow them through the outbound guard."""

from tests.notify.receivers import allow_loopback  # noqa: F401 (autouse fixture)
