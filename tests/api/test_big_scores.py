"""Scores are 64-bit on every backend: a weight beyond 32 bits is stored and summed exactly."""

from __future__ import annotations

from tests.conftest import ApiHarness, add_rule

BIG = 3_000_000_000  # beyond PostgreSQL's 32-bit INTEGER


def test_a_score_beyond_32_bits_is_stored_and_read_back(api: ApiHarness) -> None:
    add_rule(api, "contract_signed", BIG)
    for _ in range(2):
        response = api.post(
            "/v1/events",
            json={"aliases": [{"alias_kind": "email", "raw_value": "cfo@bigco.com"}], "event_type": "contract_signed"},
        )
        assert response.status_code == 201, response.text
    lead_id = response.json()["lead_id"]
    score = api.get(f"/v1/leads/{lead_id}/score")
    assert score.status_code == 200, score.text
    assert score.json()["score"] == 2 * BIG
