"""GET /v1/profile/properties and /v1/account/properties: the distinct metadata keys seen in the unit only."""

from __future__ import annotations

from tests.conftest import ApiHarness, enable_abm


def signal(api: ApiHarness, email: str, contact: dict[str, object], account: dict[str, object]) -> None:
    resp = api.post("/v1/signals", {"type": "page_view", "contact": {"email": email, **contact},
                                    "account": account})
    assert resp.status_code in (200, 201, 202), resp.text


def test_distinct_keys_of_this_units_leads_and_accounts(api: ApiHarness, other_api: ApiHarness) -> None:
    enable_abm(api)  # the account keys answer 403 abm_disabled while ABM is off (tests/api/test_accounts_abm.py)
    assert api.get("/v1/profile/properties").json() == []
    assert api.get("/v1/account/properties").json() == []
    signal(api, "ann@acme.io", {"role": "VP", "plan": "pro"}, {"domain": "acme.io", "industry": "SaaS"})
    signal(api, "bob@globex.io", {"role": "CTO", "seats": 20}, {"domain": "globex.io", "employees": 200})
    signal(other_api, "eve@other.io", {"secret_key": "x"}, {"domain": "other.io", "hidden": True})
    profile = api.get("/v1/profile/properties").json()
    accounts = api.get("/v1/account/properties").json()
    assert {"role", "plan", "seats"} <= set(profile) and "secret_key" not in profile
    assert profile == sorted(profile) and len(profile) == len(set(profile))
    assert {"industry", "employees"} <= set(accounts) and "hidden" not in accounts
