"""Notification text on plain data: placeholders, RFC 3339 timestamps, the summary every message carries."""

from datetime import UTC, datetime, timedelta, timezone

from core.messages import one_line, render, rfc3339, summary_lines, who

PAYLOAD = {
    "trigger": {"id": "trg_1", "name": "Hot lead", "kind": "milestone"}, "trigger_name": "Hot lead",
    "lead": {"id": "ld_1", "email": "ann@acme.io", "name": "Ann Lee"},
    "account": {"id": "ac_1", "domain": "acme.io", "name": "Acme"},
    "score_before": 40, "score_after": 95, "level": "Hot",
}


def test_every_placeholder_is_rendered() -> None:
    text = render("{trigger.name}: {lead.name} <{lead.email}> at {account.name} is {level} ({score})", PAYLOAD)
    assert text == "Hot lead: Ann Lee <ann@acme.io> at Acme is Hot (95)"


def test_unknown_placeholders_and_stray_braces_stay_as_typed() -> None:
    template = "Hi {lead.first_name} {0} {} {{score}} {score"
    assert render(template, PAYLOAD) == "Hi {lead.first_name} {0} {} {95} {score"
    assert render("", PAYLOAD) == ""


def test_missing_values_render_empty_not_none() -> None:
    text = render("[{lead.name}] [{account.name}] [{level}] [{score}]", {"lead": {"id": "ld_2"}, "account": None})
    assert text == "[] [] [] []"


def test_rfc3339_uses_z() -> None:
    assert rfc3339(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
    assert rfc3339(datetime(2026, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))) == "2026-01-02T03:04:05Z"
    assert rfc3339(datetime(2026, 1, 2, 3, 4, 5, 120000)) == "2026-01-02T03:04:05.120000Z"


def test_summary_names_lead_account_score_level_and_trigger() -> None:
    assert summary_lines(PAYLOAD) == [
        "Lead: Ann Lee <ann@acme.io>", "Account: Acme (acme.io)", "Score: 40 → 95 (Hot)", "Trigger: Hot lead",
    ]
    assert who({"lead": {"id": "ld_9", "email": None, "name": None}}) == "ld_9"
    assert who({"lead": None, "account": {"name": "Acme"}}) == "Acme"


def test_a_header_line_never_carries_a_line_break() -> None:
    payload = {"lead": {"name": "Ann\r\nBcc: everyone@example.com"}}
    assert one_line(render("{lead.name} is hot", payload)) == "Ann Bcc: everyone@example.com is hot"
