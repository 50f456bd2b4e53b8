"""Editor grids: rules as flat rows (one property condition each), levels, and back to what the services take."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from services.errors import InvalidInput
from services.scoring.levels import LevelInput

GRID_COLUMNS: tuple[str, ...] = (
    "id", "event_type", "weight", "active", "start_at", "end_at", "property", "operator", "value",
)


def rules_to_grid(rules: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for rule in rules:
        first = (rule.get("conditions") or [{}])[0] if rule.get("conditions") else {}
        value = first.get("value")
        rows.append(
            {
                "id": rule["id"], "event_type": rule["event_type"], "weight": rule["weight"], "active": rule["active"],
                "start_at": rule.get("start_at"), "end_at": rule.get("end_at"),
                "property": first.get("property") or "", "operator": first.get("operator") or "",
                "value": "" if value is None else (value if isinstance(value, str) else json.dumps(value)),
            }
        )
    frame = pd.DataFrame(rows, columns=list(GRID_COLUMNS))
    for column in ("start_at", "end_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["weight"] = frame["weight"].astype("Int64")
    frame["active"] = frame["active"].astype("boolean")
    return frame


def _blank(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _when(value: Any) -> datetime | None:
    if _blank(value):
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(UTC)
    return stamp.to_pydatetime()


def _condition_value(raw: Any) -> Any:
    """'10' -> 10, 'true' -> True, '["a","b"]' -> list, anything else stays text."""
    if _blank(raw):
        return None
    text = str(raw).strip()
    if text == "":
        return None
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return text
    return parsed if isinstance(parsed, int | float | bool | list) else text


def grid_to_rows(frame: pd.DataFrame, originals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for services.scoring.rules.save_ruleset_rules; a rule's further conditions beyond the grid's are kept."""
    by_id = {r["id"]: r for r in originals}
    rows: list[dict[str, Any]] = []
    for record in frame.to_dict("records"):
        rule_id = None if _blank(record.get("id")) else str(record["id"])
        weight = record.get("weight")
        prop = "" if _blank(record.get("property")) else str(record["property"]).strip()
        operator = "" if _blank(record.get("operator")) else str(record["operator"]).strip()
        conditions: list[dict[str, Any]] = []
        if prop or operator:
            conditions.append({"property": prop, "operator": operator, "value": _condition_value(record.get("value"))})
        if rule_id in by_id:
            conditions.extend((by_id[rule_id].get("conditions") or [])[1:])
        rows.append(
            {
                "id": rule_id,
                "event_type": "" if _blank(record.get("event_type")) else str(record["event_type"]).strip(),
                "weight": None if _blank(weight) else (int(weight) if float(weight).is_integer() else float(weight)),
                "active": True if _blank(record.get("active")) else bool(record["active"]),
                "start_at": _when(record.get("start_at")),
                "end_at": _when(record.get("end_at")),
                "conditions": conditions,
            }
        )
    return rows


_ROW_FIELD = re.compile(r"^rows\[(\d+)\]\.?([a-z_]*)")


def describe_error(message: str) -> str:
    """'rows[2].weight: must be an integer' -> 'Row 3, weight: must be an integer'."""
    match = _ROW_FIELD.match(message)
    if not match:
        return message
    rest = message[match.end():].lstrip(".:[] ")
    field = match.group(2) or "row"
    if field == "conditions":
        field = "condition"
        rest = re.sub(r"^\d+\]\.?", "", rest).lstrip(". ")
    return f"Row {int(match.group(1)) + 1}, {field}: {rest}"


def levels_to_grid(levels: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{k: lv[k] for k in ("id", "name", "min_score", "max_score")} for lv in levels],
        columns=["id", "name", "min_score", "max_score"],
    )


def _int_or_none(value: Any) -> int | None:
    return None if _blank(value) else int(float(value))


def grid_to_levels(frame: pd.DataFrame) -> list[LevelInput]:
    """Level inputs for services.scoring.levels.replace_all; a blank bound is refused with the row's name."""
    planned = []
    for index, record in enumerate(frame.to_dict("records"), start=1):
        name = "" if _blank(record.get("name")) else str(record["name"]).strip()
        low, high = _int_or_none(record.get("min_score")), _int_or_none(record.get("max_score"))
        if low is None or high is None:
            raise InvalidInput(f"levels[{index - 1}]", f"row {index} ({name or 'unnamed'}) needs a min and a max score")
        level_id = None if _blank(record.get("id")) else str(record["id"])
        planned.append(LevelInput(name=name, min_score=low, max_score=high, id=level_id))
    return planned


# --- drafts: grids compared with what is published -----------------------------------------------------------------

_DRAFT_FIELDS: tuple[str, ...] = ("event_type", "weight", "active", "start_at", "end_at", "conditions")


def rule_changes(
    rows: list[dict[str, Any]], originals: list[dict[str, Any]], ruleset_id: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """(add, update, remove) turning a ruleset's published rules into `rows` (grid_to_rows of the edited grid).

    Rows are compared with the published rules as the grid shows them, so an untouched row is never a change
    (a value the grid can only show as text, e.g. "10" against 10, does not count as an edit)."""
    published = {r["id"]: r for r in grid_to_rows(rules_to_grid(originals), originals)}
    add: list[dict[str, Any]] = []
    update: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row in rows:
        rule_id = row.get("id")
        if rule_id is None or rule_id not in published:
            add.append({"ruleset_id": ruleset_id, **{k: row.get(k) for k in _DRAFT_FIELDS}})
            continue
        seen.add(rule_id)
        changed = {k: row.get(k) for k in _DRAFT_FIELDS if row.get(k) != published[rule_id].get(k)}
        if changed:
            update.append({"rule_id": rule_id, **changed})
    remove = [rule_id for rule_id in published if rule_id not in seen]
    return add, update, remove


def levels_to_draft(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The levels grid as a draft's level list ({id?, name, min_score, max_score})."""
    return [
        {"id": lv.id, "name": lv.name, "min_score": lv.min_score, "max_score": lv.max_score}
        for lv in grid_to_levels(frame)
    ]


def same_levels(draft: list[dict[str, Any]], published: list[dict[str, Any]]) -> bool:
    def key(levels: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted((lv.get("id"), lv["name"], lv["min_score"], lv["max_score"]) for lv in levels)

    return key(draft) == key(published)


_DRAFT_PATH = re.compile(r"^(changes\.rules\.(?:add|update|remove)\[\d+\]|changes\.levels\[\d+\])\.?([a-z_]*)")


def describe_draft_error(message: str, places: dict[str, str]) -> str:
    """'changes.rules.update[1].weight: must be an integer' -> 'Engagement, row 3, weight: must be an integer'
    (`places` names where each change came from)."""
    match = _DRAFT_PATH.match(message)
    if not match or match.group(1) not in places:
        return message
    rest = message[match.end():].lstrip(".:[] ")
    field = match.group(2)
    if field == "conditions":
        field = "condition"
        rest = re.sub(r"^\d+\]\.?", "", rest).lstrip(". ")
    where = places[match.group(1)]
    return f"{where}, {field}: {rest}" if field else f"{where}: {rest}"
