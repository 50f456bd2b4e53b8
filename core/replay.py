"""Vectorised replay: what `core.scoring.replay` computes, over columns of the event log instead of a Python loop.

Pure: columns, rules and policy come in as values. The result equals `scoring.replay` on the same log (proved by
tests/unit/test_replay_engine.py on generated logs): per event and ruleset the delta, the matched rules and the lead
and account scores before and after it, and the final lead and account scores.

How it stays exact without a loop per event:

- **Matching** is decided once per distinct *combination* and broadcast. Two events of one type behave alike when
  the properties that the type's rule conditions read (``decrease`` for DECAY events) have the same values (the
  key uses ``repr``, which keeps 1, 1.0, True and "1" apart, as the conditions do) and their ``occurred_at`` falls
  in the same interval between the type's rule window boundaries (``start_at``/``end_at``; windows are half-open,
  so an event at a boundary belongs to the interval that starts there). For each combination, one representative
  event goes through ``RuleBook.deltas`` itself, so the delta, matched rules and their order are the per-event
  engine's by construction.
- **Folding** a delta into a running score is a cumulative sum per lead (and per account). With the floor at 0
  (negative scores not allowed) the running value is ``a_i = max(0, a_{i-1} + d_i)``, ``a_0 = 0``. With prefix sums
  ``S_i = d_1 + ... + d_i`` (``S_0 = 0``) and ``M_i = min(S_0, ..., S_i)``, it equals ``S_i - M_i``. By induction:
  ``a_0 = 0 = S_0 - M_0``; given ``a_{i-1} = S_{i-1} - M_{i-1}``, ``a_{i-1} + d_i = S_i - M_{i-1}``; if
  ``S_i >= M_{i-1}`` then ``M_i = M_{i-1}`` and ``max(0, S_i - M_{i-1}) = S_i - M_i``; otherwise ``M_i = S_i`` and
  ``max(0, S_i - M_{i-1}) = 0 = S_i - M_i``. The running minimum per owner is one ``np.minimum.accumulate`` over
  all owners' events sorted by (owner, seq), each owner's values shifted below every earlier owner's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from core import quarantine, scoring, surge
from core.columns import BoolArray, EventColumns, IntArray, from_micros, to_micros
from core.model import ScoringModel

# Above this magnitude int64 sums could overflow: the fold then runs on Python integers (object arrays), as exact
# as the per-event engine, only slower.
_INT64_SAFE = 2**62


@dataclass(frozen=True, slots=True)
class Adjustments:
    """What happens to each event before its deltas fold (aligned with the columns): held back from scoring
    (quarantined by a filter, core.quarantine, or of an observed-only type) and the surge multiplier (core.surge)."""

    held: quarantine.Held
    surge_milli: IntArray

    @staticmethod
    def of(model: ScoringModel, cols: EventColumns) -> Adjustments:
        """The adjustments the model's filters, event-type scopes, bot switch and surge policy make to the log."""
        held = quarantine.hold(
            cols, filters=model.filters, scopes=model.event_type_scopes, bot_filter=model.settings.bot_filter_enabled
        )
        decay = cols.types.index(scoring.DECAY_EVENT_TYPE) if scoring.DECAY_EVENT_TYPE in cols.types else -1
        milli = surge.session_multipliers(
            cols.lead, cols.occurred_us, cols.seq, ~held.held & (cols.event_type != decay), model.surge,
            model.surge.timeout_us(model.settings.session_timeout_minutes),
        )
        return Adjustments(held, milli)

    @staticmethod
    def stored(
        quarantines: Sequence[tuple[str, str] | None], surge_millis: Sequence[int | None], held_types: BoolArray
    ) -> Adjustments:
        """Adjustments as the events table holds them (per event: (filter id, reason) or None, surge milli or None);
        `held_types` marks events held by their type's scope."""
        reasons: dict[tuple[str, str], int] = {}
        code = np.array([-1 if q is None else reasons.setdefault(q, len(reasons)) for q in quarantines],
                        dtype=np.int64)
        milli = np.array([scoring.NO_SURGE if m is None else m for m in surge_millis], dtype=np.int64)
        held = quarantine.Held(code, tuple(reasons), held_types | (code >= 0))
        return Adjustments(held, milli)


@dataclass(frozen=True, slots=True)
class RulesetColumns:
    """One ruleset's replay: per event (aligned with the columns) and per owner code."""

    ruleset_id: str
    delta: npt.NDArray[Any]
    lead_before: npt.NDArray[Any]  # meaningless where the event has no lead (lead code -1)
    lead_after: npt.NDArray[Any]
    account_before: npt.NDArray[Any]
    account_after: npt.NDArray[Any]
    lead_scores: npt.NDArray[Any]  # final score per lead code
    account_scores: npt.NDArray[Any]
    matched: Sequence[tuple[scoring.Rule, ...]]  # per combination (see VectorReplay.combo; .matched() skips held)
    surge_boost: npt.NDArray[Any] | None = None  # per event: what surge added to `delta` (None: nothing anywhere)


