"""Schemas of the Slack routes: the organization's app credentials, a unit's connection, targets and tests."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from api.schemas import InModel, OutModel
from api.types import Timestamp

TargetKind = Literal["channel", "user"]


class SlackAppIn(InModel):
    client_id: str = Field(min_length=1, max_length=200)
    client_secret: str = Field(min_length=1, max_length=500, description="write-only; stored encrypted")
    signing_secret: str | None = Field(default=None, max_length=500,
                                       description="write-only; stored encrypted; omitted: the stored one is kept")


class SlackAppOut(OutModel):
    configured: bool = Field(description="client_id and client_secret are set")
    client_id: str | None
    client_secret_set: bool
    signing_secret_set: bool
    updated_at: Timestamp | None


class SlackStatusOut(OutModel):
    connected: bool
    team_name: str | None
    team_id: str | None
    bot_user_id: str | None
    updated_at: Timestamp | None
    default_target_kind: TargetKind | None
    default_target_id: str | None
    authorize_url: str | None = Field(
        description="the API's install link (GET: redirects to Slack with a fresh single-use state) when the "
        "organization's app is configured and the caller may install; else null")


class AuthorizeUrlOut(OutModel):
    authorize_url: str = Field(description="Slack's authorize URL with a single-use state, valid 10 minutes")


class NextCursorOut(OutModel):
    next_cursor: str = Field(description="empty on the last page")


class SlackChannelsOut(OutModel):
    ok: bool
    channels: list[dict[str, Any]] = Field(description="Slack's conversation objects, as Slack returned them")
    response_metadata: NextCursorOut


class SlackUsersOut(OutModel):
    ok: bool
    members: list[dict[str, Any]] = Field(description="Slack's user objects, as Slack returned them")
    response_metadata: NextCursorOut


class DefaultTargetIn(InModel):
    kind: TargetKind
    id: str = Field(min_length=1, max_length=80, description="a channel id (C...) or a user id (U...)")


class SlackTestIn(InModel):
    kind: TargetKind
    id: str = Field(min_length=1, max_length=80)
    text: str | None = Field(default=None, max_length=3000, description="optional custom message")


class SlackTestOut(OutModel):
    message: str
