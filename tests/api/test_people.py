"""People on the API: tokens, the active unit, units, organization members and unit memberships."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.key_auth import KeyCache
from db import models
from db.engine import Database
from db.ids import new_id
from services.context import Tenant
from services.tenancy import tenants, tokens, users
from settings import get_settings
from tests.conftest import ApiHarness

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def jwt_secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("LEADVANE_JWT_SECRET", "test-secret-" + "x" * 40)
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@dataclass
class Org:
    """One organization with two units. Unit A: Olga (organization Owner, Owner in A), Otto (Operator in A,
    Viewer in B), Vera (Viewer in A). Unit B: Bob (its only Owner)."""

    client: TestClient
    db: Database
    a: Tenant
    b: str
    ids: dict[str, str]
    emails: dict[str, str]

    def token(self, who: str) -> str:
        r = self.client.post("/v1/auth/token", json={"email": self.emails[who], "password": PASSWORD})
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    def as_(self, who: str, unit: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token(who)}"}
        if unit is not None:
            headers["X-Active-OU"] = unit
        return headers


def _person(session: Any, tenant: Tenant, email: str, org_role: str, unit_roles: dict[str, str],
            now: datetime) -> str:
    user = models.User(
        id=new_id("usr"), org_id=tenant.org_id, email=email, name=email.split("@")[0],
        first_name=email.split("@")[0].split("-")[0].title(), last_name="Test",
        password_hash=users.hash_password(PASSWORD), role=org_role, verified=True, created_at=now, disabled=False,
    )
    session.add(user)
    session.flush()
    for order, (unit_id, role) in enumerate(unit_roles.items()):  # joined in this order: the first is the default
        users.add_membership(session, Tenant(tenant.org_id, unit_id), user_id=user.id, role=role,
                             now=now + timedelta(seconds=order))
    return user.id


@pytest.fixture
def org(api: ApiHarness, now: datetime) -> Org:
    tag = uuid.uuid4().hex[:8]
    emails = {name: f"{name}-{tag}@example.com" for name in ("olga", "otto", "vera", "bob")}
    a = api.tenant
    with api.db.write() as session:
        b = tenants.add_unit(session, org_id=a.org_id, name="Unit B", now=now).id
        for unit_id, level in ((a.unit_id, "A level"), (b, "B level")):
            session.add(models.EngagementLevel(id=new_id("lvl"), org_id=a.org_id, unit_id=unit_id, name=level,
                                               min_score=0, max_score=100, created_at=now, updated_at=now))
        ids = {
            "olga": _person(session, a, emails["olga"], "Owner", {a.unit_id: "Owner"}, now),
            "otto": _person(session, a, emails["otto"], "Operator", {a.unit_id: "Operator", b: "Viewer"}, now),
            "vera": _person(session, a, emails["vera"], "Viewer", {a.unit_id: "Viewer"}, now),
            "bob": _person(session, a, emails["bob"], "Viewer", {b: "Owner"}, now),
        }
    return Org(api.client, api.db, a, b, ids, emails)


def _levels(org: Org, headers: dict[str, str], **kwargs: Any) -> list[str]:
    r = org.client.get("/v1/levels/engagement", headers=headers, **kwargs)
    assert r.status_code == 200, r.text
    return [lv["name"] for lv in r.json()]


def _forget_people(client: TestClient) -> None:
    """What PERSON_CACHE_SECONDS guarantees, without waiting for it: every process forgets people after 5 s."""
    client.app.state.person_cache = KeyCache(ttl=5.0)  # type: ignore[attr-defined]


# --- tokens and the active unit -----------------------------------------------------------------------------------


def test_a_person_signs_in_reads_me_and_switches_units(org: Org) -> None:
    r = org.client.post("/v1/auth/token", json={"email": org.emails["otto"].upper(), "password": PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    auth = {"Authorization": f"Bearer {body['access_token']}"}

    me = org.client.get("/v1/me", headers=auth).json()
    assert me == {"org_member_id": org.ids["otto"], "first_name": "Otto", "last_name": "Test",
                  "email": org.emails["otto"], "role": "Operator", "verified": True}

    listed = org.client.get("/v1/org-units", headers=auth).json()
    assert [(u["unit_id"], u["role"]) for u in listed["units"]] == [(org.a.unit_id, "Operator"), (org.b, "Viewer")]
    assert listed["organization"] == {"org_id": org.a.org_id, "name": "Test org"}

    assert _levels(org, auth) == ["A level"]  # no choice yet: the first membership
    r = org.client.post("/v1/org-units/active", json={"ouId": org.b}, headers=auth)
    assert r.status_code == 200 and r.json() == {"unit_id": org.b, "name": "Unit B", "slug": "unit-b", "role": "Viewer"}
    assert r.headers["X-Active-OU"] == org.b
    cookie = r.headers["set-cookie"]
    assert f"activeOu={org.b}" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert _levels(org, auth, cookies={"activeOu": org.b}) == ["B level"]
    # The header wins over the cookie.
    assert _levels(org, {**auth, "X-Active-OU": org.a.unit_id}, cookies={"activeOu": org.b}) == ["A level"]
    # ...and the role is the one in that unit: a Viewer in B cannot edit B's levels.
    r = org.client.post("/v1/levels/engagement", json={"name": "x", "min_score": 101, "max_score": 200},
                        headers={**auth, "X-Active-OU": org.b})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


def test_a_unit_the_person_does_not_belong_to_is_forbidden(org: Org) -> None:
    r = org.client.get("/v1/levels/engagement", headers=org.as_("vera", org.b))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = org.client.post("/v1/org-units/active", json={"ouId": org.b}, headers=org.as_("vera"))
    assert r.status_code == 403
    # An organization Owner opens every unit of the organization, as Owner.
    assert _levels(org, org.as_("olga", org.b)) == ["B level"]


def test_bad_expired_and_foreign_tokens_are_401(org: Org, now: datetime) -> None:
    r = org.client.post("/v1/auth/token", json={"email": org.emails["vera"], "password": "wrong password"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    for token in ("not-a-jwt", tokens.issue(org.ids["vera"], org.a.org_id, now - timedelta(hours=2)).access_token):
        r = org.client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, token
    other_org = tokens.issue(org.ids["vera"], "org_elsewhere", datetime.now(now.tzinfo)).access_token
    assert org.client.get("/v1/me", headers={"Authorization": f"Bearer {other_org}"}).status_code == 401


def test_repeated_failures_are_throttled_with_retry_after(org: Org) -> None:
    statuses = [
        org.client.post("/v1/auth/token", json={"email": org.emails["bob"], "password": f"wrong {i}"}).status_code
        for i in range(get_settings().login_max_failures + 1)
    ]
    assert statuses[-1] == 429
    r = org.client.post("/v1/auth/token", json={"email": org.emails["bob"], "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert r.json()["error"]["code"] == "rate_limited"


def test_a_removed_member_loses_the_unit_once_the_cache_expires(org: Org) -> None:
    otto_in_b = org.as_("otto", org.b)
    assert _levels(org, otto_in_b) == ["B level"]
    r = org.client.delete(f"/v1/org-units/{org.b}/members/{org.ids['otto']}", headers=org.as_("bob"))
    assert r.status_code == 204
    _forget_people(org.client)
    r = org.client.get("/v1/levels/engagement", headers=otto_in_b)
    assert r.status_code == 403
    assert _levels(org, org.as_("otto")) == ["A level"]  # still a member of A


def test_cleanup_clears_legacy_cookies(org: Org) -> None:
    r = org.client.post("/v1/auth/cleanup", cookies={"activeOu": org.b, "leadvane_session": "x"})
    assert r.status_code == 204
    cleared = r.headers.get_list("set-cookie")
    assert any(c.startswith("activeOu=") and "Max-Age=0" in c for c in cleared)
    assert any(c.startswith("leadvane_session=") for c in cleared)


def test_a_key_sees_only_its_unit_and_is_not_a_person(org: Org, api: ApiHarness) -> None:
    listed = api.get("/v1/org-units").json()
    assert [(u["unit_id"], u["role"]) for u in listed["units"]] == [(org.a.unit_id, "Owner")]
    assert api.get("/v1/me").status_code == 403
    assert api.get("/v1/members").status_code == 403
    assert api.post("/v1/org-units/active", json={"ouId": org.a.unit_id}).status_code == 403
    assert api.get(f"/v1/org-units/{org.b}/members").status_code == 404


def test_the_signing_key_is_generated_once_privately(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEADVANE_JWT_SECRET")
    monkeypatch.setenv("LEADVANE_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    first = tokens.signing_key()
    tokens._file_key.cache_clear()
    assert tokens.signing_key() == first and len(first) >= 32
    path = tmp_path / tokens.KEY_FILE_NAME
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [tokens.KEY_FILE_NAME]  # no temporary file left behind


# --- units --------------------------------------------------------------------------------------------------------


def test_units_get_unique_slugs_default_levels_and_their_creator_as_owner(org: Org) -> None:
    olga = org.as_("olga")
    created = [org.client.post("/v1/org-units", json={"name": "Sales EMEA"}, headers=olga) for _ in range(2)]
    assert [r.status_code for r in created] == [201, 201]
    assert [r.json()["slug"] for r in created] == ["sales-emea", "sales-emea-2"]
    new_unit = created[0].json()["unit_id"]
    assert _levels(org, {**olga, "X-Active-OU": new_unit}) == ["Cold", "Warm", "Hot"]
    members = org.client.get(f"/v1/org-units/{new_unit}/members", headers=olga).json()
    assert [(m["org_member_id"], m["role"], m["unit_id"]) for m in members] == [(org.ids["olga"], "Owner", new_unit)]

    r = org.client.put(f"/v1/org-units/{org.b}", json={"name": "Sales  EMEA"}, headers=org.as_("bob"))
    assert r.status_code == 200 and r.json() == {"unit_id": org.b, "name": "Sales EMEA", "slug": "sales-emea-3"}
    # Only an Owner of the unit renames it; only organization Owners create units.
    assert org.client.put(f"/v1/org-units/{org.b}", json={"name": "x"}, headers=org.as_("otto")).status_code == 403
    assert org.client.put(f"/v1/org-units/{org.b}", json={"name": "x"}, headers=org.as_("vera")).status_code == 404
    assert org.client.post("/v1/org-units", json={"name": "Mine"}, headers=org.as_("bob")).status_code == 403


# --- memberships --------------------------------------------------------------------------------------------------


def test_memberships_are_listed_to_the_unit_only(org: Org) -> None:
    r = org.client.get(f"/v1/org-units/{org.b}/members", headers=org.as_("otto"))
    assert r.status_code == 200
    assert {(m["email"], m["role"]) for m in r.json()} == {(org.emails["bob"], "Owner"), (org.emails["otto"], "Viewer")}
    assert org.client.get(f"/v1/org-units/{org.b}/members", headers=org.as_("vera")).status_code == 404
    assert org.client.get(f"/v1/org-units/{org.b}/members", headers=org.as_("olga")).status_code == 200


def test_an_operator_manages_memberships_but_not_the_owner_role(org: Org) -> None:
    otto, unit = org.as_("otto"), org.a.unit_id
    path = f"/v1/org-units/{unit}/members"
    r = org.client.post(path, json={"org_member_id": org.ids["bob"], "role": "Owner"}, headers=otto)
    assert r.status_code == 403
    r = org.client.post(path, json={"org_member_id": org.ids["bob"]}, headers=otto)
    assert r.status_code == 201
    assert r.json() == {"org_member_id": org.ids["bob"], "first_name": "Bob", "last_name": "Test",
                        "email": org.emails["bob"], "role": "Viewer", "unit_id": unit}
    again = org.client.post(path, json={"org_member_id": org.ids["bob"], "role": "Viewer"}, headers=otto)
    assert again.status_code == 200 and again.json() == r.json()
    r = org.client.put(f"{path}/{org.ids['bob']}", json={"role": "Operator"}, headers=otto)
    assert r.status_code == 200 and r.json()["role"] == "Operator"
    assert org.client.put(f"{path}/{org.ids['olga']}", json={"role": "Viewer"}, headers=otto).status_code == 403
    assert org.client.delete(f"{path}/{org.ids['olga']}", headers=otto).status_code == 403
    assert org.client.put(f"{path}/{org.ids['bob']}", json={"role": "Owner"}, headers=otto).status_code == 403
    # A Viewer changes nothing.
    r = org.client.delete(f"{path}/{org.ids['bob']}", headers=org.as_("vera"))
    assert r.status_code == 403
    with org.db.read() as session:
        entries = session.scalars(
            select(models.AuditLog).where(models.AuditLog.unit_id == unit, models.AuditLog.entity_type == "membership",
                                          models.AuditLog.user_email.is_not(None))
            .order_by(models.AuditLog.id)  # in the order they were written (PostgreSQL has no implicit order)
        ).all()
    assert [(e.action, e.user_email) for e in entries] == [("create", org.emails["otto"]),
                                                           ("update", org.emails["otto"])]


def test_the_last_owner_of_a_unit_is_neither_removed_nor_demoted(org: Org) -> None:
    path = f"/v1/org-units/{org.b}/members/{org.ids['bob']}"
    r = org.client.put(path, json={"role": "Operator"}, headers=org.as_("bob"))
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    assert org.client.delete(path, headers=org.as_("olga")).status_code == 409
    # With a second Owner, the first may step down.
    r = org.client.post(f"/v1/org-units/{org.b}/members", json={"org_member_id": org.ids["vera"], "role": "Owner"},
                        headers=org.as_("bob"))
    assert r.status_code == 201
    assert org.client.put(path, json={"role": "Viewer"}, headers=org.as_("bob")).status_code == 200


# --- organization members -----------------------------------------------------------------------------------------


def test_only_organization_owners_manage_members(org: Org, api: ApiHarness) -> None:
    new = {"first_name": "Nina", "last_name": "New", "email": f"nina-{uuid.uuid4().hex[:6]}@example.com",
           "password": PASSWORD, "role": "Operator"}
    assert api.post("/v1/members", json=new).status_code == 403  # a key, even an Owner key
    assert org.client.post("/v1/members", json=new, headers=org.as_("bob")).status_code == 403
    olga = org.as_("olga")
    r = org.client.post("/v1/members", json=new, headers=olga)
    assert r.status_code == 201
    nina = r.json()
    assert nina == {"org_member_id": nina["org_member_id"], "first_name": "Nina", "last_name": "New",
                    "email": new["email"], "role": "Operator"}
    # She can sign in and acts with that role in Olga's active unit.
    r = org.client.post("/v1/auth/token", json={"email": new["email"], "password": PASSWORD})
    units = org.client.get("/v1/org-units", headers={"Authorization": f"Bearer {r.json()['access_token']}"}).json()
    assert [(u["unit_id"], u["role"]) for u in units["units"]] == [(org.a.unit_id, "Operator")]

    r = org.client.post("/v1/members", json={**new, "email": new["email"].upper()}, headers=olga)
    assert r.status_code == 409 and "email" in r.json()["error"]["message"]
    r = org.client.post("/v1/members", json={**new, "email": "x" + new["email"], "password": "short"}, headers=olga)
    assert r.status_code == 422 and "password" in r.json()["error"]["message"]

    listed = org.client.get("/v1/members", headers=org.as_("vera")).json()
    assert {m["email"] for m in listed} >= set(org.emails.values()) | {new["email"]}
    assert all(set(m) == {"org_member_id", "first_name", "last_name", "email", "role"} for m in listed)

    path = f"/v1/members/{nina['org_member_id']}"
    r = org.client.put(path, json={"last_name": "Newer", "role": "Viewer", "password": "another password"},
                       headers=olga)
    assert r.status_code == 200 and (r.json()["last_name"], r.json()["role"]) == ("Newer", "Viewer")
    assert org.client.post("/v1/auth/token", json={"email": new["email"], "password": "another password"}).status_code \
        == 200
    r = org.client.put(path, json={"email": org.emails["bob"]}, headers=olga)
    assert r.status_code == 409
    assert org.client.put(path, json={"role": "Owner"}, headers=org.as_("otto")).status_code == 403
    assert org.client.delete(path, headers=org.as_("otto")).status_code == 403


def test_the_last_organization_owner_cannot_leave(org: Org) -> None:
    olga = org.as_("olga")
    path = f"/v1/members/{org.ids['olga']}"
    assert org.client.put(path, json={"role": "Viewer"}, headers=olga).status_code == 409
    assert org.client.delete(path, headers=olga).status_code == 409
    assert org.client.put(f"/v1/members/{org.ids['bob']}", json={"role": "Owner"}, headers=olga).status_code == 200
    assert org.client.put(path, json={"role": "Operator"}, headers=olga).status_code == 200


def test_deleting_a_member_keeps_their_audit_entries(org: Org) -> None:
    otto = org.as_("otto")
    r = org.client.post("/v1/levels/engagement", json={"name": "Hot", "min_score": 101, "max_score": 500},
                        headers=otto)
    assert r.status_code == 201
    r = org.client.delete(f"/v1/members/{org.ids['otto']}", headers=org.as_("olga"))
    assert r.status_code == 204
    with org.db.read() as session:
        assert session.get(models.User, org.ids["otto"]) is None
        assert not session.scalars(
            select(models.UnitMembership).where(models.UnitMembership.user_id == org.ids["otto"])
        ).all()
        written = session.scalars(
            select(models.AuditLog).where(models.AuditLog.user_email == org.emails["otto"],
                                          models.AuditLog.entity_type == "level")
        ).all()
        removals = session.scalars(
            select(models.AuditLog.unit_id).where(models.AuditLog.entity_type == "membership",
                                                  models.AuditLog.action == "delete",
                                                  models.AuditLog.user_email == org.emails["olga"])
        ).all()
    assert len(written) == 1
    assert sorted(removals) == sorted([org.a.unit_id, org.b])  # recorded in each unit they left
    _forget_people(org.client)
    assert org.client.get("/v1/me", headers=otto).status_code == 401