@dataclass(frozen=True, slots=True)
class VectorReplay:
    columns: EventColumns
    combo: IntArray  # per event: its combination of (type, relevant properties, window interval)
    rulesets: tuple[RulesetColumns, ...]
    adjustments: Adjustments | None = None

    def matched(self, rs: RulesetColumns, i: int) -> tuple[scoring.Rule, ...]:
        """The rules event `i` matched in ruleset `rs` (none when it is held back)."""
        if self.adjustments is not None and self.adjustments.held.held[i]:
            return ()
        return rs.matched[self.combo[i]]

    def ruleset(self, ruleset_id: str) -> RulesetColumns | None:
        return next((r for r in self.rulesets if r.ruleset_id == ruleset_id), None)

    def lead_scores(self) -> dict[str, dict[str, int]]:
        return _owner_scores(self.columns.lead_ids, [(r.ruleset_id, r.lead_scores) for r in self.rulesets])

    def account_scores(self) -> dict[str, dict[str, int]]:
        return _owner_scores(self.columns.account_ids, [(r.ruleset_id, r.account_scores) for r in self.rulesets])

    def outcomes(self, start: int = 0, stop: int | None = None) -> dict[int, dict[str, scoring.RulesetOutcome]]:
        """Per-event outcomes as the per-event engine's objects (slow; for tests and small slices)."""
        cols = self.columns
        stop = len(cols) if stop is None else stop
        out: dict[int, dict[str, scoring.RulesetOutcome]] = {}
        milli = self.adjustments.surge_milli if self.adjustments is not None else None
        for i in range(start, stop):
            has_lead, has_account = cols.lead[i] >= 0, cols.account[i] >= 0
            out[int(cols.seq[i])] = {}
            for r in self.rulesets:
                boost = int(r.surge_boost[i]) if r.surge_boost is not None else 0
                out[int(cols.seq[i])][r.ruleset_id] = scoring.RulesetOutcome(
                    int(r.delta[i]),
                    self.matched(r, i),
                    int(r.lead_before[i]) if has_lead else None,
                    int(r.lead_after[i]) if has_lead else None,
                    int(r.account_before[i]) if has_account else None,
                    int(r.account_after[i]) if has_account else None,
                    int(milli[i]) if boost and milli is not None else scoring.NO_SURGE,
                    boost,
                )
        return out

    def to_replay(self) -> scoring.Replay:
        return scoring.Replay(self.outcomes(), self.lead_scores(), self.account_scores())


def replay_columns(
    book: scoring.RuleBook,
    policy: scoring.ScoringPolicy,
    cols: EventColumns,
    adjustments: Adjustments | None = None,
) -> VectorReplay:
    """Replay the log given as columns: equal to `scoring.replay` over the same events (with each event's `held`
    and `surge_milli` taken from `adjustments`)."""
    combo, representatives = _combinations(book, cols)
    per_combo: list[dict[str, scoring.RulesetDelta]] = []
    for rep in representatives.tolist():
        facts = scoring.EventFacts(
            cols.types[cols.event_type[rep]], from_micros(cols.occurred_us[rep]), cols.properties[cols.props[rep]]
        )
        per_combo.append(book.deltas(facts))
    n_leads, n_accounts = len(cols.lead_ids), len(cols.account_ids)
    rulesets: list[RulesetColumns] = []
    for rs in book.ruleset_ids:
        combo_delta = _int_array([d[rs].delta for d in per_combo])
        delta = combo_delta[combo]
        boost = None
        if adjustments is not None:
            delta = np.where(adjustments.held.held, 0, delta).astype(delta.dtype)
            boost = surge.surge_boosts(delta, adjustments.surge_milli)
            if boost.any():
                delta = delta + boost
            else:
                boost = None
        lead_before, lead_after, lead_scores = _fold(cols.lead, delta, n_leads, policy.allow_negative_scores)
        acc_before, acc_after, acc_scores = _fold(cols.account, delta, n_accounts, policy.allow_negative_scores)
        rulesets.append(
            RulesetColumns(
                rs, delta, lead_before, lead_after, acc_before, acc_after, lead_scores, acc_scores,
                [d[rs].matched for d in per_combo], boost,
            )
        )
    return VectorReplay(cols, combo, tuple(rulesets), adjustments)


def replay(model: ScoringModel, cols: EventColumns, adjustments: Adjustments | None = None) -> VectorReplay:
    """Replay the log given as columns under a unit's scoring model; its filters, scopes and surge policy adjust
    the events (computed from the log unless `adjustments` are given, e.g. as stored)."""
    if adjustments is None and model.adjusts_events:
        adjustments = Adjustments.of(model, cols)
    return replay_columns(model.book, model.policy, cols, adjustments)


def replay_events(
    book: scoring.RuleBook, policy: scoring.ScoringPolicy, events: Iterable[scoring.LoggedEvent]
) -> VectorReplay:
    """The vectorised replay of plain logged events, each held back or boosted as its own fields say."""
    ordered = sorted(events, key=lambda e: e.seq)
    adjustments = None
    if any(e.held or e.surge_milli != scoring.NO_SURGE for e in ordered):
        held = np.array([e.held for e in ordered], dtype=bool)
        adjustments = Adjustments(
            quarantine.Held(np.full(len(ordered), -1, dtype=np.int64), (), held),
            np.array([e.surge_milli for e in ordered], dtype=np.int64),
        )
    return replay_columns(book, policy, EventColumns.from_events(ordered), adjustments)


