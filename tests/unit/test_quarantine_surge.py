"""Quarantine (core.quarantine) and surge (core.surge) as replay applies them: the vectorised code equals a plain
Python reading of their definitions on generated logs, and the per-event engine fed those adjustments equals the
vectorised replay under a model with filters, scopes, the bot switch and a surge policy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import quarantine, replay, scoring, surge
from core.model import RulesetSpec, RuleSpec, ScoringModel, SettingsSpec
from core.quarantine import BOT_FILTER_ID, EventTypeScope, FilterSpec
from core.surge import SurgeBand, SurgeSpec

T0 = datetime(2026, 10, 1, tzinfo=UTC)
TYPES = ["email_click", "page_view", "form_submit", scoring.DECAY_EVENT_TYPE]
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
HUMAN = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
AGENTS: list[Any] = [None, BOT, HUMAN, "", 7]


@dataclass(frozen=True)
class Ev:
    seq: int
    lead: str | None
    account: str | None
    event_type: str
    at: datetime
    props: dict[str, Any]

    @property
    def us(self) -> int:
        return replay.to_micros(self.at)


@st.composite
def logs(draw: st.DrawFn) -> list[Ev]:
    n = draw(st.integers(0, 40))
    events = []
    for seq in draw(st.permutations(list(range(1, n + 1)))):
        # Milliseconds apart, a few seconds in all, so bursts and sessions both happen; some exact ties.
        # Gaps of exactly a filter's window or a session's timeout happen too (the edges are part of the rules).
        step = draw(st.sampled_from([1, 250, 500, 1000, 2000, 60_000]))
        at = T0 + timedelta(milliseconds=draw(st.integers(0, 12)) * step)
        agent = draw(st.sampled_from(AGENTS))
        events.append(Ev(
            seq, draw(st.sampled_from(["a", "a", "b", None])), draw(st.sampled_from(["x", "y", None])),
            draw(st.sampled_from([*TYPES, "email_click", "email_click"])), at,
            {} if agent is None else {"user_agent": agent},
        ))
    return events


filters = st.lists(
    st.builds(
        FilterSpec, st.sampled_from(["f1", "f2", "f3"]), st.sampled_from(TYPES[:3]), st.integers(2, 5),
        st.sampled_from([1, 500, 2000, 60_000]), st.booleans(),
    ),
    max_size=3, unique_by=lambda f: f.id,
)
surges = st.builds(
    SurgeSpec,
    st.sampled_from(["off", "standard", "gentle", "custom"]),
    st.lists(st.builds(SurgeBand, st.integers(1, 6), st.sampled_from([1.0, 1.1, 1.25, 1.5, 2.0, 3.0])),
             min_size=1, max_size=4, unique_by=lambda b: b.min_events).map(
        lambda bands: tuple(sorted(bands, key=lambda b: b.min_events))),
    st.sampled_from([1, 2, 30, 1800]),
    st.sampled_from([1.0, 1.2, 2.0, 3.0]),
)
scopes = st.lists(st.builds(EventTypeScope, st.sampled_from(TYPES[:3]), st.sampled_from(["observe", "decide"])),
                  max_size=2, unique_by=lambda s: s.id)


def brute_hold(
    events: list[Ev], specs: list[FilterSpec], observed: set[str], bot: bool
) -> tuple[dict[int, tuple[str, str]], set[int]]:
    """The quarantine and held events by the module's definitions, with loops."""
    code: dict[int, tuple[str, str]] = {}
    if bot:
        for e in events:
            if e.event_type != scoring.DECAY_EVENT_TYPE and quarantine.is_bot_agent(e.props.get("user_agent")):
                code[e.seq] = (BOT_FILTER_ID, quarantine.BOT_REASON)
    for spec in sorted(specs, key=lambda f: f.id):
        window = spec.time_window_ms * 1000
        for lead in sorted({e.lead for e in events if e.lead is not None}):
            mine = sorted((e for e in events if e.lead == lead and e.event_type == spec.event_type),
                          key=lambda e: (e.us, e.seq))
            member = [False] * len(mine)
            for j in range(len(mine)):
                for i in range(j + 1):
                    if mine[j].us - mine[i].us <= window and j - i + 1 >= spec.count_threshold:
                        for k in range(i, j + 1):
                            member[k] = True
            for k, e in enumerate(mine):
                grouped = k > 0 and member[k - 1] and mine[k].us - mine[k - 1].us <= window
                if member[k] and (grouped or not spec.group_events) and e.seq not in code:
                    code[e.seq] = (spec.id, quarantine.filter_reason(spec))
    held = set(code) | {e.seq for e in events if e.event_type in observed}
    return code, held


