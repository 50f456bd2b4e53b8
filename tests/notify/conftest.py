"""Every delivery test here talks to loopback receivers: allow them through the outbound guard."""

from collections.abc import Iterator

import pytest

from tests.notify.receivers import HttpReceiver, allow_loopback, start_http_receiver  # noqa: F401 (autouse fixture)


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    """A loopback HTTP receiver (webhooks, Slack) recording what it is sent."""
    rec = start_http_receiver()
    yield rec
    rec.close()