# --- matching: once per distinct combination ---------------------------------------------------------------------


def _combinations(book: scoring.RuleBook, cols: EventColumns) -> tuple[IntArray, IntArray]:
    """Each event's combination code, and one representative event index per combination."""
    n = len(cols)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    relevant: list[tuple[str, ...]] = []
    boundaries: list[IntArray] = []
    for name in cols.types:
        if name == scoring.DECAY_EVENT_TYPE:
            relevant.append(("decrease",))
            boundaries.append(np.zeros(0, dtype=np.int64))
            continue
        rules = book.rules_for(name)
        relevant.append(tuple(sorted({c.property for r in rules for c in r.conditions})))
        bounds = {to_micros(t) for r in rules for t in (r.start_at, r.end_at) if t is not None}
        boundaries.append(np.array(sorted(bounds), dtype=np.int64))
    # Patterns: (type, the values its conditions read), found per distinct (type, properties) pair.
    n_props = max(1, len(cols.properties))
    pairs, pair_first, pair_of_event = np.unique(
        cols.event_type * n_props + cols.props, return_index=True, return_inverse=True
    )
    patterns: dict[tuple[Any, ...], int] = {}
    pattern_of_pair = np.empty(len(pairs), dtype=np.int64)
    for k, first in enumerate(pair_first.tolist()):
        t = int(cols.event_type[first])
        md = cols.properties[cols.props[first]]
        key = (t, *((p in md, repr(md.get(p))) for p in relevant[t]))
        pattern_of_pair[k] = patterns.setdefault(key, len(patterns))
    pattern = pattern_of_pair[pair_of_event.reshape(-1)]
    # Window intervals: the number of the type's boundaries at or before occurred_at.
    interval = np.zeros(n, dtype=np.int64)
    for t, type_bounds in enumerate(boundaries):
        if len(type_bounds):
            mask = cols.event_type == t
            interval[mask] = np.searchsorted(type_bounds, cols.occurred_us[mask], side="right")
    width = int(interval.max()) + 1
    _keys, representatives, combo = np.unique(pattern * width + interval, return_index=True, return_inverse=True)
    return combo.reshape(-1).astype(np.int64), representatives.astype(np.int64)


# --- folding: clamped running sums per owner ---------------------------------------------------------------------


def _int_array(values: list[int]) -> npt.NDArray[Any]:
    if all(-_INT64_SAFE < v < _INT64_SAFE for v in values):
        return np.array(values, dtype=np.int64)
    return np.array(values, dtype=object)


def _fold(
    owner: IntArray, delta: npt.NDArray[Any], n_owners: int, allow_negative: bool
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]:
    """Scores before and after each event of its owner, and each owner's final score.

    Events without an owner (code -1) get 0 before and after; their values are not meaningful.
    """
    n = owner.shape[0]
    positions = np.flatnonzero(owner >= 0)
    grouped = positions[np.argsort(owner[positions], kind="stable")]  # by owner, then seq (the columns' order)
    g = owner[grouped]
    d = delta[grouped]
    m = g.shape[0]
    if delta.dtype != object and m and float(np.abs(d.astype(np.float64)).sum()) * (n_owners + 2) * 2 >= _INT64_SAFE:
        d = d.astype(object)  # sums or the shifted running minimum could overflow int64: exact Python integers
    dtype = d.dtype
    before = np.zeros(n, dtype=dtype)
    after = np.zeros(n, dtype=dtype)
    final = np.zeros(n_owners, dtype=dtype)
    if m == 0:
        return before, after, final
    starts = np.ones(m, dtype=bool)
    starts[1:] = g[1:] != g[:-1]
    start_idx = np.flatnonzero(starts)
    lengths = np.diff(np.append(start_idx, m))
    total = np.cumsum(d)
    prefix = total - np.repeat(total[start_idx] - d[start_idx], lengths)  # S_i within the owner's events
    if allow_negative:
        a = prefix
    else:
        group = (np.cumsum(starts) - 1).astype(dtype)
        span = (prefix.max() - prefix.min()) + 1
        # Each owner's values shifted below all earlier owners', so one running minimum never crosses owners.
        running_min = np.minimum.accumulate(prefix - group * span) + group * span
        a = prefix - np.minimum(running_min, 0)
    b = np.empty_like(a)
    b[1:] = a[:-1]
    b[start_idx] = 0
    before[grouped] = b
    after[grouped] = a
    ends = np.append(start_idx[1:], m) - 1
    final[g[ends]] = a[ends]
    return before, after, final


def _owner_scores(ids: Sequence[str], per_ruleset: list[tuple[str, npt.NDArray[Any]]]) -> dict[str, dict[str, int]]:
    lists = [(rs, scores.tolist()) for rs, scores in per_ruleset]
    return {owner: {rs: int(values[i]) for rs, values in lists} for i, owner in enumerate(ids)}
