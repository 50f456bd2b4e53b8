"""Trigger and delivery routes: outbound URLs refused at save time (422 naming the field), "Send test", roles,
and typed responses in the OpenAPI document."""

import ipaddress
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook

from core.outbound import IPAddress
from db import models
from notify.dispatcher import dispatch_due
from services.integrations import outbound
from services.tenancy import api_keys
from settings import get_settings
from tests.conftest import ApiHarness
from tests.notify.receivers import LOOPBACK_ALLOW, HttpReceiver, start_http_receiver

KINDS = {
    "milestones": {"score_threshold": 50},
    "sequences": {"event_types": ["pricing_view", "demo_request"], "window_seconds": 3600},
    "patterns": {"conditions": [{"event_type": "email_open", "min_count": 3}], "window_seconds": 3600},
}


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpReceiver]:
    monkeypatch.setattr(get_settings(), "outbound_allow", LOOPBACK_ALLOW)
    rec = start_http_receiver()
    yield rec
    rec.close()


@pytest.mark.parametrize(("url", "reason"), [
    ("http://127.0.0.1:8080/hook", "refused: loopback address"),
    ("http://2130706433/hook", "refused: loopback address"),
    ("http://0x7f.1/hook", "refused: loopback address"),
    ("http://[::1]/hook", "refused: loopback address"),
    ("http://0.0.0.0/", "refused: unspecified address"),
    ("http://localhost:9/hook", "refused: resolves to a loopback address"),
    ("http://10.0.0.8/hook", "refused: private address"),
    ("http://169.254.169.254/latest/meta-data", "refused: link-local address"),
    ("http://[::ffff:192.168.1.1]/", "refused: private address"),
    ("https://user:pass@hooks.example.com/x", "refused: credentials in the URL"),
    ("ftp://hooks.example.com/x", "refused: must be an http(s) URL"),
])
def test_a_refused_url_is_a_422_naming_the_field(api: ApiHarness, url: str, reason: str) -> None:
    for field in ("webhook_url", "slack_webhook_url"):
        answer = api.post("/v1/triggers/milestones", json={"score_threshold": 10, field: url})
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["message"] == f"{field}: {reason}"
    assert api.get("/v1/triggers/milestones").json() == []  # nothing was stored


def test_an_update_to_a_refused_url_is_a_422_and_changes_nothing(api: ApiHarness) -> None:
    created = api.post("/v1/triggers/sequences", json={**KINDS["sequences"], "name": "Seq"})
    assert created.status_code == 201, created.text
    trigger_id = created.json()["trigger_id"]
    answer = api.put(f"/v1/triggers/sequences/{trigger_id}", json={"slack_webhook_url": "http://192.168.0.10/x"})
    assert answer.status_code == 422
    assert answer.json()["error"]["message"] == "slack_webhook_url: refused: private address"
    (listed,) = api.get("/v1/triggers/sequences").json()
    assert listed["slack_webhook_url"] is None and listed["name"] == "Seq"


def test_the_allow_list_lets_a_network_through_at_save_time(api: ApiHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "outbound_allow", "10.20.0.0/16")
    ok = api.post("/v1/triggers/milestones", json={"score_threshold": 1, "webhook_url": "http://10.20.3.4/in"})
    assert ok.status_code == 201, ok.text
    refused = api.post("/v1/triggers/milestones", json={"score_threshold": 1, "webhook_url": "http://10.21.0.1/"})
    assert refused.status_code == 422


@pytest.mark.parametrize("path", list(KINDS))
def test_send_test_queues_a_signed_sample_to_every_channel(
    api: ApiHarness, receiver: HttpReceiver, path: str
) -> None:
    created = api.post(f"/v1/triggers/{path}", json={
        **KINDS[path], "name": "Hot lead", "webhook_url": receiver.url + "/hook",
        "slack_webhook_url": receiver.url + "/slack", "email_message": "Call {lead.name} now ({score}, {level})",
    }).json()
    answer = api.post(f"/v1/triggers/{path}/{created['trigger_id']}/test")
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["trigger_id"] == created["trigger_id"] and len(body["delivery_ids"]) == 2
    queued = {d["delivery_id"]: d for d in api.get("/v1/deliveries").json()}
    assert set(body["delivery_ids"]) <= set(queued)

    dispatch_due(api.db, "test", lambda: datetime.now(UTC))
    by_path = {r.path: r for r in receiver.wait_for(2)}
    hook = by_path["/hook"]
    payload = Webhook(created["signing_secret"]).verify(hook.body, hook.headers)
    assert payload["test"] is True and payload["trigger"]["name"] == "Hot lead"
    assert payload["lead"]["email"] == "jane.doe@example.com" and payload["account"]["name"] == "Example Inc"
    assert payload["score_after"] is not None and payload["fired_at"].endswith("Z")
    assert hook.headers["webhook-id"] in body["delivery_ids"]
    assert by_path["/slack"].json()["text"].startswith(
        "*Hot lead* (test) fired for Jane Doe &lt;jane.doe@example.com&gt;")  # Slack mrkdwn-escaped
    assert "Call Jane Doe now (" in by_path["/slack"].json()["text"]
    # A sample is a delivery, not a firing: the trigger's emitted events stay real.
    assert api.get(f"/v1/triggers/{path}/events").json() == []
    assert {d["status"] for d in api.get("/v1/deliveries").json()} == {"delivered"}


