"""/v1/scoring/versions: the unit's scoring history (list, one version, a diff) and rolling back to a version, which
restores the rules and the stored scores of that version as a new, audited version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from api.schemas import ScoringModelDocument, ScoringVersionDiffOut
from core.fit import FitRulesetSpec, FitRuleSpec
from core.model import (
    FIELD_PARTS,
    ITEM_PARTS,
    DecaySpec,
    FitLevelSpec,
    LevelSpec,
    RulesetSpec,
    RuleSpec,
    ScoringModel,
    SettingsSpec,
)
from core.profile import MappingSpec
from core.quarantine import EventTypeScope, FilterSpec
from core.surge import SurgeBand, SurgeSpec
from db import models
from db.engine import Database
from db.ids import new_id
from services.context import Tenant
from services.scoring.model import BASELINE_SUMMARY, live_model, model_at
from services.scoring.rescore import verify_unit
from services.tenancy import api_keys
from tests.conftest import ApiHarness, make_harness

T0 = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


def ok(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


def event(api: ApiHarness, email: str, event_type: str, moment: datetime) -> str:
    body = {"aliases": [{"alias_kind": "email", "raw_value": email}], "event_type": event_type,
            "timestamp": moment.isoformat().replace("+00:00", "Z")}
    lead_id: str = ok(api.post("/v1/events", body), 201)["lead_id"]
    return lead_id


def lead_scores(api: ApiHarness, *lead_ids: str) -> dict[str, dict[str, int]]:
    return {lead: ok(api.get(f"/v1/leads/{lead}/score"))["scores"] for lead in lead_ids}


def history(api: ApiHarness) -> dict[str, Any]:
    """Unit with versions 1 (created) .. 5, two leads scored along the way; returns the ids and scores per version.

    2: page_view worth 5; 3: page_view worth 20; 4: demo_request worth 50 added; 5: page_view removed.
    """
    page_view = ok(api.post("/v1/rules", {"event_type": "page_view", "weight": 5}), 201)["id"]
    ann = event(api, "ann@acme.com", "page_view", T0)
    event(api, "ann@acme.com", "demo_request", T0 + timedelta(hours=1))
    bob = event(api, "bob@acme.com", "page_view", T0)
    event(api, "bob@acme.com", "page_view", T0 + timedelta(hours=2))
    scores = {2: lead_scores(api, ann, bob)}
    ok(api.put(f"/v1/rules/{page_view}", {"weight": 20}))
    scores[3] = lead_scores(api, ann, bob)
    demo = ok(api.post("/v1/rules", {"event_type": "demo_request", "weight": 50}), 201)["id"]
    scores[4] = lead_scores(api, ann, bob)
    assert api.delete(f"/v1/rules/{page_view}").status_code == 204
    scores[5] = lead_scores(api, ann, bob)
    return {"page_view": page_view, "demo": demo, "ann": ann, "bob": bob, "scores": scores}


def test_versions_are_listed_newest_first_with_the_live_one_marked(api: ApiHarness) -> None:
    history(api)
    listed = ok(api.get("/v1/scoring/versions"))
    assert [v["version"] for v in listed] == [5, 4, 3, 2, 1]
    assert [v["live"] for v in listed] == [True, False, False, False, False]
    assert [v["summary"] for v in listed[:4]] == [
        "rule page_view removed", "rule demo_request added", "rule page_view: weight 5 → 20", "rule page_view added",
    ]
    assert listed[0]["published_by"] == "api key tests"  # who: the API key, by its name
    assert listed[-1]["published_by"] is None  # recorded by the system when the unit was created
    assert set(listed[0]) == {"version", "published_at", "published_by", "summary", "live"}
    assert listed[0]["published_at"].endswith("Z")


def test_a_version_is_the_whole_model_as_published(api: ApiHarness) -> None:
    ids = history(api)
    third = ok(api.get("/v1/scoring/versions/3"))
    assert third["version"] == 3 and third["live"] is False and third["summary"] == "rule page_view: weight 5 → 20"
    model = third["model"]
    assert model["schema"] == 1
    assert [(r["id"], r["event_type"], r["weight"]) for r in model["rules"]] == [(ids["page_view"], "page_view", 20)]
    assert [rs["is_primary"] for rs in model["rulesets"]] == [True]
    assert model["settings"] == {"allow_negative_scores": False, "abm_enabled": False, "session_timeout_minutes": 30,
                                 "bot_filter_enabled": False}
    assert model["levels"] == [] and model["decay_rules"] == []
    fifth = ok(api.get("/v1/scoring/versions/5"))["model"]
    assert [r["event_type"] for r in fifth["rules"]] == ["demo_request"]


def test_a_diff_names_what_changed_field_by_field(api: ApiHarness) -> None:
    ids = history(api)
    changed = ok(api.get("/v1/scoring/versions/3/diff"))
    assert changed["version"] == 3 and changed["against"] == 2
    assert changed["rules"] == {"added": [], "removed": [], "changed": [
        {"rule_id": ids["page_view"], "name": "page_view", "changes": {"weight": {"before": 5, "after": 20}}},
    ]}
    assert changed["settings"] == {}
    for part in ("rulesets", "levels", "decay_rules"):
        assert changed[part] == {"added": [], "removed": [], "changed": []}

    added = ok(api.get("/v1/scoring/versions/4/diff"))["rules"]
    assert [(r["id"], r["event_type"], r["weight"]) for r in added["added"]] == [(ids["demo"], "demo_request", 50)]
    removed = ok(api.get("/v1/scoring/versions/5/diff"))["rules"]
    assert [r["id"] for r in removed["removed"]] == [ids["page_view"]] and removed["added"] == []

    # Any two versions, in either direction.
    across = ok(api.get("/v1/scoring/versions/2/diff", params={"against": 5}))
    assert across["against"] == 5
    assert [r["event_type"] for r in across["rules"]["added"]] == ["page_view"]
    assert [r["event_type"] for r in across["rules"]["removed"]] == ["demo_request"]
    # Version 1 has nothing before it: it is compared with an empty configuration.
    first = ok(api.get("/v1/scoring/versions/1/diff"))
    assert first["against"] == 0 and [rs["name"] for rs in first["rulesets"]["added"]] == ["Engagement"]


def test_settings_and_levels_show_in_the_diff(api: ApiHarness) -> None:
    ok(api.put("/v1/settings/scoring", {"allow_negative_scores": True}))
    level = ok(api.post("/v1/levels/engagement", {"name": "Hot", "min_score": 50, "max_score": 1000}), 201)
    ok(api.put(f"/v1/levels/engagement/{level['id']}", {"name": "Hot", "min_score": 60, "max_score": 1000}))
    settings = ok(api.get("/v1/scoring/versions/2/diff"))
    assert settings["settings"] == {"allow_negative_scores": {"before": False, "after": True}}
    levels = ok(api.get("/v1/scoring/versions/4/diff"))["levels"]
    assert levels["changed"] == [
        {"level_id": level["id"], "name": "Hot", "changes": {"min_score": {"before": 50, "after": 60}}}
    ]


def test_rollback_restores_the_rules_and_the_scores_of_that_version(api: ApiHarness) -> None:
    ids = history(api)
    assert ids["scores"][5] != ids["scores"][2]
    restored = ok(api.post("/v1/scoring/versions/2/rollback"), 201)
    assert restored == {**restored, "version": 6, "summary": "rollback to version 2", "live": True,
                        "published_by": "api key tests"}
    # The rules are those of version 2, the removed rule back under its own id.
    rules = ok(api.get("/v1/rules"))
    assert [(r["id"], r["event_type"], r["weight"]) for r in rules] == [(ids["page_view"], "page_view", 5)]
    assert ok(api.get("/v1/scoring/versions/6"))["model"] == ok(api.get("/v1/scoring/versions/2"))["model"]
    # Stored scores are those version 2 gave, and exactly a replay of the log under the restored model.
    assert lead_scores(api, ids["ann"], ids["bob"]) == ids["scores"][2]
    with api.db.read() as session:
        assert verify_unit(session, api.tenant) == []
    listed = ok(api.get("/v1/scoring/versions"))
    assert [(v["version"], v["live"]) for v in listed[:2]] == [(6, True), (5, False)]
    # New events score under the restored rules.
    event(api, "ann@acme.com", "page_view", T0 + timedelta(hours=3))
    assert lead_scores(api, ids["ann"])[ids["ann"]] == {k: v + 5 for k, v in ids["scores"][2][ids["ann"]].items()}

    # The history only grows: the rollback itself can be rolled back.
    ok(api.post("/v1/scoring/versions/5/rollback"), 201)
    assert [r["event_type"] for r in ok(api.get("/v1/rules"))] == ["demo_request"]
    with api.db.read() as session:
        assert verify_unit(session, api.tenant) == []


def test_rollback_is_audited_naming_both_versions(api: ApiHarness) -> None:
    history(api)
    ok(api.post("/v1/scoring/versions/3/rollback"), 201)
    with api.db.read() as session:
        entries = session.execute(
            select(models.AuditLog.action, models.AuditLog.entity_id, models.AuditLog.changes,
                   models.AuditLog.user_email)
            .where(models.AuditLog.unit_id == api.tenant.unit_id, models.AuditLog.entity_type == "scoring_version")
            .order_by(models.AuditLog.id)
        ).all()
    rollback = [e for e in entries if e.action == "rollback"]
    assert len(rollback) == 1
    assert rollback[0].entity_id == "6" and rollback[0].user_email == "api key tests"
    assert rollback[0].changes == {"version": {"before": 5, "after": 6}, "restored": {"before": None, "after": 3}}
    assert ("publish", "6") in {(e.action, e.entity_id) for e in entries}


def test_rolling_back_to_what_is_published_is_a_conflict(api: ApiHarness) -> None:
    history(api)
    same = api.post("/v1/scoring/versions/5/rollback")
    assert same.status_code == 409 and same.json()["error"]["code"] == "conflict"
    assert "version 5" in same.json()["error"]["message"]
    ok(api.post("/v1/scoring/versions/2/rollback"), 201)
    again = api.post("/v1/scoring/versions/2/rollback")  # version 6 holds version 2's configuration already
    assert again.status_code == 409
    assert ok(api.get("/v1/scoring/versions"))[0]["version"] == 6


def test_unknown_versions_are_404_naming_the_parameter(api: ApiHarness) -> None:
    history(api)
    for path in ("/v1/scoring/versions/99", "/v1/scoring/versions/99/diff", f"/v1/scoring/versions/{2**63 - 1}"):
        resp = api.get(path)
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found", path
        assert resp.json()["error"]["message"].startswith("version:")
    against = api.get("/v1/scoring/versions/3/diff", params={"against": 42})
    assert against.status_code == 404 and against.json()["error"]["message"].startswith("against:")
    assert api.post("/v1/scoring/versions/99/rollback").status_code == 404
    for bad in ("0", "-1", "abc", str(2**63)):
        resp = api.get(f"/v1/scoring/versions/{bad}")
        assert resp.status_code == 422 and "version" in resp.json()["error"]["message"], bad
    assert api.get("/v1/scoring/versions/3/diff", params={"against": 0}).status_code == 422


def test_a_viewer_reads_the_history_but_may_not_roll_back(api: ApiHarness) -> None:
    history(api)
    with api.db.write() as session:
        secret = api_keys.create_api_key(session, api.tenant, name="viewer", role="Viewer",
                                         now=datetime.now(UTC)).secret
    viewer = {"Authorization": f"Bearer {secret}"}
    assert api.client.get("/v1/scoring/versions", headers=viewer).status_code == 200
    assert api.client.get("/v1/scoring/versions/2", headers=viewer).status_code == 200
    assert api.client.get("/v1/scoring/versions/2/diff", headers=viewer).status_code == 200
    refused = api.client.post("/v1/scoring/versions/2/rollback", headers=viewer)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert ok(api.get("/v1/scoring/versions"))[0]["version"] == 5


def test_another_units_versions_are_not_found(api: ApiHarness, other_api: ApiHarness) -> None:
    history(api)
    theirs = ok(other_api.get("/v1/scoring/versions"))
    assert [v["version"] for v in theirs] == [1]
    for path in ("/v1/scoring/versions/3", "/v1/scoring/versions/3/diff"):
        assert other_api.get(path).status_code == 404
    assert other_api.post("/v1/scoring/versions/3/rollback").status_code == 404
    assert ok(api.get("/v1/scoring/versions"))[0]["version"] == 5


def test_rollback_brings_a_deleted_ruleset_back_with_its_rules_and_scores(api: ApiHarness) -> None:
    product = ok(api.post("/v1/rulesets", {"name": "Product"}), 201)["id"]
    signup = ok(api.post("/v1/rules", {"event_type": "signup", "weight": 40, "ruleset_id": product}), 201)["id"]
    ok(api.post("/v1/rules", {"event_type": "page_view", "weight": 5}), 201)
    ann = event(api, "ann@acme.com", "signup", T0)
    event(api, "ann@acme.com", "page_view", T0 + timedelta(hours=1))
    with_product = ok(api.get("/v1/scoring/versions"))[0]["version"]
    scores = lead_scores(api, ann)
    assert scores[ann][product] == 40
    assert api.delete(f"/v1/rulesets/{product}").status_code == 204
    assert product not in lead_scores(api, ann)[ann]

    ok(api.post(f"/v1/scoring/versions/{with_product}/rollback"), 201)
    restored = {rs["id"]: rs["name"] for rs in ok(api.get("/v1/rulesets"))}
    assert restored[product] == "Product"
    assert [r["id"] for r in ok(api.get(f"/v1/rulesets/{product}/rules"))] == [signup]
    assert lead_scores(api, ann) == scores
    with api.db.read() as session:
        assert verify_unit(session, api.tenant) == []
    # The diff of the rollback names what came back.
    back = ok(api.get(f"/v1/scoring/versions/{with_product + 2}/diff"))
    assert [rs["id"] for rs in back["rulesets"]["added"]] == [product]
    assert [r["id"] for r in back["rules"]["added"]] == [signup]


def test_a_unit_from_before_versioning_can_roll_back_to_its_baseline(api_app: Any, db: Database, now: datetime) -> None:
    """A unit migrated from 0007 has no version until its first change, which records the baseline as version 1."""
    legacy = Tenant(org_id=new_id("org"), unit_id=new_id("unit"))
    rule = new_id("rule")
    with db.write() as session:  # configuration rows and no version, as migration 0008 leaves an existing unit
        session.add(models.Organization(id=legacy.org_id, name="Legacy org", created_at=now))
        session.flush()
        session.add(models.Unit(id=legacy.unit_id, org_id=legacy.org_id, name="legacy", slug=legacy.unit_id,
                                created_at=now))
        session.flush()
        ruleset = new_id("rs")
        session.add(models.Ruleset(id=ruleset, org_id=legacy.org_id, unit_id=legacy.unit_id, name="Engagement",
                                   is_primary=True, created_at=now, updated_at=now))
        session.flush()
        session.add(models.Rule(id=rule, org_id=legacy.org_id, unit_id=legacy.unit_id, ruleset_id=ruleset,
                                event_type="page_view", weight=5, conditions=[], created_at=now, updated_at=now))
    api = make_harness(api_app, db, legacy, now)
    lead = event(api, "ann@acme.com", "page_view", T0)
    assert ok(api.get("/v1/scoring/versions")) == []
    assert api.get("/v1/scoring/versions/1").status_code == 404
    assert api.post("/v1/scoring/versions/1/rollback").status_code == 404
    ok(api.put(f"/v1/rules/{rule}", {"weight": 9}))
    assert [v["summary"] for v in ok(api.get("/v1/scoring/versions"))] == [
        "rule page_view: weight 5 → 9", BASELINE_SUMMARY,
    ]
    assert lead_scores(api, lead)[lead] == {ruleset: 9}
    ok(api.post("/v1/scoring/versions/1/rollback"), 201)
    assert [r["weight"] for r in ok(api.get("/v1/rules"))] == [5]
    assert lead_scores(api, lead)[lead] == {ruleset: 5}


def test_fit_changes_are_in_the_version_document_and_its_diff(api: ApiHarness) -> None:
    mapping = ok(api.post("/v1/profile/field-mappings", {"source_field": "utm_source",
                                                          "profile_property": "source"}), 201)
    ruleset = ok(api.post("/v1/profile/rulesets", {"name": "ICP", "is_primary": True}), 201)
    rule = ok(api.post(f"/v1/profile/rulesets/{ruleset['id']}/rules", {
        "profile_property": "title", "condition": "contains", "comparison_value": "vp", "weight": 20,
    }), 201)
    ok(api.put(f"/v1/profile/rulesets/{ruleset['id']}/rules/{rule['id']}", {"weight": 35}))
    latest = ok(api.get("/v1/scoring/versions"))[0]
    document = ok(api.get(f"/v1/scoring/versions/{latest['version']}"))["model"]
    assert [m["id"] for m in document["mappings"]] == [mapping["id"]]
    assert [(r["id"], r["weight"]) for r in document["fit_rules"]] == [(rule["id"], 35)]
    assert [rs["name"] for rs in document["fit_rulesets"]] == ["ICP"]
    changed = ok(api.get(f"/v1/scoring/versions/{latest['version']}/diff"))["fit_rules"]["changed"]
    assert changed == [{"rule_id": rule["id"], "name": "title contains vp",
                        "changes": {"weight": {"before": 20, "after": 35}}}]
    whole = ok(api.get(f"/v1/scoring/versions/{latest['version']}/diff?against=1"))
    assert [m["id"] for m in whole["mappings"]["added"]] == [mapping["id"]]


# --- every part of the model: the typed responses strip none, the diff names each change ---------------------------


def data_quality_history(api: ApiHarness) -> dict[str, Any]:
    """Versions after the existing ones: a surge mode change, a filter added, an event type observed, the bot
    filter switched on, then a filter and a scope changed and the surge bands made custom (one version each)."""
    def latest() -> int:
        version: int = ok(api.get("/v1/scoring/versions"))[0]["version"]
        return version

    steps: dict[str, int] = {}
    ok(api.put("/v1/settings/ou/surge-policy", {"mode": "standard"}))
    steps["surge"] = latest()
    burst = ok(api.post("/v1/filters/inorganic", {"event_type": "page_view", "count_threshold": 5,
                                                  "time_window_ms": 60_000}), 201)
    steps["filter"] = latest()
    ok(api.put("/v1/settings/event-types/webinar", {"max_processing_scope": "observe"}))
    steps["scope"] = latest()
    ok(api.put("/v1/settings/scoring", {"bot_filter_enabled": True}))
    steps["bot"] = latest()
    ok(api.put(f"/v1/filters/inorganic/{burst['filter_id']}", {"count_threshold": 8}))
    steps["filter_changed"] = latest()
    ok(api.put("/v1/settings/event-types/webinar", {"max_processing_scope": "decide"}))
    steps["scope_changed"] = latest()
    ok(api.put("/v1/settings/ou/surge-policy", {"mode": "custom", "bands": [{"min_events": 2, "multiplier": 1.5}],
                                                "multiplier_cap": 1.5}))
    steps["surge_custom"] = latest()
    ok(api.put("/v1/settings/event-types/webinar", {"max_processing_scope": "activate"}))
    steps["scope_reset"] = latest()
    assert sorted(steps.values()) == list(range(2, 2 + len(steps)))  # one version per change
    return {"filter": burst, "steps": steps}


def only(diff: dict[str, Any], *parts: str) -> dict[str, Any]:
    """The diff's non-empty parts (those not in `parts` asserted empty)."""
    for part, entry in diff.items():
        if part in ("version", "against") or part in parts:
            continue
        assert entry in ({}, {"added": [], "removed": [], "changed": []}), (part, entry)
    return {part: diff[part] for part in parts}


