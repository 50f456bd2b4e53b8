"""A real Slack app per unit: the organization's app credentials, each unit's OAuth install (state, callback,
code exchange), the stored connection (bot token sealed with services.integrations.secret_box), the default
target, the channel and user lists (proxied), and test messages.

Every Slack call goes through `slack_api.GuardedWebClient` (the outbound guard). The OAuth `state` is random, kept
only as its SHA-256, valid for STATE_TTL and used once; the callback is authenticated by it alone.

Status's `authorize_url` is the API's own install link (`{api_url}/v1/settings/ou/slack/install`), not a Slack URL
with a state: reading the status writes nothing, and each install (GET or POST .../install) mints its own state.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar
from urllib.parse import urlencode

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from core.slack_blocks import hello_message
from db import models
from db.engine import Database
from services.context import Tenant
from services.errors import Conflict, InvalidInput, ServiceError
from services.integrations import outbound, secret_box, slack_api
from services.tenancy import audit
from services.tenancy.policy import Action, permits, require
from settings import get_settings

log = logging.getLogger("leadvane.slack")

PROVIDER = "slack"
STATE_TTL = timedelta(minutes=10)
SCOPES = ("chat:write", "chat:write.public", "im:write", "channels:read", "groups:read", "users:read")
TARGET_KINDS = ("channel", "user")
TargetKind = Literal["channel", "user"]
CALLBACK_PATH = "/v1/slack/oauth/callback"
INSTALL_PATH = "/v1/settings/ou/slack/install"
MAX_LIST_LIMIT = 1000
_TARGET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")

T = TypeVar("T")


class SlackNotConnected(Conflict):
    code = "slack_not_connected"

    def __init__(self) -> None:
        super().__init__("this unit is not connected to Slack: connect it on the Integrations page first")


class SlackAppNotConfigured(Conflict):
    code = "slack_app_not_configured"

    def __init__(self) -> None:
        super().__init__("the organization's Slack app is not configured: PUT /v1/settings/slack-app first")


class SlackRateLimited(ServiceError):
    status = 429
    code = "rate_limited"

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"Slack asked to wait {retry_after:g} s before the next request")
        self.retry_after = retry_after


class SlackFailed(ServiceError):
    status = 502
    code = "slack_error"


# --- the organization's app ----------------------------------------------------------------------------------------


def _app(session: Session, org_id: str) -> models.SlackApp | None:
    return session.get(models.SlackApp, org_id)


def app_view(row: models.SlackApp | None) -> dict[str, Any]:
    """What GET /v1/settings/slack-app shows: never a secret, only whether each is set."""
    if row is None:
        return {"configured": False, "client_id": None, "client_secret_set": False, "signing_secret_set": False,
                "updated_at": None}
    return {"configured": bool(row.client_id and row.client_secret_enc), "client_id": row.client_id,
            "client_secret_set": bool(row.client_secret_enc), "signing_secret_set": bool(row.signing_secret_enc),
            "updated_at": row.updated_at}


def get_app(session: Session, tenant: Tenant) -> dict[str, Any]:
    require(tenant, Action.MANAGE_ORG)
    return app_view(_app(session, tenant.org_id))


def app_summary(session: Session, tenant: Tenant) -> dict[str, Any]:
    """The app's view for the unit's Integrations page (anyone who reads the unit sees whether it is configured)."""
    require(tenant, Action.READ)
    return app_view(_app(session, tenant.org_id))


def _secrets_audit(row: models.SlackApp | None) -> dict[str, Any]:
    """The audit's view of the app: the client id and whether each secret is set; never the secrets."""
    view = app_view(row)
    return {"client_id": view["client_id"], "client_secret_set": view["client_secret_set"],
            "signing_secret_set": view["signing_secret_set"]}


def set_app(
    session: Session, tenant: Tenant, *, client_id: str, client_secret: str, signing_secret: str | None, now: datetime,
) -> dict[str, Any]:
    """Store the organization's Slack app credentials (secrets sealed). `signing_secret` None keeps the stored one."""
    require(tenant, Action.MANAGE_ORG)
    client_id, client_secret = client_id.strip(), client_secret.strip()
    if not client_id:
        raise InvalidInput("client_id", "is required")
    if not client_secret:
        raise InvalidInput("client_secret", "is required")
    row = _app(session, tenant.org_id)
    before = _secrets_audit(row)
    if row is None:
        row = models.SlackApp(org_id=tenant.org_id, client_id=client_id, updated_at=now)
        session.add(row)
    row.client_id = client_id
    row.client_secret_enc = secret_box.seal(client_secret)
    if signing_secret is not None and signing_secret.strip():
        row.signing_secret_enc = secret_box.seal(signing_secret.strip())
    row.updated_at, row.updated_by = now, tenant.actor
    session.flush()
    after = {**_secrets_audit(row), "client_secret": "(changed)"}
    if signing_secret is not None and signing_secret.strip():
        after["signing_secret"] = "(changed)"
    audit.record(session, tenant, action="update" if before["client_id"] else "create", entity_type="slack_app",
                 entity_id=tenant.org_id, before=before, after=after, now=now)
    return app_view(row)


