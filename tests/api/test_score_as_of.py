"""GET /v1/leads/{lead_id}/score?at=...&version=...: the lead's score from its events up to a moment, under the current
rules or a published scoring version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from db import models
from db.ids import new_id
from services.people import leads as lead_service
from services.scoring import decay
from tests.conftest import ApiHarness, add_rule

T0 = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
MICRO = timedelta(microseconds=1)


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def event(api: ApiHarness, email: str, event_type: str, moment: datetime) -> dict[str, Any]:
    resp = api.post("/v1/events", {"aliases": [{"alias_kind": "email", "raw_value": email}],
                                   "event_type": event_type, "timestamp": stamp(moment)})
    assert resp.status_code == 201, resp.text
    return resp.json()


def score_at(api: ApiHarness, lead_id: str, moment: datetime | None, **params: str) -> dict[str, Any]:
    query = dict(params) if moment is None else {**params, "at": stamp(moment)}
    resp = api.get(f"/v1/leads/{lead_id}/score", params=query)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def history(api: ApiHarness, lead_id: str) -> list[tuple[datetime, int]]:
    """The stored score story: (occurred_at, primary score after the event), from the events' explanations."""
    with api.db.read() as session:
        return lead_service.lead_score_history(session, api.tenant, lead_id)


def test_score_at_moments_between_events_equals_the_stored_history(api: ApiHarness, now: datetime) -> None:
    add_rule(api, "page_view", 5)
    add_rule(api, "unsubscribe", -30)
    add_rule(api, "demo_request", 50)
    with api.db.write() as session:
        decay.create_decay(session, api.tenant, inactive_for=7, unit="days", decrease=20, now=now)
    lead = event(api, "ann@acme.com", "page_view", T0)["lead_id"]
    event(api, "ann@acme.com", "page_view", T0 + timedelta(hours=1))
    event(api, "ann@acme.com", "unsubscribe", T0 + timedelta(hours=2))  # 10 - 30: the floor holds it at 0
    event(api, "ann@acme.com", "demo_request", T0 + timedelta(hours=3))  # 0 + 50, not -20 + 50
    with api.db.write() as session:  # two drops of 20, a week and two weeks after the last activity
        assert decay.apply_decay(session, api.tenant, T0 + timedelta(days=15)).drops == 2

    story = history(api, lead)
    assert [after for _, after in story] == [5, 10, 0, 50, 30, 10]
    stored = score_at(api, lead, None)
    assert stored["score"] == 10
    previous = 0
    for moment, after in story:
        assert score_at(api, lead, moment)["score"] == after  # an event at exactly `at` counts
        assert score_at(api, lead, moment - MICRO)["score"] == previous
        previous = after
    # Later than every event: the stored score, the same body as without `at`.
    assert score_at(api, lead, T0 + timedelta(days=400)) == stored
    # Before the first event: nothing yet, named as without `at` (the primary ruleset, at 0).
    before = score_at(api, lead, T0 - timedelta(days=1))
    assert before["score"] == 0 and before["ruleset_id"] == stored["ruleset_id"] is not None
    assert before["scores"] == {stored["ruleset_id"]: 0}
    # An offset is read as that moment; no offset means UTC.
    two_hours_later = (T0 + timedelta(hours=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    assert api.get(f"/v1/leads/{lead}/score", params={"at": two_hours_later}).json()["score"] == 10
    assert api.get(f"/v1/leads/{lead}/score", params={"at": "2026-09-01T11:00:00"}).json()["score"] == 0
    assert api.get(f"/v1/leads/{lead}/score", params={"at": "2026-09-01T12:00:00+02:00"}).json()["score"] == 10


def test_score_at_answers_under_the_current_rules_after_a_change(api: ApiHarness) -> None:
    page_view = add_rule(api, "page_view", 5)
    lead = event(api, "bob@acme.com", "page_view", T0)["lead_id"]
    event(api, "bob@acme.com", "page_view", T0 + timedelta(hours=1))
    event(api, "bob@acme.com", "page_view", T0 + timedelta(hours=2))
    halfway = T0 + timedelta(minutes=90)
    assert score_at(api, lead, halfway)["score"] == 10

    assert api.put(f"/v1/rules/{page_view}", {"weight": 7}).status_code == 200
    # The past is re-told under today's rules: two page views worth 7 each, not the 10 the lead had then.
    assert score_at(api, lead, halfway)["score"] == 14
    assert score_at(api, lead, None)["score"] == 21
    assert [after for _, after in history(api, lead)] == [7, 14, 21]  # the rescore rewrote the story alike


def test_score_at_counts_a_late_event_by_its_occurred_at_in_log_order(api: ApiHarness) -> None:
    add_rule(api, "page_view", 5)
    add_rule(api, "unsubscribe", -30)
    lead = event(api, "cat@acme.com", "unsubscribe", T0)["lead_id"]  # 0 (floor)
    event(api, "cat@acme.com", "page_view", T0 + timedelta(hours=1))  # 5
    event(api, "cat@acme.com", "page_view", T0 - timedelta(hours=1))  # ingested last, happened first: 10
    assert score_at(api, lead, None)["score"] == 10
    # Before the unsubscribe only the late page view had happened.
    assert score_at(api, lead, T0 - MICRO)["score"] == 5
    # Replayed in the log's order (unsubscribe, late page view), as the stored score was: 0 + 5, not 5 - 30 -> 0.
    assert score_at(api, lead, T0)["score"] == 5
    assert score_at(api, lead, T0 + timedelta(hours=1))["score"] == 10


def test_score_at_per_ruleset_keeps_the_endpoint_shape(api: ApiHarness) -> None:
    t = api.tenant
    with api.db.write() as session:
        secondary = new_id("rs")
        session.add(models.Ruleset(id=secondary, org_id=t.org_id, unit_id=t.unit_id, name="Product",
                                   is_primary=False, created_at=T0, updated_at=T0))
    add_rule(api, "page_view", 5)
    add_rule(api, "signup", 40, ruleset_id=secondary)
    lead = event(api, "dan@acme.com", "page_view", T0)["lead_id"]
    event(api, "dan@acme.com", "signup", T0 + timedelta(hours=1))
    primary = next(rs["id"] for rs in api.get("/v1/rulesets").json() if rs["id"] != secondary)
    now_scores = score_at(api, lead, None)
    assert now_scores["scores"] == {primary: 5, secondary: 40} and now_scores["ruleset_id"] == secondary

    early = score_at(api, lead, T0 + timedelta(minutes=30))
    assert early["scores"] == {primary: 5, secondary: 0}
    assert early["score"] == 5 and early["ruleset_id"] == primary and early["lead_id"] == lead
    late = score_at(api, lead, T0 + timedelta(hours=2))
    assert late["score"] == 40 and late["ruleset_id"] == secondary
    chosen = score_at(api, lead, T0 + timedelta(hours=2), ruleset_id=primary)
    assert chosen["score"] == 5 and chosen["ruleset_id"] == primary
    assert score_at(api, lead, T0 - timedelta(hours=1), ruleset_id=secondary)["score"] == 0
    # Before any event: 0 in every ruleset, and the primary one is named (a tie goes to the primary).
    nothing_yet = score_at(api, lead, T0 - timedelta(hours=1))
    assert nothing_yet["scores"] == {primary: 0, secondary: 0}
    assert (nothing_yet["ruleset_id"], nothing_yet["score"]) == (primary, 0)
    missing = api.get(f"/v1/leads/{lead}/score", params={"at": stamp(T0), "ruleset_id": "rs_nope"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_score_at_is_tenant_scoped_and_validated(api: ApiHarness, other_api: ApiHarness) -> None:
    add_rule(api, "page_view", 5)
    lead = event(api, "eve@acme.com", "page_view", T0)["lead_id"]
    foreign = other_api.get(f"/v1/leads/{lead}/score", params={"at": stamp(T0)})
    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "not_found"
    assert api.get("/v1/leads/ld_missing/score", params={"at": stamp(T0)}).status_code == 404
    bad = api.get(f"/v1/leads/{lead}/score", params={"at": "yesterday"})
    assert bad.status_code == 422 and "at" in bad.json()["error"]["message"]


def versions_of(api: ApiHarness) -> list[int]:
    return [v["version"] for v in api.get("/v1/scoring/versions").json()]


def test_score_under_a_published_version(api: ApiHarness) -> None:
    page_view = add_rule(api, "page_view", 5)
    five = versions_of(api)[0]
    lead = event(api, "fay@acme.com", "page_view", T0)["lead_id"]
    event(api, "fay@acme.com", "page_view", T0 + timedelta(hours=1))
    event(api, "fay@acme.com", "demo_request", T0 + timedelta(hours=2))
    assert api.put(f"/v1/rules/{page_view}", {"weight": 7}).status_code == 200
    add_rule(api, "demo_request", 50)
    level = api.post("/v1/levels/engagement", {"name": "Hot", "min_score": 60, "max_score": 1000})
    assert level.status_code == 201, level.text
    latest = versions_of(api)[0]

    now_scores = score_at(api, lead, None)
    assert now_scores["score"] == 64 and now_scores["level"] == {"id": level.json()["id"], "name": "Hot"}
    # Under the version where a page view was worth 5 and nothing else scored: its rules, and its (no) levels.
    then = score_at(api, lead, None, version=str(five))
    assert then["score"] == 10 and then["level"] is None and then["ruleset_id"] == now_scores["ruleset_id"]
    # The live version is the stored score, replayed.
    assert score_at(api, lead, None, version=str(latest)) == now_scores
    # Both parameters combine: events up to `at`, under version N.
    assert score_at(api, lead, T0 + timedelta(minutes=30), version=str(five))["score"] == 5
    assert score_at(api, lead, T0 + timedelta(minutes=90), version=str(latest))["score"] == 14
    assert score_at(api, lead, T0 + timedelta(hours=3), version=str(latest))["level"]["name"] == "Hot"
    # Reading the past changed nothing stored.
    assert score_at(api, lead, None) == now_scores


def test_score_under_a_version_refuses_what_that_version_does_not_have(
    api: ApiHarness, other_api: ApiHarness
) -> None:
    t = api.tenant
    add_rule(api, "page_view", 5)
    before_product = versions_of(api)[0]
    with api.db.write() as session:
        secondary = new_id("rs")
        session.add(models.Ruleset(id=secondary, org_id=t.org_id, unit_id=t.unit_id, name="Product",
                                   is_primary=False, created_at=T0, updated_at=T0))
    add_rule(api, "signup", 40, ruleset_id=secondary)
    lead = event(api, "gus@acme.com", "signup", T0)["lead_id"]
    assert score_at(api, lead, None, ruleset_id=secondary)["score"] == 40
    # The Product ruleset did not exist in the earlier version: 404 naming ruleset_id.
    missing = api.get(f"/v1/leads/{lead}/score", params={"version": before_product, "ruleset_id": secondary})
    assert missing.status_code == 404 and "version" in missing.json()["error"]["message"]
    earlier = score_at(api, lead, None, version=str(before_product))
    assert earlier["score"] == 0 and secondary not in earlier["scores"]  # signup scored nowhere then
    # Unknown versions (and another unit's) are 404 naming `version`; not a version number is a 422.
    for version in (99, 2**63 - 1):
        unknown = api.get(f"/v1/leads/{lead}/score", params={"version": version, "at": stamp(T0)})
        assert unknown.status_code == 404 and unknown.json()["error"]["message"].startswith("version:")
    assert other_api.get(f"/v1/leads/{lead}/score", params={"version": 1}).status_code == 404
    for bad in ("0", "two", str(2**63)):
        refused = api.get(f"/v1/leads/{lead}/score", params={"version": bad})
        assert refused.status_code == 422 and "version" in refused.json()["error"]["message"]