def brute_surge(events: list[Ev], held: set[int], spec: SurgeSpec, timeout_minutes: int) -> dict[int, int]:
    milli = {e.seq: scoring.NO_SURGE for e in events}
    if not spec.active:
        return milli
    timeout = spec.timeout_us(timeout_minutes)
    for lead in {e.lead for e in events if e.lead is not None}:
        mine = sorted((e for e in events if e.lead == lead and e.seq not in held
                       and e.event_type != scoring.DECAY_EVENT_TYPE), key=lambda e: (e.us, e.seq))
        position = 0
        for k, e in enumerate(mine):
            position = position + 1 if k and e.us - mine[k - 1].us < timeout else 1
            milli[e.seq] = spec.milli_at(position)
    return milli


def model_of(specs: list[FilterSpec], scope_list: list[EventTypeScope], bot: bool, policy: SurgeSpec,
             timeout: int) -> ScoringModel:
    return ScoringModel.build(
        rulesets=[RulesetSpec("rs1", "Main", is_primary=True), RulesetSpec("rs2", "Other")],
        rules=[RuleSpec("r1", "rs1", "email_click", 10), RuleSpec("r2", "rs1", "page_view", 3),
               RuleSpec("r3", "rs2", "page_view", -4), RuleSpec("r4", "rs2", "form_submit", 7)],
        settings=SettingsSpec(session_timeout_minutes=timeout, bot_filter_enabled=bot),
        filters=specs, event_type_scopes=scope_list, surge=policy,
    )


def logged(events: list[Ev]) -> list[scoring.LoggedEvent]:
    return [scoring.LoggedEvent(e.seq, e.lead, e.account, scoring.EventFacts(e.event_type, e.at, e.props))
            for e in events]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs(), filters, scopes, st.booleans(), surges, st.sampled_from([1, 30]))
def test_adjustments_equal_their_definitions(
    events: list[Ev], specs: list[FilterSpec], scope_list: list[EventTypeScope], bot: bool, policy: SurgeSpec,
    timeout: int,
) -> None:
    model = model_of(specs, scope_list, bot, policy, timeout)
    cols = replay.EventColumns.from_events(logged(events))
    adjusted = replay.Adjustments.of(model, cols)
    observed = {s.id for s in scope_list if s.scope == "observe"}
    code, held = brute_hold(events, specs, observed, bot)
    milli = brute_surge(events, held, policy, timeout)
    seqs = cols.seq.tolist()
    assert {q: adjusted.held.quarantine_of(i) for i, q in enumerate(seqs)} == {e.seq: code.get(e.seq) for e in events}
    assert {q for i, q in enumerate(seqs) if adjusted.held.held[i]} == held
    assert dict(zip(seqs, adjusted.surge_milli.tolist(), strict=True)) == milli


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs(), filters, scopes, st.booleans(), surges, st.booleans())
def test_both_engines_agree_on_held_and_boosted_events(
    events: list[Ev], specs: list[FilterSpec], scope_list: list[EventTypeScope], bot: bool, policy: SurgeSpec,
    negative: bool,
) -> None:
    model = model_of(specs, scope_list, bot, policy, 30)
    model = ScoringModel.build(**{**_parts(model), "settings": SettingsSpec(negative, False, 30, bot)})
    observed = {s.id for s in scope_list if s.scope == "observe"}
    _code, held = brute_hold(events, specs, observed, bot)
    milli = brute_surge(events, held, policy, 30)
    per_event = scoring.replay(model.book, model.policy, [
        scoring.LoggedEvent(e.seq, e.lead, e.account, scoring.EventFacts(e.event_type, e.at, e.props),
                            held=e.seq in held, surge_milli=milli[e.seq])
        for e in events
    ])
    vectorised = replay.replay(model, replay.EventColumns.from_events(logged(events)))
    assert vectorised.to_replay() == per_event
    for seq in held:  # a held event scores nothing and explains no rule
        assert all(o.delta == 0 and not o.matched for o in per_event.outcomes[seq].values())