def test_send_test_without_channels_or_for_someone_else_s_trigger(api: ApiHarness, other_api: ApiHarness) -> None:
    trigger_id = api.post("/v1/triggers/milestones", json={"score_threshold": 5}).json()["trigger_id"]
    none = api.post(f"/v1/triggers/milestones/{trigger_id}/test")
    assert none.status_code == 409 and "no webhook, email or Slack" in none.json()["error"]["message"]
    assert other_api.post(f"/v1/triggers/milestones/{trigger_id}/test").status_code == 404
    assert api.post(f"/v1/triggers/patterns/{trigger_id}/test").status_code == 404


def test_a_viewer_key_reads_triggers_but_changes_nothing(api: ApiHarness) -> None:
    trigger_id = api.post("/v1/triggers/milestones", json={"score_threshold": 5, "emails": ["a@example.com"]}
                          ).json()["trigger_id"]
    api.post(f"/v1/triggers/milestones/{trigger_id}/test")
    (delivery,) = api.get("/v1/deliveries").json()
    with api.db.write() as session:
        key = api_keys.create_api_key(session, api.tenant, name="viewer", now=datetime.now(UTC))
        session.execute(update(models.ApiKey).where(models.ApiKey.id == key.id).values(role="Viewer"))
    viewer = {"Authorization": f"Bearer {key.secret}"}
    base = "/v1/triggers/milestones"
    assert api.client.get(base, headers=viewer).status_code == 200
    assert api.client.get("/v1/deliveries", headers=viewer).status_code == 200
    attempts = [
        api.client.post(base, json={"score_threshold": 1}, headers=viewer),
        api.client.put(f"{base}/{trigger_id}", json={"score_threshold": 9}, headers=viewer),
        api.client.delete(f"{base}/{trigger_id}", headers=viewer),
        api.client.post(f"{base}/{trigger_id}/test", headers=viewer),
        api.client.post(f"/v1/deliveries/{delivery['delivery_id']}/retry", headers=viewer),
    ]
    assert [a.status_code for a in attempts] == [403] * 5
    assert all(a.json()["error"]["code"] == "forbidden" for a in attempts)
    (still,) = api.get(base).json()
    assert still["score_threshold"] == 5
    with api.db.read() as session:
        d = models.Delivery
        count = len(list(session.scalars(select(d.id).where(d.unit_id == api.tenant.unit_id))))
    assert count == 1


def test_every_trigger_and_delivery_route_declares_a_typed_response(api: ApiHarness) -> None:
    spec = api.client.get("/openapi.json").json()
    seen = 0
    for path, operations in spec["paths"].items():
        if not path.startswith(("/v1/triggers", "/v1/deliveries")):
            continue
        for method, op in operations.items():
            seen += 1
            ok = next(code for code in op["responses"] if code.startswith("2"))
            content = op["responses"][ok].get("content", {})
            if path.endswith("/events/export"):
                assert "text/csv" in content, path
            elif ok == "204":
                assert not content, (method, path)
            else:
                schema = content["application/json"]["schema"]
                assert "$ref" in schema or "$ref" in schema.get("items", {}), (method, path, schema)
    assert seen == 3 * 8 + 2
    created = spec["components"]["schemas"]["MilestoneCreatedOut"]["properties"]
    assert {"signing_secret", "score_threshold", "webhook_url", "created_at"} <= set(created)


def test_a_slow_dns_answer_at_save_time_does_not_hold_up_ingest(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The save-time look-up runs before the write transaction: on SQLite, a slow resolver (or a hostile
    # name server) must not hold the single writer lock while ingest waits.
    resolving = threading.Event()

    def slow_resolve(host: str, _port: int) -> list[IPAddress]:
        resolving.set()
        time.sleep(1.5)
        return [ipaddress.ip_address("93.184.216.34")]

    monkeypatch.setattr(outbound, "resolve_host", slow_resolve)
    results: dict[str, int] = {}
    saver = threading.Thread(target=lambda: results.update(status=api.post(
        "/v1/triggers/milestones", json={"score_threshold": 1, "webhook_url": "https://slow.example.test/h"}
    ).status_code))
    saver.start()
    assert resolving.wait(5)
    started = time.monotonic()
    event = api.post("/v1/events", json={"aliases": [{"alias_kind": "email", "raw_value": "a@acme.io"}],
                                         "event_type": "page_view"})
    took = time.monotonic() - started
    saver.join(10)
    assert event.status_code == 201 and results["status"] == 201
    assert took < 1.0, f"ingest waited {took:.2f}s for the trigger save's DNS look-up"
