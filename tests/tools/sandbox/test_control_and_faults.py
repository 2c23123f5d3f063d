"""The /_sandbox/ control API and injected faults."""

import anyio
import pytest

from tests.conftest import ADS_HEADERS, DE

QUERY = {"query": "SELECT campaign.id FROM campaign"}
SEARCH = f"/v23/customers/{DE}/googleAds:search"


async def test_state_is_the_world_dump_and_takes_a_path(client, sandbox):
    state = (await client.get("/_sandbox/state")).json()
    assert state == sandbox.world.dump()
    budget = (
        await client.get("/_sandbox/state", params={"path": f"google_ads.customers.{DE}.campaign_budgets.9001"})
    ).json()
    assert budget["amount_micros"] == "50000000"
    missing = await client.get("/_sandbox/state", params={"path": "google_ads.nope"})
    assert missing.status_code == 400 and "nope" in missing.json()["error"]


async def test_reset_restores_the_seeded_world(client, sandbox):
    await client.post("/_sandbox/patch", json={f"google_ads.customers.{DE}.campaigns.111.status": "PAUSED"})
    assert sandbox.world.customer(DE).campaigns["111"].status == "PAUSED"
    await client.post("/_sandbox/reset", json={"seed": 7})
    assert sandbox.world.customer(DE).campaigns["111"].status == "ENABLED"


async def test_patch_is_validated(client):
    response = await client.post("/_sandbox/patch", json={f"google_ads.customers.{DE}.campaigns.111.status": "ASLEEP"})
    assert response.status_code == 400 and "status" in response.json()["error"]


async def test_advance_day_adds_metrics_for_the_new_day(client, sandbox):
    response = await client.post("/_sandbox/advance-day", json={"days": 2})
    assert response.json() == {"simulated": ["2026-11-01", "2026-11-02"], "today": "2026-11-03"}
    assert "2026-11-02" in sandbox.world.customer(DE).stats
    bad = await client.post("/_sandbox/advance-day", json={"days": 0})
    assert bad.status_code == 400


async def test_faults_are_validated_per_platform(client):
    unknown = await client.post("/_sandbox/faults", json={"facebook": {}})
    assert unknown.status_code == 400
    bad = await client.post("/_sandbox/faults", json={"google_ads": {"error_rate": 2}})
    assert bad.status_code == 400


async def test_rate_limit_every_nth_request_with_retry_delay(client):
    await client.post("/_sandbox/faults", json={"google_ads": {"rate_limit_every": 2, "retry_delay_ms": 3000}})
    statuses = [(await client.post(SEARCH, json=QUERY, headers=ADS_HEADERS)).status_code for _ in range(4)]
    assert statuses == [200, 429, 200, 429]
    await client.post(SEARCH, json=QUERY, headers=ADS_HEADERS)  # 5th passes
    limited = await client.post(SEARCH, json=QUERY, headers=ADS_HEADERS)  # 6th is limited
    error = limited.json()["error"]["details"][0]["errors"][0]
    assert error["errorCode"] == {"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"}
    assert error["details"]["quotaErrorDetails"]["retryDelay"] == "3s"
    assert limited.headers["Retry-After"] == "3"


async def test_error_rate_one_means_every_request_fails_transiently(client):
    await client.post("/_sandbox/faults", json={"wordpress": {"error_rate": 1.0}})
    response = await client.get("/wp-json/wp/v2/posts")
    assert response.status_code == 500 and response.json()["code"] == "internal_server_error"
    assert (await client.post(SEARCH, json=QUERY, headers=ADS_HEADERS)).status_code == 200


async def test_fault_sequences_repeat_for_the_same_seed(sandbox):
    async def run():
        sandbox.set_faults({"google_ads": {"error_rate": 0.5, "seed": 3}})
        async with sandbox.client() as http:
            return [(await http.post(SEARCH, json=QUERY, headers=ADS_HEADERS)).status_code for _ in range(12)]

    first = await run()
    assert first == await run() and {200, 503} == set(first)


@pytest.mark.parametrize(("kind", "applied"), [("after", True), ("before", False)])
async def test_timeouts_hang_before_or_after_handling(sandbox, kind, applied):
    sandbox.set_faults({"google_ads": {"timeout_rate": 1.0, "timeout_ms": 60_000, "timeout_kind": kind}})
    operation = {
        "update": {
            "resourceName": f"customers/{DE}/campaignBudgets/9001",
            "amountMicros": "60000000",
        },
        "updateMask": "amountMicros",
    }
    async with sandbox.client() as http:
        with pytest.raises(TimeoutError), anyio.fail_after(0.05):
            await http.post(
                f"/v23/customers/{DE}/campaignBudgets:mutate",
                json={"operations": [operation]},
                headers=ADS_HEADERS,
            )
    amount = sandbox.world.customer(DE).campaign_budgets["9001"].amount_micros
    assert (amount == "60000000") is applied


async def test_mixed_timeouts_produce_both_kinds(sandbox):
    sandbox.set_faults({"google_ads": {"timeout_rate": 1.0, "seed": 5}})
    kinds = {(await sandbox.faults["google_ads"].decide(write=False)).value for _ in range(20)}
    assert kinds == {"hang_before", "hang_after"}


async def test_faults_can_strike_only_writes(client, sandbox):
    await client.post("/_sandbox/faults", json={"google_ads": {"error_rate": 1.0, "on": "writes"}})
    assert (await client.post(SEARCH, json=QUERY, headers=ADS_HEADERS)).status_code == 200
    operation = {
        "update": {"resourceName": f"customers/{DE}/campaignBudgets/9001", "amountMicros": "55000000"},
        "updateMask": "amountMicros",
    }
    response = await client.post(
        f"/v23/customers/{DE}/campaignBudgets:mutate", json={"operations": [operation]}, headers=ADS_HEADERS
    )
    assert response.status_code == 503 and sandbox.faults["google_ads"].requests == 1
