"""Request and response models of segments (reference: scoring-platform-openapi "Segments")."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictFloat, StrictInt, StrictStr

from api.schemas import InModel, OutModel
from api.types import Timestamp

RuleType = Literal["lead_metadata", "event_metadata", "score", "level", "fit_level", "account"]
Operator = Literal[
    "equals", "not_equals", "contains", "not_contains", "starts_with", "ends_with", "in", "not_in", "gt", "gte",
    "lt", "lte", "exists", "not_exists",
]
LogicOp = Literal["AND", "OR"]
# A rule's value is text (the reference's type); a JSON number is accepted and kept as its text.
RuleValue = StrictStr | StrictInt | StrictFloat
_ORDER = 2**31 - 1
_RULE_TYPE_HELP = (
    "lead_metadata: a lead profile field; event_metadata: the lead has an event of `event_type` (within "
    "`within_days` when set) whose metadata field matches; score: the primary score (field_name empty or 'score') "
    "or a ruleset id's score; level / fit_level: the engagement / fit level name; account: a field of the lead's "
    "account (domain, name, fit_score, or a key of its profile)"
)


class SegmentIn(InModel):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    active: bool | None = Field(default=None, description="default true; an inactive segment still counts")


class SegmentOut(OutModel):
    segment_id: str
    name: str
    description: str | None
    active: bool
    created_at: Timestamp
    updated_at: Timestamp
    created_by: str | None
    updated_by: str | None


class SegmentCountOut(OutModel):
    count: int


class SegmentRuleIn(InModel):
    rule_name: str | None = Field(default=None, max_length=200)
    rule_type: RuleType = Field(description=_RULE_TYPE_HELP)
    field_name: str = Field(max_length=200)
    operator: Operator
    value: RuleValue | None = Field(default=None, description="required except for exists / not_exists; "
                                    "in / not_in take a comma-separated list; gt..lte a number")
    event_type: str | None = Field(default=None, max_length=200, description="required for event_metadata")
    within_days: int | None = Field(default=None, ge=1, le=36500, description="event_metadata: only events of "
                                    "the last N days")
    logic_group: int | None = Field(default=None, ge=0, le=_ORDER)
    logic_op: LogicOp | None = Field(default=None, description="how the rule joins the rules before it in its "
                                     "group (in order_index order); groups join with AND")
    order_index: int | None = Field(default=None, ge=-_ORDER, le=_ORDER)
    active: bool | None = None


class SegmentRuleUpdateIn(InModel):
    rule_name: str | None = Field(default=None, max_length=200)
    rule_type: RuleType | None = Field(default=None, description=_RULE_TYPE_HELP)
    field_name: str | None = Field(default=None, max_length=200)
    operator: Operator | None = None
    value: RuleValue | None = None
    event_type: str | None = Field(default=None, max_length=200)
    within_days: int | None = Field(default=None, ge=1, le=36500)
    logic_group: int | None = Field(default=None, ge=0, le=_ORDER)
    logic_op: LogicOp | None = None
    order_index: int | None = Field(default=None, ge=-_ORDER, le=_ORDER)
    active: bool | None = None


class SegmentRuleOut(OutModel):
    rule_id: str
    segment_id: str
    org_id: str
    rule_name: str | None
    rule_type: str
    field_name: str
    operator: str
    value: str | None
    event_type: str | None
    within_days: int | None
    logic_group: int
    logic_op: str
    order_index: int
    active: bool
    created_at: Timestamp
    updated_at: Timestamp
    created_by: str | None
    updated_by: str | None


class LeadFilterIn(InModel):
    """A trigger's filter: `field_name` `operator` `value`, tested like a segment rule (ignoring case)."""

    field_name: str = Field(min_length=1, max_length=200)
    operator: Operator
    value: RuleValue | None = None


class LeadFilterOut(OutModel):
    field_name: str
    operator: str
    value: str | None
