"""Segments (reference: scoring-platform-openapi "Segments"): saved, live lists of leads defined by rules; their
count, their members (paged, or as CSV) and their rules. Membership: services.targeting.segments."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from api.deps import DatabaseDep, Now, ReadSession, run_write
from api.permissions import Reader, ScoringEditor
from api.responses import error_responses as errors
from api.schemas import LeadListItem
from api.segment_schemas import (
    SegmentCountOut,
    SegmentIn,
    SegmentOut,
    SegmentRuleIn,
    SegmentRuleOut,
    SegmentRuleUpdateIn,
)
from api.types import PageQuery
from services.errors import InvalidInput
from services.people import leads as lead_service
from services.targeting import export as segment_export
from services.targeting import segments

router = APIRouter(tags=["segments"])

LimitQuery = Annotated[int, Query(ge=1, le=500)]
_NOT_NULL = ("rule_type", "field_name", "operator", "logic_group", "logic_op", "order_index", "active")


@router.get("/v1/segments", response_model=list[SegmentOut], summary="List segments (OU-scoped)")
def list_segments(tenant: Reader, session: ReadSession) -> list[dict[str, Any]]:
    return segments.list_segments(session, tenant)


@router.post("/v1/segments", response_model=SegmentOut, status_code=201, summary="Create segment (OU-scoped)")
def create_segment(body: SegmentIn, tenant: ScoringEditor, db: DatabaseDep, now: Now) -> dict[str, Any]:
    return run_write(db, lambda s: segments.create_segment(
        s, tenant, name=body.name, description=body.description, active=body.active, now=now
    ))


@router.put("/v1/segments/{id}", response_model=SegmentOut, summary="Update segment (OU-scoped)")
def update_segment(id: str, body: SegmentIn, tenant: ScoringEditor, db: DatabaseDep, now: Now) -> dict[str, Any]:
    return run_write(db, lambda s: segments.update_segment(
        s, tenant, id, name=body.name, description=body.description, active=body.active, now=now
    ))


@router.delete("/v1/segments/{id}", status_code=204, response_class=Response,
               summary="Delete segment (OU-scoped), with its rules", responses=errors(401, 403, 404, 409))
def delete_segment(id: str, tenant: ScoringEditor, db: DatabaseDep, now: Now) -> Response:
    run_write(db, lambda s: segments.delete_segment(s, tenant, id, now=now))
    return Response(status_code=204)


@router.get("/v1/segments/{id}/count", response_model=SegmentCountOut, summary="Count leads in a segment (OU-scoped)")
def count_segment(id: str, tenant: Reader, session: ReadSession, now: Now) -> dict[str, int]:
    return {"count": segments.count_members(session, tenant, id, now)}


@router.get("/v1/segments/{id}/leads", response_model=list[LeadListItem],
            summary="List leads in a segment (OU-scoped)",
            description="The members, best score first, each as in GET /v1/leads.")
def segment_leads(
    id: str, tenant: Reader, session: ReadSession, now: Now, page: PageQuery = 1, limit: LimitQuery = 50
) -> list[dict[str, Any]]:
    segments.segment_row(session, tenant, id)
    return lead_service.list_leads(session, tenant, segment_id=id, now=now, page=page, limit=limit).rows


@router.get("/v1/segments/{id}/leads/export", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}}}, summary="Export a segment's leads (CSV)",
            description="Every member as a CSV row (streamed): " + ", ".join(segment_export.EXPORT_COLUMNS) + ".")
def export_segment_leads(id: str, tenant: Reader, session: ReadSession, db: DatabaseDep, now: Now) -> StreamingResponse:
    segments.segment_row(session, tenant, id)  # 404 before the stream starts

    def body() -> Iterator[str]:
        with db.read() as stream_session:
            yield from segment_export.export_csv(segment_export.export_rows(stream_session, tenant, id, now))

    return StreamingResponse(body(), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="segment-{id}.csv"'})


@router.get("/v1/segments/{id}/rules", response_model=list[SegmentRuleOut], summary="List segment rules (OU-scoped)")
def list_rules(id: str, tenant: Reader, session: ReadSession) -> list[dict[str, Any]]:
    return segments.list_rules(session, tenant, id)


@router.post("/v1/segments/{id}/rules", response_model=SegmentRuleOut, status_code=201,
             summary="Create segment rule (OU-scoped)")
def create_rule(id: str, body: SegmentRuleIn, tenant: ScoringEditor, db: DatabaseDep, now: Now) -> dict[str, Any]:
    fields = body.model_dump()
    return run_write(db, lambda s: segments.create_rule(s, tenant, id, fields=fields, now=now))


@router.put("/v1/segments/{id}/rules/{ruleId}", response_model=SegmentRuleOut,
            summary="Update segment rule (OU-scoped, partial)")
def update_rule(
    id: str, ruleId: str, body: SegmentRuleUpdateIn, tenant: ScoringEditor, db: DatabaseDep, now: Now
) -> dict[str, Any]:
    sent = body.model_dump(exclude_unset=True)
    for name in _NOT_NULL:
        if name in sent and sent[name] is None:
            raise InvalidInput(name, "must not be null")
    return run_write(db, lambda s: segments.update_rule(s, tenant, id, ruleId, fields=sent, now=now))


@router.delete("/v1/segments/{id}/rules/{ruleId}", status_code=204, response_class=Response,
               summary="Delete segment rule (OU-scoped)")
def delete_rule(id: str, ruleId: str, tenant: ScoringEditor, db: DatabaseDep, now: Now) -> Response:
    run_write(db, lambda s: segments.delete_rule(s, tenant, id, ruleId, now=now))
    return Response(status_code=204)
