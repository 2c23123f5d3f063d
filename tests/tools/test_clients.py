"""Platform clients: wire shapes, safe retries, retry delays and rate limits."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpilot.errors import PlatformError
from adpilot.tools.google_ads import GoogleAdsClient
from adpilot.tools.http import RetryPolicy
from adpilot.tools.ratelimit import TokenBucket
from adpilot.tools.sandbox.world import Post
from adpilot.tools.wordpress import WordPressClient, WordPressCredentialsError
from tests.conftest import DE


async def test_reads_are_retried_through_transient_errors(platforms, sandbox):
    sandbox.set_faults({"google_ads": {"error_rate": 0.6, "seed": 1}})  # seed 1: the first draw fails
    campaigns = await platforms.google_ads.campaigns(DE)
    assert [c.id for c in campaigns] == ["111", "112", "113"]
    assert sandbox.faults["google_ads"].requests > 1


async def test_a_429_waits_at_least_the_announced_delay(platforms, sandbox, monkeypatch):
    waits = []
    policy = RetryPolicy(attempts=3, base_delay_s=0.0001, max_delay_s=0.5, jitter=0)
    original = policy.backoff
    monkeypatch.setattr(
        RetryPolicy,
        "backoff",
        lambda self, attempt, retry_after: waits.append(retry_after) or original(attempt, retry_after),
    )
    platforms.google_ads.retry = policy
    sandbox.set_faults({"google_ads": {"rate_limit_every": 2, "retry_delay_ms": 20}})
    await platforms.google_ads.budget(DE, "9001")  # request 1 passes
    await platforms.google_ads.budget(DE, "9001")  # request 2 is limited, request 3 passes
    assert waits == [0.02]


@given(st.integers(min_value=1, max_value=20), st.one_of(st.none(), st.floats(min_value=0, max_value=120)))
def test_backoff_honours_retry_after_and_the_cap(attempt, retry_after):
    policy = RetryPolicy(base_delay_s=0.2, max_delay_s=20)
    delay = policy.backoff(attempt, retry_after)
    assert delay >= 0
    if retry_after is not None:
        assert delay >= retry_after
    assert delay <= max(20, retry_after or 0)


async def test_errors_carry_code_status_and_retryability(platforms):
    with pytest.raises(PlatformError) as info:
        await platforms.google_ads.search(DE, "SELECT campaign.nope FROM campaign")
    error = info.value
    assert error.status == 400 and error.code == "queryError.UNRECOGNIZED_FIELD" and not error.retryable


async def test_wrong_google_credentials_are_not_retried(sandbox):
    async with sandbox.client() as http:
        client = GoogleAdsClient(http, developer_token="x", access_token="y", retry=RetryPolicy(attempts=5))
        with pytest.raises(PlatformError) as info:
            await client.campaigns(DE)
    assert info.value.status == 401 and info.value.code == "authenticationError.OAUTH_TOKEN_INVALID"
    assert sandbox.faults["google_ads"].requests == 1


async def test_int64_micros_arrive_as_ints(platforms):
    budget = await platforms.google_ads.budget(DE, "9001")
    assert budget.amount_micros == 50_000_000 and isinstance(budget.amount_micros, int)
    keyword = await platforms.google_ads.keyword(DE, "2101", "41001")
    assert keyword.cpc_bid_micros == 1_200_000


async def test_performance_levels(platforms):
    for level, key in (
        ("campaign", "campaign_id"),
        ("ad_group", "ad_group_id"),
        ("ad", "ad_id"),
        ("keyword", "criterion_id"),
    ):
        rows = await platforms.google_ads.performance(DE, level, 7)
        assert rows and all(isinstance(r["cost_micros"], int) and key in r for r in rows)
    with pytest.raises(ValueError, match="days must be one of"):
        await platforms.google_ads.performance(DE, "campaign", 5)


async def test_wordpress_verifies_credentials_instead_of_trusting_a_200(sandbox):
    async with sandbox.client() as http:
        wrong = WordPressClient(http, username="adpilot", app_password="wrong", credential="$WP_SECRET")
        with pytest.raises(WordPressCredentialsError) as info:
            await wrong.verify_credentials()
        with pytest.raises(WordPressCredentialsError):  # a public read is no proof either
            await wrong.list_posts(status="publish")
    assert info.value.exit_code == 2
    message = str(info.value)
    assert "rest_not_logged_in" in message and "$WP_SECRET" in message and "wrong" not in message


async def test_wordpress_lists_follow_pages(platforms, sandbox):
    for post_id in range(1000, 1150):
        sandbox.world.cms.posts[str(post_id)] = Post(
            id=post_id,
            status="publish",
            title=f"Post {post_id}",
            content="x",
            slug=f"p{post_id}",
            date="2026-01-01T00:00:00",
            modified="2026-01-01T00:00:00",
        )
    posts = await platforms.wordpress.list_posts(status="publish")
    assert len(posts) == 150 + 3  # 501, 504 and page 502
    assert {p.type for p in posts} == {"post", "page"}


async def test_wordpress_get_post_finds_pages_too(platforms):
    page = await platforms.wordpress.get_post(502)
    assert page.type == "page" and page.meta_description.startswith("Regenjacken")
    assert await platforms.wordpress.get_post(9999) is None


def test_token_bucket_waits_for_the_deficit():
    now = [0.0]
    bucket = TokenBucket(rate=2.0, burst=2.0, clock=lambda: now[0])
    assert bucket.try_acquire() == 0 and bucket.try_acquire() == 0
    assert bucket.try_acquire() == pytest.approx(0.5)
    now[0] = 0.5
    assert bucket.try_acquire() == 0
    now[0] = 10.0
    assert [bucket.try_acquire() for _ in range(3)] == [0, 0, pytest.approx(0.5)]


async def test_token_bucket_spaces_calls_in_real_time():
    import time

    bucket = TokenBucket(rate=200.0, burst=1.0)
    start = time.monotonic()
    for _ in range(5):
        await bucket.acquire()
    assert time.monotonic() - start >= 4 / 200 * 0.9
