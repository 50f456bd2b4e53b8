"""The event log as columns (numpy arrays in replay order): what the vectorised replay (core.replay), quarantine
(core.quarantine) and surge (core.surge) read. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from core import scoring

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch (exact); `moment` must be timezone-aware."""
    return (moment - EPOCH) // _MICRO


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=int(micros))


@dataclass(frozen=True, slots=True)
class EventColumns:
    """The event log as columns, in replay (seq) order.

    Lead, account, type and properties are codes into the tuples beside them (-1: no lead / no account), so a
    million events carry a few thousand distinct metadata mappings, not a million dicts.
    """

    seq: IntArray
    lead: IntArray
    account: IntArray
    event_type: IntArray
    occurred_us: IntArray
    props: IntArray
    lead_ids: Sequence[str]
    account_ids: Sequence[str]
    types: Sequence[str]
    properties: Sequence[Mapping[str, Any]]

    def __len__(self) -> int:
        return int(self.seq.shape[0])

    @staticmethod
    def from_events(events: Iterable[scoring.LoggedEvent]) -> EventColumns:
        """Columns of plain logged events (tests, small logs): sorted by seq, codes assigned in order of appearance."""
        ordered = sorted(events, key=lambda e: e.seq)
        leads: dict[str, int] = {}
        accounts: dict[str, int] = {}
        types: dict[str, int] = {}
        props: list[Mapping[str, Any]] = []
        for_props: dict[int, int] = {}
        lead_codes, account_codes, type_codes, prop_codes = [], [], [], []
        for ev in ordered:
            lead_codes.append(-1 if ev.lead_id is None else leads.setdefault(ev.lead_id, len(leads)))
            account_codes.append(-1 if ev.account_id is None else accounts.setdefault(ev.account_id, len(accounts)))
            type_codes.append(types.setdefault(ev.facts.event_type, len(types)))
            code = for_props.setdefault(id(ev.facts.properties), len(props))
            if code == len(props):
                props.append(ev.facts.properties)
            prop_codes.append(code)
        return EventColumns(
            seq=np.array([e.seq for e in ordered], dtype=np.int64),
            lead=np.array(lead_codes, dtype=np.int64),
            account=np.array(account_codes, dtype=np.int64),
            event_type=np.array(type_codes, dtype=np.int64),
            occurred_us=np.array([to_micros(e.facts.occurred_at) for e in ordered], dtype=np.int64),
            props=np.array(prop_codes, dtype=np.int64),
            lead_ids=list(leads),
            account_ids=list(accounts),
            types=list(types),
            properties=props,
        )
