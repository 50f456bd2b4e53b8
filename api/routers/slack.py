"""Slack: the organization's Slack app (/v1/settings/slack-app), each unit's connection through OAuth
(/v1/settings/ou/slack..., /v1/slack/oauth/callback), its default target, the channel and user lists (proxied
from Slack) and test messages. services.integrations.slack does the work; every Slack call passes the outbound guard.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException

from api.deps import DatabaseDep, Now, ReadSession, run_write
from api.permissions import IntegrationManager, OrgManager, Public, Reader, TriggerEditor
from api.responses import error_responses as errors
from api.slack_schemas import (
    AuthorizeUrlOut,
    DefaultTargetIn,
    SlackAppIn,
    SlackAppOut,
    SlackChannelsOut,
    SlackStatusOut,
    SlackTestIn,
    SlackTestOut,
    SlackUsersOut,
)
from services.integrations import slack

router = APIRouter(tags=["slack"])

CursorQuery = Annotated[str | None, Query(max_length=500, description="next_cursor of the previous page")]
LimitQuery = Annotated[int | None, Query(ge=1, le=slack.MAX_LIST_LIMIT, description="items per page (Slack's limit)")]


def _rate_limited(exc: slack.SlackRateLimited) -> HTTPException:
    seconds = max(1, int(exc.retry_after + 0.999))
    return HTTPException(429, exc.message, headers={"Retry-After": str(seconds)})


@router.get("/v1/settings/slack-app", response_model=SlackAppOut, summary="Get Slack app configuration (org-level)",
            responses=errors(401, 403))
def get_slack_app(tenant: OrgManager, session: ReadSession) -> dict[str, Any]:
    """Whether the organization's Slack app credentials are set; the secrets themselves are never returned."""
    return slack.get_app(session, tenant)


@router.put("/v1/settings/slack-app", response_model=SlackAppOut, summary="Set Slack app configuration (org-level)",
            responses=errors(401, 403, 422))
def put_slack_app(body: SlackAppIn, tenant: OrgManager, db: DatabaseDep, now: Now) -> dict[str, Any]:
    """Sets the Slack app's client id and client secret (and optionally its signing secret; omitted: the stored one
    is kept). Secrets are write-only and encrypted at rest."""
    return run_write(db, lambda s: slack.set_app(s, tenant, client_id=body.client_id, client_secret=body.client_secret,
                                                 signing_secret=body.signing_secret, now=now))


@router.get("/v1/settings/ou/slack", response_model=SlackStatusOut, summary="Get OU Slack integration status",
            responses=errors(401, 403))
def get_slack_status(tenant: Reader, session: ReadSession) -> dict[str, Any]:
    return slack.status(session, tenant)


@router.get("/v1/settings/ou/slack/install", status_code=302, response_class=RedirectResponse,
            summary="Begin Slack installation", responses={302: {"description": "to Slack's authorize URL"},
                                                           **errors(401, 403, 409)})
def begin_slack_install(tenant: IntegrationManager, db: DatabaseDep, now: Now) -> RedirectResponse:
    """Redirects to Slack's authorize URL with a fresh single-use state (valid 10 minutes)."""
    url = run_write(db, lambda s: slack.begin_install(s, tenant, now))
    return RedirectResponse(url, status_code=302)


@router.post("/v1/settings/ou/slack/install", response_model=AuthorizeUrlOut, summary="Initiate Slack installation",
             responses=errors(401, 403, 409))
def initiate_slack_install(tenant: IntegrationManager, db: DatabaseDep, now: Now) -> dict[str, Any]:
    """Creates a short-lived (10 minutes), single-use OAuth state for the unit and returns Slack's authorize URL."""
    return {"authorize_url": run_write(db, lambda s: slack.begin_install(s, tenant, now))}


@router.get("/v1/slack/oauth/callback", status_code=303, response_class=RedirectResponse,
            summary="Slack OAuth callback", dependencies=[Public],
            responses={303: {"description": "to the dashboard's Integrations page (?slack=connected or "
                                            "?slack=error&reason=...)"}})
