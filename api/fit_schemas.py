"""Request and response models of fit scoring (reference: scoring-platform-openapi "Profile", "Account",
"Levels", "Admin"): field mappings, fit rulesets and rules, fit levels, the mappings backfill, and the fit part of
the what-if simulation. Profile and account models differ only in the name of the property a rule or mapping
reads (`profile_property`, `account_property`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, StrictFloat, StrictInt, StrictStr

from api.schemas import DistributionOut, InModel, LevelChangeOut, OutModel
from api.types import Timestamp

UpdateBehavior = Literal["always_latest", "set_once", "append"]
_BEHAVIOR_HELP = (
    "how a new event's value updates the property: always_latest overwrites, set_once fills it only while empty, "
    "append keeps the last 10 values in `<property>_list`"
)
# A comparison value is text (the reference's type); a JSON number is accepted and kept as its text.
ComparisonValue = StrictStr | StrictInt | StrictFloat
_ID = Field(max_length=200)

# --- field mappings ------------------------------------------------------------------------------------------------


class ProfileMappingIn(InModel):
    source_field: str = Field(min_length=1, max_length=200, description="event metadata field; dots reach inside")
    profile_property: str = Field(min_length=1, max_length=200)
    update_behavior: UpdateBehavior | None = Field(default=None, description=_BEHAVIOR_HELP + " (default)")


class AccountMappingIn(InModel):
    source_field: str = Field(min_length=1, max_length=200, description="event metadata field; dots reach inside")
    account_property: str = Field(min_length=1, max_length=200)
    update_behavior: UpdateBehavior | None = Field(default=None, description=_BEHAVIOR_HELP + " (default)")


class ProfileMappingOut(OutModel):
    id: str
    source_field: str
    profile_property: str
    update_behavior: str
    created_at: Timestamp


class AccountMappingOut(OutModel):
    id: str
    source_field: str
    account_property: str
    update_behavior: str
    created_at: Timestamp


# --- fit rulesets and rules ----------------------------------------------------------------------------------------


class FitRulesetIn(InModel):
    name: str = Field(min_length=1, max_length=200)
    enabled: bool | None = Field(default=None, description="default true; left out on PUT: unchanged")
    is_primary: bool | None = Field(
        default=None,
        description="the kind's fit score is this ruleset's (the flag is cleared on the others); the first "
        "ruleset of a kind becomes primary; left out on PUT: unchanged",
    )


class FitRulesetOut(OutModel):
    id: str
    org_id: str
    name: str
    enabled: bool
    is_primary: bool
    created_at: Timestamp
    updated_at: Timestamp


_CONDITION_HELP = (
    "equals, not_equals, contains, not_contains, starts_with, ends_with, in, not_in (comma-separated), gt, gte, "
    "lt, lte (numeric), exists, not_exists; text comparisons ignore case"
)


class ProfileRuleIn(InModel):
    profile_property: str = Field(min_length=1, max_length=200)
    condition: str = Field(max_length=50, description=_CONDITION_HELP)
    comparison_value: ComparisonValue = Field(description="empty for exists / not_exists")
    weight: StrictInt
    ui_order: StrictInt | None = None


class AccountRuleIn(InModel):
    account_property: str = Field(min_length=1, max_length=200)
    condition: str = Field(max_length=50, description=_CONDITION_HELP)
    comparison_value: ComparisonValue = Field(description="empty for exists / not_exists")
    weight: StrictInt
    ui_order: StrictInt | None = None


class ProfileRuleUpdateIn(InModel):
    """Fields left out keep their value."""

    profile_property: str | None = Field(default=None, min_length=1, max_length=200)
    condition: str | None = Field(default=None, max_length=50, description=_CONDITION_HELP)
    comparison_value: ComparisonValue | None = None
    weight: StrictInt | None = None
    ui_order: StrictInt | None = None


class AccountRuleUpdateIn(InModel):
    """Fields left out keep their value."""

    account_property: str | None = Field(default=None, min_length=1, max_length=200)
    condition: str | None = Field(default=None, max_length=50, description=_CONDITION_HELP)
    comparison_value: ComparisonValue | None = None
    weight: StrictInt | None = None
    ui_order: StrictInt | None = None


class ProfileRuleOut(OutModel):
    id: str
    ruleset_id: str
    profile_property: str
    condition: str
    comparison_value: str
    weight: int
    ui_order: int
    created_at: Timestamp
    updated_at: Timestamp


class AccountRuleOut(OutModel):
    id: str
    ruleset_id: str
    account_property: str
    condition: str
    comparison_value: str
    weight: int
    ui_order: int
    created_at: Timestamp
    updated_at: Timestamp


# --- fit levels and the backfill -----------------------------------------------------------------------------------


class FitLevelOut(OutModel):
    id: str
    level_id: str = Field(description="the reference document's name for id")
    name: str
    min_score: int
    max_score: int
    org_id: str
    created_by: str | None = Field(description="who made the level (a person's email or the credential's name); "
                                   "null for levels made before this was kept")
    updated_by: str | None = Field(description="who last changed the level; null for levels made before this was kept")


class MappingsAppliedOut(OutModel):
    leads_processed: int
    leads_updated: int = Field(description="leads whose profile changed (recorded as a profile event)")
    accounts_processed: int
    accounts_updated: int


# --- what-if: the fit parts of a draft and of the answer -----------------------------------------------------------


class ProfileRuleDraftIn(ProfileRuleIn):
    ruleset_id: str = _ID


class AccountRuleDraftIn(AccountRuleIn):
    ruleset_id: str = _ID


class ProfileRuleDraftChangeIn(ProfileRuleUpdateIn):
    rule_id: str = _ID


class AccountRuleDraftChangeIn(AccountRuleUpdateIn):
    rule_id: str = _ID


class ProfileRulesChangesIn(InModel):
    add: list[ProfileRuleDraftIn] = Field(default_factory=list, description="new rules, with their ruleset_id")
    update: list[ProfileRuleDraftChangeIn] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list, description="ids of profile rules to remove")

    def as_draft(self) -> dict[str, Any]:
        return _rules_draft(self.add, self.update, self.remove)


class AccountRulesChangesIn(InModel):
    add: list[AccountRuleDraftIn] = Field(default_factory=list, description="new rules, with their ruleset_id")
    update: list[AccountRuleDraftChangeIn] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list, description="ids of account rules to remove")

    def as_draft(self) -> dict[str, Any]:
        return _rules_draft(self.add, self.update, self.remove)


def _rules_draft(add: list[Any], update: list[Any], remove: list[str]) -> dict[str, Any]:
    return {
        "add": [body.model_dump(exclude_none=True) for body in add],
        "update": [change.model_dump(exclude_unset=True) for change in update],
        "remove": list(remove),
    }


class FitMoverOut(OutModel):
    id: str = Field(description="the lead's id (profile) or the account's (account)")
    label: str | None = Field(description="the lead's email, or the account's domain (else name)")
    before: int
    after: int


class FitSimulationOut(OutModel):
    leads_evaluated: int = Field(description="profiles compared: the unit's leads (profile) or accounts (account)")
    leads_changed: int = Field(description="of them, those whose fit score would change")
    level_changes: list[LevelChangeOut]
    distribution_before: DistributionOut
    distribution_after: DistributionOut = Field(description="same bins as distribution_before")
    top_movers: list[FitMoverOut]


class FitSimulationsOut(OutModel):
    profile: FitSimulationOut
    account: FitSimulationOut