@dataclass(frozen=True, slots=True)
class AppCredentials:
    client_id: str
    client_secret: str


def _credentials(session: Session, org_id: str) -> AppCredentials:
    row = _app(session, org_id)
    if row is None or not row.client_id or not row.client_secret_enc:
        raise SlackAppNotConfigured()
    return AppCredentials(row.client_id, secret_box.unseal(row.client_secret_enc))


# --- the unit's connection -----------------------------------------------------------------------------------------


def _connection(session: Session, unit_id: str) -> models.SlackConnection | None:
    return session.get(models.SlackConnection, unit_id)


def redirect_uri() -> str:
    return get_settings().api_url + CALLBACK_PATH


def install_link() -> str:
    """The API's install route: it mints a state and redirects to Slack (needs the caller's credentials)."""
    return get_settings().api_url + INSTALL_PATH


def status(session: Session, tenant: Tenant) -> dict[str, Any]:
    """GET /v1/settings/ou/slack. Writes nothing (see the module's note on `authorize_url`)."""
    require(tenant, Action.READ)
    row = _connection(session, tenant.unit_id)
    app = _app(session, tenant.org_id)
    may_install = permits(tenant, Action.MANAGE_INTEGRATIONS) and app_view(app)["configured"]
    return {
        "connected": row is not None, "team_name": row.team_name if row else None,
        "team_id": row.team_id if row else None, "bot_user_id": row.bot_user_id if row else None,
        "updated_at": row.updated_at if row else None,
        "default_target_kind": row.default_target_kind if row else None,
        "default_target_id": row.default_target_id if row else None,
        "authorize_url": install_link() if may_install else None,
    }


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def begin_install(session: Session, tenant: Tenant, now: datetime) -> str:
    """A new single-use state for this unit (valid STATE_TTL) and Slack's authorize URL carrying it."""
    require(tenant, Action.MANAGE_INTEGRATIONS)
    app = _credentials(session, tenant.org_id)
    o = models.OAuthState
    session.execute(delete(o).where(o.expires_at < now - STATE_TTL))  # old states: nothing to keep them for
    state = secrets.token_urlsafe(32)
    session.add(o(state_hash=_hash(state), provider=PROVIDER, org_id=tenant.org_id, unit_id=tenant.unit_id,
                  created_by=tenant.actor, created_at=now, expires_at=now + STATE_TTL))
    session.flush()
    query = urlencode({"client_id": app.client_id, "scope": ",".join(SCOPES), "redirect_uri": redirect_uri(),
                       "state": state})
    return f"{get_settings().slack_authorize_url}?{query}"


@dataclass(frozen=True, slots=True)
class Grant:
    """A state that was just used: whose install it is."""

    org_id: str
    unit_id: str
    actor: str | None


