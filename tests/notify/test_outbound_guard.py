"""The outbound guard at send time, with real loopback receivers and a test resolver standing in for DNS:
a name re-resolved at send, connections to the checked address, redirects re-checked, Slack never redirected,
and no receiver text in the delivery log."""

import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from core.outbound import IPAddress, parse_ip
from db import models
from db.engine import Database
from notify.dispatcher import dispatch_due
from services.context import Tenant
from services.integrations import outbound
from services.triggers import triggers
from settings import get_settings
from tests.notify.receivers import HttpReceiver, add_rule, send_event, start_http_receiver

PUBLIC = "93.184.216.34"


@pytest.fixture(autouse=True)
def allow_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Overrides the package's loopback allowance: these tests start from nothing allowed."""
    monkeypatch.setattr(get_settings(), "outbound_allow", "")


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Names the test controls: services.integrations.outbound.resolve_host answers from this dict, and only from it."""
    records: dict[str, list[str]] = {}

    def resolve(host: str, _port: int) -> list[IPAddress]:
        if host not in records:
            raise socket.gaierror(socket.EAI_NONAME, "not in the test's DNS")
        return [ip for ip in (parse_ip(a) for a in records[host]) if ip is not None]

    monkeypatch.setattr(outbound, "resolve_host", resolve)
    return records


@pytest.fixture
def other_receiver() -> Iterator[HttpReceiver]:
    rec = start_http_receiver()
    yield rec
    rec.close()


def _allow(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setattr(get_settings(), "outbound_allow", value)


def _port(rec: HttpReceiver) -> int:
    return int(rec.server.server_address[1])


def _trigger(db: Database, tenant: Tenant, now: datetime, **channels: object) -> str:
    add_rule(db, tenant, "demo_request", 100, now)
    with db.write() as session:
        return triggers.create_trigger(session, tenant, "milestone", {"score_threshold": 50, **channels}, now).id


def _fire_and_send(db: Database, tenant: Tenant, now: datetime, trigger_id: str) -> models.Delivery:
    send_event(db, tenant, "ann@acme.io", "demo_request", now)
    dispatch_due(db, "test", lambda: now)
    with db.read() as session:
        (row,) = session.scalars(select(models.Delivery).where(models.Delivery.trigger_id == trigger_id))
        return row


def test_a_name_that_resolves_elsewhere_after_save_is_refused_at_send(
    db: Database, tenant: Tenant, now: datetime, receiver: HttpReceiver, dns: dict[str, list[str]]
) -> None:
    dns["hooks.example.test"] = [PUBLIC]
    trigger_id = _trigger(db, tenant, now, webhook_url=f"http://hooks.example.test:{_port(receiver)}/hook")
    dns["hooks.example.test"] = ["127.0.0.1"]  # the DNS answer changes after the save check
    row = _fire_and_send(db, tenant, now, trigger_id)
    assert (row.status, row.last_status_code, row.last_error) == (
        "pending", None, "refused: resolves to a loopback address")
    assert receiver.wait_for(1, timeout=0.3) == []


def test_the_connection_goes_to_the_address_that_was_checked(
    db: Database, tenant: Tenant, now: datetime, receiver: HttpReceiver, dns: dict[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Only the test resolver knows this name: the send can only succeed by connecting to the address the
    # guard resolved and checked, never by resolving the name again.
    _allow(monkeypatch, "127.0.0.1/32")
    dns["hooks.example.test"] = ["127.0.0.1"]
    trigger_id = _trigger(db, tenant, now, webhook_url=f"http://hooks.example.test:{_port(receiver)}/hook")
    row = _fire_and_send(db, tenant, now, trigger_id)
    assert row.status == "delivered", row.last_error
    (req,) = receiver.wait_for(1)
    assert req.headers["host"] == f"hooks.example.test:{_port(receiver)}" and req.path == "/hook"


def test_a_name_resolving_to_one_refused_address_among_public_ones_is_refused(
    db: Database, tenant: Tenant, now: datetime, dns: dict[str, list[str]]
) -> None:
    dns["mixed.example.test"] = [PUBLIC, "10.0.0.7"]
    with db.write() as session, pytest.raises(Exception, match="webhook_url: refused: resolves to a private"):
        triggers.create_trigger(session, tenant, "milestone",
                                {"score_threshold": 1, "webhook_url": "https://mixed.example.test/h"}, now)


def test_an_allowed_host_name_reaches_an_intranet_receiver(
    db: Database, tenant: Tenant, now: datetime, receiver: HttpReceiver, dns: dict[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _allow(monkeypatch, "hooks.intranet")
    dns["hooks.intranet"] = ["127.0.0.1"]
    dns["other.intranet"] = ["127.0.0.1"]
    trigger_id = _trigger(db, tenant, now, webhook_url=f"http://hooks.intranet:{_port(receiver)}/in")
    assert _fire_and_send(db, tenant, now, trigger_id).status == "delivered"
    with db.write() as session, pytest.raises(Exception, match="resolves to a loopback address"):
        triggers.create_trigger(session, tenant, "milestone",
                                {"score_threshold": 1, "webhook_url": f"http://other.intranet:{_port(receiver)}/"}, now)


def test_a_redirect_from_an_allowed_receiver_to_a_refused_address_is_not_followed(
    db: Database, tenant: Tenant, now: datetime, receiver: HttpReceiver, other_receiver: HttpReceiver,
    dns: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    _allow(monkeypatch, "hooks.intranet")
    dns["hooks.intranet"] = ["127.0.0.1"]
    receiver.redirect_to = f"http://127.0.0.1:{_port(other_receiver)}/stolen"
    trigger_id = _trigger(db, tenant, now, webhook_url=f"http://hooks.intranet:{_port(receiver)}/in")
    row = _fire_and_send(db, tenant, now, trigger_id)
    assert (row.status, row.last_error) == ("pending", "refused: loopback address")
    assert len(receiver.wait_for(1)) == 1 and other_receiver.wait_for(1, timeout=0.3) == []


def test_a_307_to_an_allowed_place_is_followed_with_the_same_signed_body(
    db: Database, tenant: Tenant, now: datetime, receiver: HttpReceiver, dns: dict[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _allow(monkeypatch, "hooks.intranet")
    dns["hooks.intranet"] = ["127.0.0.1"]
    receiver.redirect_to = f"http://hooks.intranet:{_port(receiver)}/moved"
    trigger_id = _trigger(db, tenant, now, webhook_url=f"http://hooks.intranet:{_port(receiver)}/in")
    assert _fire_and_send(db, tenant, now, trigger_id).status == "delivered"
    first, second = receiver.wait_for(2)
    assert (first.path, second.path) == ("/in", "/moved")
    assert first.body == second.body and first.headers["webhook-signature"] == second.headers["webhook-signature"]


def test_other_redirects_are_failures_and_redirect_loops_stop(
    db: Database, tenant: Tenant, now: datetime, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    _allow(monkeypatch, "127.0.0.1/32")
    receiver.redirect_to, receiver.redirect_status = f"{receiver.url}/elsewhere", 302
    trigger_id = _trigger(db, tenant, now, webhook_url=f"{receiver.url}/in")
    row = _fire_and_send(db, tenant, now, trigger_id)
    assert (row.last_status_code, row.last_error) == (302, "HTTP 302 from receiver (redirect not followed)")
    assert len(receiver.wait_for(2, timeout=0.3)) == 1

    hops = start_http_receiver()
    try:
        hops.redirect_to, hops.redirect_all = f"{hops.url}/loop", True
        session = outbound.new_session()
        with pytest.raises(outbound.Refused, match="more than 3 redirects"):
            outbound.post(session, f"{hops.url}/start", data=b"{}", headers={}, follow_redirects=True)
        assert len(hops.wait_for(4)) == 4
    finally:
        hops.close()


def test_slack_incoming_webhooks_never_follow_redirects(
    db: Database, tenant: Tenant, now: datetime, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    _allow(monkeypatch, "127.0.0.1/32")
    receiver.redirect_to = f"{receiver.url}/services/moved"
    trigger_id = _trigger(db, tenant, now, slack_webhook_url=f"{receiver.url}/services/T/B/X")
    row = _fire_and_send(db, tenant, now, trigger_id)
    assert (row.status, row.last_status_code, row.last_error) == (
        "pending", 307, "HTTP 307 from Slack (redirect not followed)")
    assert [r.path for r in receiver.wait_for(2, timeout=0.3)] == ["/services/T/B/X"]


def test_the_slack_web_api_never_follows_redirects_and_its_base_url_is_guarded(
    db: Database, tenant: Tenant, now: datetime, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = get_settings()
    monkeypatch.setattr(settings, "slack_bot_token", "xoxb-test")
    monkeypatch.setattr(settings, "slack_api_base_url", "http://169.254.169.254/api/")
    trigger_id = _trigger(db, tenant, now, slack_channel="C123")
    row = _fire_and_send(db, tenant, now, trigger_id)
    assert (row.status, row.last_error) == ("pending", "refused: link-local address")

    _allow(monkeypatch, "127.0.0.1/32")
    monkeypatch.setattr(settings, "slack_api_base_url", f"{receiver.url}/api/")
    receiver.redirect_to = f"{receiver.url}/elsewhere"
    with db.write() as session:
        (delivery,) = session.scalars(select(models.Delivery).where(models.Delivery.trigger_id == trigger_id))
        delivery.next_attempt_at = now
    dispatch_due(db, "test", lambda: now)
    with db.read() as session:
        again = session.get(models.Delivery, delivery.id)
        assert again is not None and again.last_error == "HTTP 307 from Slack (redirect not followed)"
    assert [r.path for r in receiver.wait_for(2, timeout=0.3)] == ["/api/chat.postMessage"]


def test_the_delivery_log_never_shows_what_the_receiver_answered(
    api, now: datetime, receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    _allow(monkeypatch, "127.0.0.1/32")
    receiver.failures, receiver.fail_status = 1, 500
    receiver.fail_body = '{"trace": "SECRET-INTERNAL-STACKTRACE at db01.corp"}'
    add_rule(api.db, api.tenant, "demo_request", 100, now)
    created = api.post("/v1/triggers/milestones", json={"score_threshold": 50, "webhook_url": receiver.url + "/h"})
    assert created.status_code == 201, created.text
    _fire_and_send(api.db, api.tenant, now, created.json()["trigger_id"])
    listed = api.get("/v1/deliveries")
    (delivery,) = listed.json()
    assert (delivery["last_status_code"], delivery["last_error"]) == (500, "HTTP 500 from receiver")
    assert "SECRET" not in listed.text and "db01" not in listed.text

    # A row written by an older version, which kept the receiver's answer, is cut to our own words too.
    with api.db.write() as session:
        row = session.get(models.Delivery, delivery["delivery_id"])
        row.last_error = 'HTTP 503: {"trace": "SECRET-INTERNAL-STACKTRACE"}'
    (delivery,) = api.get("/v1/deliveries").json()
    assert delivery["last_error"] == "HTTP 503 from receiver"


def test_connection_failures_are_short_reasons_of_ours(
    db: Database, tenant: Tenant, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    _allow(monkeypatch, "127.0.0.1/32")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    trigger_id = _trigger(db, tenant, now, webhook_url=f"http://127.0.0.1:{port}/h")
    assert _fire_and_send(db, tenant, now, trigger_id).last_error == "connection refused"


def _self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A certificate for `name` (and its key), valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_https_connects_to_the_checked_address_and_still_verifies_the_host_name(
    tmp_path: Path, receiver: HttpReceiver, dns: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _allow(monkeypatch, "127.0.0.1/32")
    cert, key = _self_signed(tmp_path, "hooks.example.test")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
    dns["hooks.example.test"] = ["127.0.0.1"]
    dns["other.example.test"] = ["127.0.0.1"]
    session = outbound.new_session()
    session.verify = str(cert)
    answer = outbound.post(session, f"https://hooks.example.test:{_port(receiver)}/tls", data=b"{}", headers={})
    assert answer.status_code == 200 and receiver.wait_for(1)[0].path == "/tls"
    # Same address, a name the certificate does not cover: TLS refuses it (verification uses the name, not the IP).
    with pytest.raises(requests.exceptions.SSLError) as caught:
        outbound.post(session, f"https://other.example.test:{_port(receiver)}/tls", data=b"{}", headers={})
    assert outbound.describe_error(caught.value) == "TLS error"