def test_a_version_document_carries_every_part_of_the_model(api: ApiHarness) -> None:
    ids = data_quality_history(api)
    newest = max(ids["steps"].values())
    before_reset = ids["steps"]["surge_custom"]
    model = ok(api.get(f"/v1/scoring/versions/{before_reset}"))["model"]
    assert model["surge"] == {"mode": "custom", "bands": [{"min_events": 2, "multiplier": 1.5}],
                              "idle_reset_seconds": 1800, "multiplier_cap": 1.5}
    assert model["settings"]["bot_filter_enabled"] is True
    assert model["filters"] == [{"id": ids["filter"]["filter_id"], "event_type": "page_view", "count_threshold": 8,
                                 "time_window_ms": 60_000, "group_events": False}]
    assert model["event_type_scopes"] == [{"id": "webinar", "scope": "decide"}]
    assert ok(api.get(f"/v1/scoring/versions/{newest}"))["model"]["event_type_scopes"] == []
    # The response is exactly the stored model's document: nothing stripped, nothing added.
    with api.db.read() as session:
        assert model == model_at(session, api.tenant, before_reset).to_document()


def _keys(document: dict[str, Any]) -> dict[str, Any]:
    """The document's keys: the top level's, and per part the keys of its value (one item's for a list part)."""
    shape: dict[str, Any] = {}
    for key, value in document.items():
        item = value[0] if isinstance(value, list) and value else value
        shape[key] = sorted(item) if isinstance(item, dict) else None
    return shape


