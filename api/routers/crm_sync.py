"""CRM score sync settings (/v1/settings/crm): the unit's HubSpot token and properties, the scheduled sync of a
segment, a sync now, and a token check (services.integrations.crm). Not CRM ingest (api.routers.crm)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from api.crm_sync_schemas import CrmSettingsIn, CrmSettingsOut, CrmSyncOut, CrmTestOut
from api.deps import DatabaseDep, Now, ReadSession, run_write
from api.permissions import IntegrationManager, Reader
from api.responses import error_responses as errors
from services.integrations import crm

router = APIRouter(tags=["crm sync"])


@router.get("/v1/settings/crm", response_model=CrmSettingsOut, summary="Get the unit's CRM score sync settings",
            responses=errors(401, 403))
def get_crm_settings(tenant: Reader, session: ReadSession) -> CrmSettingsOut:
    """The token is never returned: `token_set` tells whether one is stored."""
    return CrmSettingsOut(**asdict(crm.get_crm_settings(session, tenant)))


@router.put("/v1/settings/crm", response_model=CrmSettingsOut, summary="Set the unit's CRM score sync settings",
            responses=errors(401, 403, 422))
def put_crm_settings(body: CrmSettingsIn, tenant: IntegrationManager, db: DatabaseDep, now: Now) -> CrmSettingsOut:
    """Triggers with `hubspot_sync` then write a firing lead's score, level and fit level to its HubSpot contact
    (matched by email, created when missing); with a segment and an interval, the segment's changed leads are
    synced every N minutes."""
    fields = body.model_dump(include=body.model_fields_set | {"provider"})

    def work(session: Session) -> crm.CrmSettingsView:
        return crm.put_crm_settings(session, tenant, now=now, **fields)

    return CrmSettingsOut(**asdict(run_write(db, work)))


@router.delete("/v1/settings/crm", status_code=204, response_class=Response,
               summary="Remove the unit's CRM score sync settings and token", responses=errors(401, 403, 404))
def delete_crm_settings(tenant: IntegrationManager, db: DatabaseDep, now: Now) -> Response:
    run_write(db, lambda s: crm.delete_crm_settings(s, tenant, now))
    return Response(status_code=204)


@router.post("/v1/settings/crm/sync", response_model=CrmSyncOut, summary="Sync the segment to the CRM now",
             responses=errors(401, 403, 409))
def sync_crm_now(tenant: IntegrationManager, db: DatabaseDep, now: Now) -> CrmSyncOut:
    """Queue the sync segment's leads whose score, level or fit level changed since they were last sent."""
    return CrmSyncOut(queued=run_write(db, lambda s: crm.sync_now(s, tenant, now)))


@router.post("/v1/settings/crm/test", response_model=CrmTestOut, summary="Check the stored HubSpot token",
             responses=errors(401, 403, 409))
def test_crm_connection(tenant: IntegrationManager, session: ReadSession) -> CrmTestOut:
    """One cheap HubSpot call (read one contact) with the stored token: `ok` false with a reason when refused."""
    return CrmTestOut(**asdict(crm.test_connection(session, tenant)))
