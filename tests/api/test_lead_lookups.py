"""Lead lookups for integrators: search by id or alias, batch scores, a lead's aliases and its account."""

from __future__ import annotations

from typing import Any

from tests.conftest import ApiHarness, add_rule


def send(api: ApiHarness, aliases: list[dict[str, Any]], event_type: str = "demo_request", **extra: Any) -> str:
    resp = api.post("/v1/events", {"aliases": aliases, "event_type": event_type, **extra})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["lead_id"])


def email(value: str) -> dict[str, str]:
    return {"alias_kind": "email", "raw_value": value}


def test_search_finds_leads_by_alias_fragment_phone_and_id_prefix(api: ApiHarness, other_api: ApiHarness) -> None:
    add_rule(api, "demo_request", 30)
    ann = send(api, [email("Ann.Lee@Acme.io"), {"alias_kind": "phone", "raw_value": "+1 415 555 0100"}])
    bob = send(api, [email("bob@globex.io")], "page_view")
    send(other_api, [email("ann.other@acme.io")])  # another unit: never found

    hits = api.get("/v1/leads/search", params={"q": "acme"}).json()
    assert [h["lead_id"] for h in hits] == [ann]
    assert hits[0]["matched"] == {"alias_kind": "email", "raw_value": "Ann.Lee@Acme.io"}
    assert hits[0]["score"] == 30 and hits[0]["email"] == "ann.lee@acme.io"
    assert [h["lead_id"] for h in api.get("/v1/leads/search", params={"q": "4155550"}).json()] == [ann]
    by_id = api.get("/v1/leads/search", params={"q": bob[:8]}).json()
    assert bob in [h["lead_id"] for h in by_id]
    assert next(h for h in by_id if h["lead_id"] == bob)["matched"] is None
    # LIKE wildcards are plain characters.
    assert api.get("/v1/leads/search", params={"q": "%%"}).json() == []


def test_search_needs_two_characters_and_answers_at_most_ten(api: ApiHarness) -> None:
    short = api.get("/v1/leads/search", params={"q": "a"})
    assert short.status_code == 422 and "q" in short.text
    for i in range(12):
        send(api, [email(f"person{i}@many.example")])
    assert len(api.get("/v1/leads/search", params={"q": "many.example"}).json()) == 10


def test_batch_scores_primary_by_name_by_id_and_only_visible_leads(api: ApiHarness, other_api: ApiHarness) -> None:
    add_rule(api, "demo_request", 30)
    secondary = api.post("/v1/rulesets", {"name": "Product"}).json()["id"]
    add_rule(api, "demo_request", 7, ruleset_id=secondary)
    ann = send(api, [email("ann@acme.io")])
    quiet = send(api, [email("quiet@acme.io")], "page_view")
    stranger = send(other_api, [email("x@other.io")])
    ids = [ann, quiet, stranger, ann]
    assert api.post("/v1/leads/scores", {"lead_ids": ids}).json() == [
        {"lead_id": ann, "score": 30}, {"lead_id": quiet, "score": 0}]
    assert api.post("/v1/leads/scores", {"lead_ids": [ann], "ruleset": "Product"}).json() == [
        {"lead_id": ann, "score": 7}]
    assert api.post("/v1/leads/scores", {"lead_ids": [ann], "ruleset": secondary}).json() == [
        {"lead_id": ann, "score": 7}]
    unknown = api.post("/v1/leads/scores", {"lead_ids": [ann], "ruleset": "Nope"})
    assert unknown.status_code == 404 and "ruleset" in unknown.text
    assert api.post("/v1/leads/scores", {"lead_ids": []}).status_code == 422
    assert api.post("/v1/leads/scores", {"lead_ids": [f"ld_{i}" for i in range(501)]}).status_code == 422


def test_a_leads_aliases_and_account(api: ApiHarness, other_api: ApiHarness) -> None:
    ann = send(api, [email("ann@acme.io"), {"alias_kind": "phone", "raw_value": "+1 415 555 0100"}])
    aliases = api.get(f"/v1/leads/{ann}/aliases").json()
    assert [(a["alias_kind"], a["raw_value"]) for a in aliases] == [
        ("email", "ann@acme.io"), ("phone", "+1 415 555 0100")]
    assert aliases[1]["value"] == "+14155550100" and aliases[0]["created_at"]
    account = api.get(f"/v1/leads/{ann}/account").json()
    assert account["lead_id"] == ann and account["account"]["domain"] == "acme.io"
    loner = send(api, [email("loner@gmail.com")])
    assert api.get(f"/v1/leads/{loner}/account").json() == {"lead_id": loner, "account": None}
    for path in ("aliases", "account"):
        assert other_api.get(f"/v1/leads/{ann}/{path}").status_code == 404