def test_the_typed_document_has_every_key_of_the_core_document() -> None:
    """A part (or setting) added to core.model's document and not to ScoringModelDocument would be stripped from
    GET /v1/scoring/versions/{v} without a word: this fails instead."""
    full = ScoringModel.build(
        rulesets=[RulesetSpec("rs", "Engagement", is_primary=True)],
        rules=[RuleSpec("r", "rs", "page_view", 5, conditions=({"property": "p", "operator": "equals", "value": 1},))],
        levels=[LevelSpec("l", "Hot", 50, 100)], decay_rules=[DecaySpec("d", 7, "days", 5)],
        settings=SettingsSpec(bot_filter_enabled=True), mappings=[MappingSpec("m", "profile", "utm", "source")],
        fit_rulesets=[FitRulesetSpec("f", "profile", "ICP")],
        fit_rules=[FitRuleSpec("fr", "f", "title", "contains", "vp", 10)],
        fit_levels=[FitLevelSpec("fl", "profile", "A", 0, 10)],
        filters=[FilterSpec("fi", "page_view", 5, 1000)], event_type_scopes=[EventTypeScope("webinar", "observe")],
        surge=SurgeSpec(mode="custom", bands=(SurgeBand(2, 1.5),)),
    )
    document = full.to_document()
    assert all(document[part] for part, _ in ITEM_PARTS)  # every list part has an item whose keys are compared
    typed = ScoringModelDocument.model_validate(document).model_dump(mode="json", by_alias=True)
    assert _keys(typed) == _keys(document)
    assert typed == document
    # The diff: every part core.model.diff reports is a field of the typed diff.
    diff_fields = {f.alias or name for name, f in ScoringVersionDiffOut.model_fields.items()}
    assert diff_fields == {"version", "against", *(p for p, _ in ITEM_PARTS), *FIELD_PARTS}