class InstallRefused(Exception):
    """The callback cannot complete; `reason` is a short code for the dashboard's URL."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def use_state(session: Session, state: str, now: datetime) -> Grant:
    """Mark the state used (once, atomically) and return its grant; InstallRefused for an unknown, expired or
    used state."""
    o = models.OAuthState
    key = _hash(state)
    row = session.get(o, key)
    if row is None or row.provider != PROVIDER:
        raise InstallRefused("invalid_state")
    if row.used_at is not None:
        raise InstallRefused("state_used")
    if row.expires_at <= now:
        raise InstallRefused("state_expired")
    taken = session.execute(
        update(o).where(o.state_hash == key, o.used_at.is_(None)).values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if taken != 1:  # a concurrent callback with the same state won
        raise InstallRefused("state_used")
    return Grant(row.org_id, row.unit_id, row.created_by)


@dataclass(frozen=True, slots=True)
class Installed:
    team_id: str
    team_name: str | None
    bot_user_id: str | None
    bot_token: str
    scope: str | None


def exchange_code(app: AppCredentials, code: str) -> Installed:
    """oauth.v2.access: the code for the bot token. InstallRefused("exchange_failed"/Slack's code) on failure."""
    try:
        answer = slack_api.client().oauth_v2_access(client_id=app.client_id, client_secret=app.client_secret,
                                                    code=code, redirect_uri=redirect_uri())
    except slack_api.SlackApiError as exc:
        raise InstallRefused(slack_api.error_code(exc)) from None
    except Exception as exc:
        log.warning("Slack oauth.v2.access failed: %s", outbound.describe_error(exc))
        raise InstallRefused("exchange_failed") from None
    data: dict[str, Any] = answer.data if isinstance(answer.data, dict) else {}
    found_team = data.get("team")
    team: dict[str, Any] = found_team if isinstance(found_team, dict) else {}
    token = data.get("access_token")
    if not isinstance(token, str) or not token or not isinstance(team.get("id"), str):
        raise InstallRefused("exchange_failed")
    return Installed(team["id"], str(team.get("name") or "") or None, data.get("bot_user_id"), token,
                     data.get("scope"))


def save_connection(session: Session, grant: Grant, installed: Installed, now: datetime) -> models.SlackConnection:
    tenant = Tenant(grant.org_id, grant.unit_id, actor=grant.actor)
    row = _connection(session, grant.unit_id)
    before = audit.snapshot(row) if row is not None else None
    if row is None:
        row = models.SlackConnection(unit_id=grant.unit_id, org_id=grant.org_id, created_at=now)
        session.add(row)
    elif row.team_id != installed.team_id:  # another workspace: the old default target means nothing there
        row.default_target_kind = row.default_target_id = None
    row.team_id, row.team_name, row.bot_user_id = installed.team_id, installed.team_name, installed.bot_user_id
    row.bot_token_enc, row.scope = secret_box.seal(installed.bot_token), installed.scope
    row.updated_at, row.updated_by = now, grant.actor
    session.flush()
    audit.record(session, tenant, action="connect", entity_type="slack_connection", entity_id=grant.unit_id,
                 before=before, after=row, now=now)
    return row


def dashboard_return(outcome: str, reason: str | None = None) -> str:
    """Where the callback sends the browser: the dashboard's Integrations page with the outcome."""
    query = {"slack": outcome, **({"reason": reason} if reason else {})}
    return f"{get_settings().dashboard_url}/integrations?{urlencode(query)}"


def complete_install(db: Database, code: str | None, state: str | None, now: Callable[[], datetime]) -> str:
    """The OAuth callback: use the state, exchange the code, store the connection; returns the dashboard URL to
    redirect to (`?slack=connected`, or `?slack=error&reason=...`). Never raises for bad input or a failed
    exchange. The state is used (committed) before Slack is called, so it never works twice."""
    if not state or len(state) > 200:
        return dashboard_return("error", "invalid_state")
    try:
        with db.write() as session:
            grant = use_state(session, state, now())
            app = _credentials(session, grant.org_id)
        if not code or len(code) > 500:
            return dashboard_return("error", "missing_code")
        installed = exchange_code(app, code)
        with db.write() as session:
            save_connection(session, grant, installed, now())
    except InstallRefused as exc:
        return dashboard_return("error", exc.reason)
    except SlackAppNotConfigured:
        return dashboard_return("error", "app_not_configured")
    except secret_box.UnreadableSecret:
        return dashboard_return("error", "unreadable_secret")
    return dashboard_return("connected")


def disconnect(db: Database, tenant: Tenant, now: datetime) -> None:
    """Forget the unit's connection (and default target), then ask Slack to revoke the token (best effort)."""
    require(tenant, Action.MANAGE_INTEGRATIONS)
    with db.write() as session:
        row = _connection(session, tenant.unit_id)
        if row is None:
            raise SlackNotConnected()
        sealed = row.bot_token_enc
        audit.record(session, tenant, action="disconnect", entity_type="slack_connection", entity_id=tenant.unit_id,
                     before=row, after=None, now=now)
        session.delete(row)
        session.flush()
    try:
        slack_api.client(secret_box.unseal(sealed)).auth_revoke()
    except Exception as exc:
        log.info("Slack auth.revoke failed: %s", exc if isinstance(exc, slack_api.SlackApiError)
                 else outbound.describe_error(exc))


def _target(kind: str, target_id: str, field: str = "id") -> tuple[str, str]:
    if kind not in TARGET_KINDS:
        raise InvalidInput("kind", "must be channel or user")
    target_id = target_id.strip()
    if not _TARGET_ID.match(target_id):
        raise InvalidInput(field, "must be a Slack channel or user id, e.g. C0123ABC or U0123ABC")
    return kind, target_id


def set_default_target(session: Session, tenant: Tenant, kind: str, target_id: str, now: datetime) -> dict[str, Any]:
    require(tenant, Action.MANAGE_INTEGRATIONS)
    kind, target_id = _target(kind, target_id)
    row = _connection(session, tenant.unit_id)
    if row is None:
        raise SlackNotConnected()
    before = audit.snapshot(row)
    row.default_target_kind, row.default_target_id = kind, target_id
    row.updated_at, row.updated_by = now, tenant.actor
    session.flush()
    audit.record(session, tenant, action="update", entity_type="slack_connection", entity_id=tenant.unit_id,
                 before=before, after=row, now=now)
    return status(session, tenant)


# --- calls with the unit's bot token ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connection:
    """What sending needs: the unit's bot token and default target (read outside any write)."""

    bot_token: str
    default_target_kind: str | None
    default_target_id: str | None


def connection_of(session: Session, unit_id: str) -> Connection | None:
    row = _connection(session, unit_id)
    if row is None:
        return None
    return Connection(secret_box.unseal(row.bot_token_enc), row.default_target_kind, row.default_target_id)


def _call(work: Callable[[], T]) -> T:
    """A Slack call for an API caller: 429 -> SlackRateLimited, Slack errors -> SlackFailed (502) with Slack's
    short code, network and guard failures -> SlackFailed with a reason of ours."""
    try:
        return work()
    except slack_api.SlackApiError as exc:
        wait = slack_api.retry_after_of(exc)
        if wait is not None:
            raise SlackRateLimited(wait) from None
        raise SlackFailed(f"Slack API error: {slack_api.error_code(exc)}") from None
    except ServiceError:
        raise
    except Exception as exc:
        raise SlackFailed(f"Slack API request failed: {outbound.describe_error(exc)}") from None


def _token(session: Session, tenant: Tenant) -> str:
    found = connection_of(session, tenant.unit_id)
    if found is None:
        raise SlackNotConnected()
    return found.bot_token


def _page(answer: Mapping[str, Any], key: str) -> dict[str, Any]:
    found = answer.get("response_metadata")
    meta: Mapping[str, Any] = found if isinstance(found, dict) else {}
    items = answer.get(key)
    return {"ok": bool(answer.get("ok")), key: items if isinstance(items, list) else [],
            "response_metadata": {"next_cursor": str(meta.get("next_cursor") or "")}}


def list_channels(session: Session, tenant: Tenant, *, types: str | None = None, cursor: str | None = None,
                  limit: int | None = None) -> dict[str, Any]:
    """conversations.list with the unit's bot token: {ok, channels, response_metadata: {next_cursor}}."""
    args = {"types": types or "public_channel,private_channel", "exclude_archived": True}
    return _listing(session, tenant, "channels", args, cursor, limit)


def list_users(session: Session, tenant: Tenant, *, cursor: str | None = None,
               limit: int | None = None) -> dict[str, Any]:
    """users.list with the unit's bot token: {ok, members, response_metadata: {next_cursor}}."""
    return _listing(session, tenant, "members", {}, cursor, limit)


def _listing(session: Session, tenant: Tenant, key: str, args: dict[str, Any], cursor: str | None,
             limit: int | None) -> dict[str, Any]:
    """One page of conversations.list ("channels") or users.list ("members")."""
    require(tenant, Action.EDIT_TRIGGERS)
    token = _token(session, tenant)
    paging = {**args, **({"cursor": cursor} if cursor else {}), **({"limit": limit} if limit else {})}
    web = slack_api.client(token)
    method = web.conversations_list if key == "channels" else web.users_list
    answer = _call(lambda: method(**paging))
    return _page(answer.data if isinstance(answer.data, dict) else {}, key)


def post(client: slack_api.GuardedWebClient, kind: str, target_id: str, message: Mapping[str, Any]) -> str:
    """chat.postMessage to a channel, or to a user's DM (conversations.open first); returns the channel id."""
    channel: Any = target_id
    if kind == "user":
        opened = client.conversations_open(users=target_id)
        found = opened.data.get("channel") if isinstance(opened.data, dict) else None
        channel = found.get("id") if isinstance(found, dict) else None
        if not isinstance(channel, str) or not channel:
            raise SlackFailed("Slack API error: conversations.open returned no channel")
    client.chat_postMessage(channel=channel, text=message.get("text") or "", blocks=message.get("blocks"))
    return channel


def send_test(db: Database, tenant: Tenant, kind: str, target_id: str, text: str | None, now: datetime) -> str:
    """A test message to a channel or user (a DM) with the unit's app; returns a short confirmation."""
    require(tenant, Action.EDIT_TRIGGERS)
    kind, target_id = _target(kind, target_id)
    with db.read() as session:
        token = _token(session, tenant)
    _call(lambda: post(slack_api.client(token), kind, target_id, hello_message(text)))
    with db.write() as session:
        audit.record(session, tenant, action="test", entity_type="slack_connection", entity_id=tenant.unit_id,
                     before=None, after={"kind": kind, "id": target_id}, now=now)
    return f"test message sent to {'user' if kind == 'user' else 'channel'} {target_id}"


def connected(session: Session, tenant: Tenant) -> bool:
    return _connection(session, tenant.unit_id) is not None
