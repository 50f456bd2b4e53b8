"""The Slack message a trigger sends (core.slack_blocks), on plain data."""

from __future__ import annotations

import json

from core.slack_blocks import escape, hello_message, lead_url, slack_message

PAYLOAD = {
    "lead_id": "lead_1", "lead": {"id": "lead_1", "email": "ann@acme.io", "name": "Ann <Lee>"},
    "account": {"id": "acct_1", "name": "Acme & Co", "domain": "acme.io"},
    "score_before": 40, "score_after": 65, "level": "Hot",
    "trigger": {"id": "trg_1", "name": "Hot lead", "kind": "milestone"},
}


def _message(**changes: object) -> dict[str, object]:
    return slack_message({**PAYLOAD, **changes}, trigger_name="Hot lead", trigger_kind="milestone",
                         dashboard_url="https://leadvane.example.com/", message_template="Call {lead.name}")


def test_blocks_carry_the_trigger_lead_account_score_level_and_a_button_to_the_lead() -> None:
    message = _message()
    blocks = message["blocks"]
    assert isinstance(blocks, list)
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "Hot lead", "emoji": True}}
    facts = blocks[1]["text"]["text"]
    assert "*Lead:* Ann &lt;Lee&gt; &lt;ann@acme.io&gt;" in facts
    assert "*Account:* Acme &amp; Co (acme.io)" in facts and "*Score:* 40 → 65 (Hot)" in facts
    assert blocks[2]["text"]["text"] == "Call Ann &lt;Lee&gt;"
    button = blocks[3]["elements"][0]
    assert button["url"] == "https://leadvane.example.com/lead?lead=lead_1" and button["type"] == "button"
    text = str(message["text"])
    assert text.startswith("*Hot lead* fired for Ann &lt;Lee&gt; &lt;ann@acme.io&gt;")
    assert "<https://leadvane.example.com/lead?lead=lead_1|Open lead>" in text
    json.dumps(message)  # plain JSON


def test_a_test_sample_has_no_link_and_says_test() -> None:
    message = _message(test=True)
    assert message["blocks"][0]["text"]["text"] == "Hot lead (test)"  # type: ignore[index]
    assert all(b["type"] != "actions" for b in message["blocks"])  # type: ignore[union-attr]


def test_names_cannot_forge_mentions_and_long_names_are_cut() -> None:
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    long = slack_message(PAYLOAD, trigger_name="x" * 400, trigger_kind="milestone", dashboard_url="http://d")
    assert len(long["blocks"][0]["text"]["text"]) == 150
    assert lead_url("http://d/", "a b") == "http://d/lead?lead=a%20b"


def test_hello_message_defaults() -> None:
    assert hello_message(None)["text"].startswith("Leadvane is connected")
    assert hello_message(" hi ")["text"] == "hi"