def test_the_version_endpoint_keys_match_the_core_document(api: ApiHarness) -> None:
    data_quality_history(api)
    with api.db.read() as session:
        core_document = live_model(session, api.tenant).to_document()
    newest = ok(api.get("/v1/scoring/versions"))[0]["version"]
    served = ok(api.get(f"/v1/scoring/versions/{newest}"))["model"]
    assert set(served) == set(core_document)
    assert set(served["settings"]) == set(core_document["settings"])
    assert set(served["surge"]) == set(core_document["surge"])


def test_the_diff_names_surge_filter_scope_and_bot_filter_changes(api: ApiHarness) -> None:
    ids = data_quality_history(api)
    steps, burst = ids["steps"], ids["filter"]
    diff = {name: ok(api.get(f"/v1/scoring/versions/{v}/diff")) for name, v in steps.items()}
    assert only(diff["surge"], "surge") == {"surge": {"mode": {"before": "off", "after": "standard"}}}
    assert only(diff["filter"], "filters") == {"filters": {"added": [
        {"id": burst["filter_id"], "event_type": "page_view", "count_threshold": 5, "time_window_ms": 60_000,
         "group_events": False},
    ], "removed": [], "changed": []}}
    assert only(diff["scope"], "event_type_scopes") == {"event_type_scopes": {
        "added": [{"id": "webinar", "scope": "observe"}], "removed": [], "changed": [],
    }}
    assert only(diff["bot"], "settings") == {"settings": {"bot_filter_enabled": {"before": False, "after": True}}}
    assert only(diff["filter_changed"], "filters")["filters"]["changed"] == [
        {"filter_id": burst["filter_id"], "name": "8x page_view in 60000 ms",
         "changes": {"count_threshold": {"before": 5, "after": 8}}},
    ]
    assert only(diff["scope_changed"], "event_type_scopes")["event_type_scopes"]["changed"] == [
        {"event_type": "webinar", "name": "webinar", "changes": {"scope": {"before": "observe", "after": "decide"}}},
    ]
    assert only(diff["surge_custom"], "surge") == {"surge": {
        "mode": {"before": "standard", "after": "custom"},
        "bands": {"before": [{"min_events": 1, "multiplier": 1.0}, {"min_events": 3, "multiplier": 1.25},
                             {"min_events": 5, "multiplier": 1.5}],
                  "after": [{"min_events": 2, "multiplier": 1.5}]},
        "multiplier_cap": {"before": 2.0, "after": 1.5},
    }}
    assert only(diff["scope_reset"], "event_type_scopes")["event_type_scopes"]["removed"] == [
        {"id": "webinar", "scope": "decide"}
    ]

    # The reported case: a version that changed the surge mode against one that added a filter.
    across = ok(api.get(f"/v1/scoring/versions/{steps['filter']}/diff", params={"against": steps["surge"]}))
    assert [f["id"] for f in only(across, "filters")["filters"]["added"]] == [burst["filter_id"]]
    back = ok(api.get(f"/v1/scoring/versions/{steps['surge']}/diff", params={"against": steps["surge_custom"]}))
    named = only(back, "surge", "filters", "event_type_scopes", "settings")
    assert set(named["surge"]) == {"mode", "bands", "multiplier_cap"}
    assert named["surge"]["mode"] == {"before": "custom", "after": "standard"}
    assert [f["id"] for f in named["filters"]["removed"]] == [burst["filter_id"]]
    assert named["event_type_scopes"]["removed"] == [{"id": "webinar", "scope": "decide"}]
    assert named["settings"] == {"bot_filter_enabled": {"before": True, "after": False}}
    # And every version's summary names its change.
    summaries = {v["version"]: v["summary"] for v in ok(api.get("/v1/scoring/versions"))}
    assert summaries[steps["surge"]] == "surge mode off → standard"
    assert summaries[steps["bot"]] == "bot_filter_enabled false → true"
