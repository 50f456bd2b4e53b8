"""Schemas of the CRM score sync settings (/v1/settings/crm): HubSpot token (write-only), properties, scheduled sync."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, StrictInt

from api.schemas import InModel


class CrmSettingsIn(InModel):
    """Replaces the settings. `token` left out (or null) keeps the stored one; a property left out gets its
    default, a level or fit level property set to null (or "") is not written."""

    provider: str = Field(max_length=32, description='the CRM: "hubspot"')
    token: str | None = Field(None, max_length=500, description="the HubSpot private app's access token "
                              "(scope crm.objects.contacts.write); write-only, stored encrypted")
    score_property: str = Field("leadvane_score", max_length=200, description="contact property for the score")
    level_property: str | None = Field("leadvane_level", max_length=200,
                                       description="contact property for the engagement level; null: not written")
    fit_level_property: str | None = Field("leadvane_fit_level", max_length=200,
                                           description="contact property for the fit level; null: not written")
    sync_segment_id: str | None = Field(None, max_length=64, description="the segment the scheduled sync sends")
    sync_interval_minutes: StrictInt | None = Field(
        None, description="minutes between scheduled syncs (5..1440); null: no scheduled sync")


class CrmSettingsOut(BaseModel):
    configured: bool = Field(description="false: the unit has no CRM settings (the defaults are shown)")
    provider: str
    token_set: bool = Field(description="a token is stored (it is never returned)")
    score_property: str
    level_property: str | None
    fit_level_property: str | None
    sync_segment_id: str | None
    sync_interval_minutes: int | None
    last_sync_at: datetime | None = Field(description="when the last scheduled (or manual) sync queued its writes")
    updated_at: datetime | None


class CrmSyncOut(BaseModel):
    queued: int = Field(description="contacts queued for HubSpot (leads of the segment whose values changed)")


class CrmTestOut(BaseModel):
    ok: bool
    message: str