def _parts(model: ScoringModel) -> dict[str, Any]:
    return {name: getattr(model, name) for name in (
        "rulesets", "rules", "levels", "decay_rules", "settings", "mappings", "fit_rulesets", "fit_rules",
        "fit_levels", "filters", "event_type_scopes", "surge")}


def test_a_scanner_burst_is_quarantined_and_a_grouped_burst_scores_once() -> None:
    clicks = [Ev(i + 1, "a", None, "email_click", T0 + timedelta(milliseconds=300 * i), {}) for i in range(5)]
    later = Ev(6, "a", None, "email_click", T0 + timedelta(minutes=5), {})
    for group, scored in ((False, {6}), (True, {1, 6})):
        model = model_of([FilterSpec("f", "email_click", 5, 2000, group)], [], False, SurgeSpec(), 30)
        result = replay.replay(model, replay.EventColumns.from_events(logged([*clicks, later])))
        deltas = {int(q): int(d) for q, d in zip(result.columns.seq, result.ruleset("rs1").delta, strict=True)}  # type: ignore[union-attr]
        assert {q for q, d in deltas.items() if d} == scored
        assert result.lead_scores()["a"]["rs1"] == 10 * len(scored)
    # The window's edge belongs to it: two clicks exactly the window apart are a burst of two, counted once.
    pair = [Ev(1, "a", None, "email_click", T0, {}), Ev(2, "a", None, "email_click", T0 + timedelta(seconds=2), {})]
    model = model_of([FilterSpec("f", "email_click", 2, 2000, True)], [], False, SurgeSpec(), 30)
    assert replay.replay(model, replay.EventColumns.from_events(logged(pair))).lead_scores()["a"]["rs1"] == 10
    # Four clicks are not a burst of five.
    model = model_of([FilterSpec("f", "email_click", 5, 2000)], [], False, SurgeSpec(), 30)
    result = replay.replay(model, replay.EventColumns.from_events(logged([*clicks[:4], later])))
    assert result.lead_scores()["a"]["rs1"] == 50


def test_surge_boosts_from_the_band_on_and_restarts_after_the_timeout() -> None:
    policy = SurgeSpec("standard", surge.STANDARD_BANDS, idle_reset_seconds=600, multiplier_cap=2.0)
    visits = [Ev(i + 1, "a", None, "email_click", T0 + timedelta(minutes=i), {}) for i in range(6)]
    after_break = Ev(7, "a", None, "email_click", T0 + timedelta(minutes=5 + 10), {})  # 10 min gap = idle reset
    model = model_of([], [], False, policy, 30)
    result = replay.replay(model, replay.EventColumns.from_events(logged([*visits, after_break])))
    rs1 = result.ruleset("rs1")
    assert rs1 is not None
    # 1.0, 1.0, 1.25 from the 3rd, 1.5 from the 5th: 10, 10, 12, 12, 15, 15; then a new session: 10.
    assert rs1.delta.tolist() == [10, 10, 12, 12, 15, 15, 10]
    outcome = result.outcomes(2, 3)[3]["rs1"]
    assert outcome.as_explanation()["surge_multiplier"] == 1.25 and outcome.as_explanation()["surge_boost"] == 2
    capped = model_of([], [], False, SurgeSpec("standard", surge.STANDARD_BANDS, 600, 1.2), 30)
    assert replay.replay(capped, replay.EventColumns.from_events(logged(visits))).ruleset("rs1").delta.tolist() == [  # type: ignore[union-attr]
        10, 10, 12, 12, 12, 12]