def slack_oauth_callback(
    db: DatabaseDep,
    code: Annotated[str | None, Query(max_length=500)] = None,
    state: Annotated[str | None, Query(max_length=200)] = None,
    error: Annotated[str | None, Query(max_length=200, description="set by Slack when the install was declined")]
    = None,
    error_description: Annotated[str | None, Query(max_length=1000)] = None,
) -> RedirectResponse:
    """Authenticated by the single-use `state` alone: exchanges `code` with oauth.v2.access, stores the unit's
    connection (bot token encrypted), and redirects to the dashboard's Integrations page."""
    if error:
        return RedirectResponse(slack.dashboard_return("error", "access_denied"), status_code=303)
    url = slack.complete_install(db, code, state, lambda: datetime.now(UTC))
    return RedirectResponse(url, status_code=303)


@router.delete("/v1/settings/ou/slack", status_code=204, response_class=Response,
               summary="Disconnect OU Slack integration", responses=errors(401, 403, 409))
def disconnect_slack(tenant: IntegrationManager, db: DatabaseDep, now: Now) -> Response:
    """Forgets the unit's connection and its default target, and asks Slack to revoke the token (best effort).
    Triggers that send through the app fail (with a clear reason) until the unit is connected again."""
    slack.disconnect(db, tenant, now)
    return Response(status_code=204)


@router.get("/v1/settings/ou/slack/channels", response_model=SlackChannelsOut,
            summary="List Slack channels for the connected workspace", responses=errors(401, 403, 409, 422, 429, 502))
def list_slack_channels(
    tenant: TriggerEditor, session: ReadSession,
    types: Annotated[str | None, Query(max_length=200, examples=["public_channel,private_channel"])] = None,
    cursor: CursorQuery = None, limit: LimitQuery = None,
) -> dict[str, Any]:
    """Proxies Slack's conversations.list (page with `cursor` = the previous page's next_cursor)."""
    try:
        return slack.list_channels(session, tenant, types=types, cursor=cursor, limit=limit)
    except slack.SlackRateLimited as exc:
        raise _rate_limited(exc) from None


@router.get("/v1/settings/ou/slack/users", response_model=SlackUsersOut,
            summary="List Slack users for the connected workspace", responses=errors(401, 403, 409, 422, 429, 502))
def list_slack_users(
    tenant: TriggerEditor, session: ReadSession, cursor: CursorQuery = None, limit: LimitQuery = None,
) -> dict[str, Any]:
    """Proxies Slack's users.list (page with `cursor` = the previous page's next_cursor)."""
    try:
        return slack.list_users(session, tenant, cursor=cursor, limit=limit)
    except slack.SlackRateLimited as exc:
        raise _rate_limited(exc) from None


@router.put("/v1/settings/ou/slack/default-target", response_model=SlackStatusOut,
            summary="Set default Slack notification target for the active OU", responses=errors(401, 403, 409, 422))
def put_slack_default_target(body: DefaultTargetIn, tenant: IntegrationManager, db: DatabaseDep,
                             now: Now) -> dict[str, Any]:
    """Where triggers with `slack_target_kind` and no `slack_target_id` send (read when each message is sent)."""
    return run_write(db, lambda s: slack.set_default_target(s, tenant, body.kind, body.id, now))


@router.post("/v1/settings/ou/slack/test", response_model=SlackTestOut,
             summary="Send a test Slack notification to the selected target",
             responses=errors(401, 403, 409, 422, 429, 502))
def send_slack_test(body: SlackTestIn, tenant: TriggerEditor, db: DatabaseDep, now: Now) -> dict[str, Any]:
    """Sends a simple message to the channel, or to the user (a DM: conversations.open first)."""
    try:
        return {"message": slack.send_test(db, tenant, body.kind, body.id, body.text, now)}
    except slack.SlackRateLimited as exc:
        raise _rate_limited(exc) from None
