"""Profiles: a lead's (or an account's) properties, kept as a fold of profile-change events of the log.

Every change of a profile (an API edit, a CRM or signal's contact fields, a field mapping copying an event's field)
is recorded as a system event whose metadata is a `ProfileChange`; folding a lead's changes in log order gives its
profile, so a replay rebuilds profiles exactly as it rebuilds scores. Field mappings (`MappingSpec`) say which
event fields are copied into which profile property, and how.

Pure: no clock, no database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

LEAD_PROFILE_EVENT = "PROFILE_UPDATE"
ACCOUNT_PROFILE_EVENT = "ACCOUNT_PROFILE_UPDATE"
PROFILE_EVENT_TYPES = frozenset({LEAD_PROFILE_EVENT, ACCOUNT_PROFILE_EVENT})

UPDATE_BEHAVIORS: tuple[str, ...] = ("always_latest", "set_once", "append")
APPEND_KEEP = 10  # `append` keeps the last ten values in `<property>_list`
PROFILE_KINDS: tuple[str, ...] = ("profile", "account")


@dataclass(frozen=True, slots=True)
class ProfileChange:
    """Keys set (to these values) and keys removed; with `replace`, every other key is removed too."""

    set: Mapping[str, Any] = field(default_factory=dict)
    unset: tuple[str, ...] = ()
    replace: bool = False
    via: str = "api"

    def to_metadata(self) -> dict[str, Any]:
        out: dict[str, Any] = {"set": dict(self.set), "via": self.via}
        if self.unset:
            out["unset"] = list(self.unset)
        if self.replace:
            out["replace"] = True
        return out

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> ProfileChange:
        raw_set = metadata.get("set")
        raw_unset = metadata.get("unset")
        return cls(
            set=dict(raw_set) if isinstance(raw_set, Mapping) else {},
            unset=tuple(str(k) for k in raw_unset) if isinstance(raw_unset, list) else (),
            replace=bool(metadata.get("replace")),
            via=str(metadata.get("via") or "api"),
        )


def apply_change(profile: Mapping[str, Any], change: ProfileChange) -> dict[str, Any]:
    out = {} if change.replace else dict(profile)
    for key in change.unset:
        out.pop(key, None)
    out.update(change.set)
    return out


def fold(changes: Iterable[ProfileChange], start: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The profile after `changes` in order (the replay of a profile)."""
    profile: dict[str, Any] = dict(start or {})
    for change in changes:
        profile = apply_change(profile, change)
    return profile


def change_between(before: Mapping[str, Any], after: Mapping[str, Any], via: str) -> ProfileChange | None:
    """The smallest change that turns `before` into `after` (None when they are equal)."""
    if dict(before) == dict(after):
        return None
    set_ = {k: v for k, v in after.items() if k not in before or before[k] != v}
    unset = tuple(k for k in before if k not in after)
    return ProfileChange(set=set_, unset=unset, via=via)


def merge_patch(profile: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """PATCH semantics: keys of `patch` are set, a `None` value removes the key."""
    out = dict(profile)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


@dataclass(frozen=True, slots=True)
class MappingSpec:
    """Copy the event field `source_field` (a dotted path reaches into nested objects) into `property` of the lead's
    profile (`kind` profile) or of its account's (`kind` account)."""

    id: str
    kind: str
    source_field: str
    property: str
    update_behavior: str = "always_latest"


def lookup(fields: Mapping[str, Any], path: str) -> Any:
    """The value at `path` ("utm_source", "company.size"); None when absent."""
    if path in fields:
        return fields[path]
    current: Any = fields
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


def apply_mappings(
    profile: Mapping[str, Any], mappings: Iterable[MappingSpec], fields: Mapping[str, Any]
) -> dict[str, Any]:
    """The profile after copying the mapped `fields` of one event into it, by each mapping's update behavior:
    `always_latest` overwrites, `set_once` fills only an empty property, `append` keeps the last ten distinct
    values (newest last) in `<property>_list`. Fields that are absent, null or empty text copy nothing."""
    out = dict(profile)
    for mapping in mappings:
        value = lookup(fields, mapping.source_field)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if mapping.update_behavior == "set_once":
            if out.get(mapping.property) is None:
                out[mapping.property] = value
        elif mapping.update_behavior == "append":
            key = f"{mapping.property}_list"
            current = out.get(key)
            values = [v for v in (current if isinstance(current, list) else []) if v != value]
            out[key] = [*values, value][-APPEND_KEEP:]
        else:
            out[mapping.property] = value
    return out
