"""Where every kind of trigger (milestone, sequence, pattern, surge) may also send: the unit's Slack app and its CRM.
One definition, mixed into each kind's input and output models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.schemas import InModel


class IntegrationTargetsIn(InModel):
    slack_target_kind: Literal["channel", "user", ""] | None = Field(
        default=None, description="also send through the unit's Slack app (Integrations) to a channel or a user (a "
        "DM); \"\" removes the Slack app target")
    slack_target_id: str | None = Field(
        default=None, max_length=80, description="the channel or user id; absent or \"\": the unit's default target "
        "when the message is sent")
    teams_target_kind: str | None = Field(default=None, max_length=80,
                                          description="Microsoft Teams targets are not supported: null only")
    teams_target_id: str | None = Field(default=None, max_length=200,
                                        description="Microsoft Teams targets are not supported: null only")
    hubspot_sync: bool | None = Field(default=None, description="each firing writes the lead's score and levels to "
                                      "the unit's CRM")


class IntegrationTargetsOut(BaseModel):
    slack_target_kind: Literal["channel", "user"] | None = None
    slack_target_id: str | None = None
    teams_target_kind: None = None
    teams_target_id: None = None
    hubspot_sync: bool = False
