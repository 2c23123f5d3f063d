"""The Google-Ads-shaped API: search, mutate, errors in the GoogleAdsFailure envelope."""

import pytest

from tests.conftest import ADS_HEADERS, AT, DE

SEARCH = f"/v17/customers/{DE}/googleAds:search"


def _errors(response):
    body = response.json()
    details = body["error"]["details"][0]
    assert details["@type"].endswith("errors.GoogleAdsFailure")
    return details["errors"]


def _codes(response):
    return [next(iter(e["errorCode"].values())) for e in _errors(response)]


async def search(client, query, customer=DE, **extra):
    return await client.post(
        f"/v17/customers/{customer}/googleAds:search",
        json={"query": query, **extra},
        headers=ADS_HEADERS,
    )


async def mutate(client, service, operations, customer=DE, **extra):
    return await client.post(
        f"/v17/customers/{customer}/{service}:mutate",
        json={"operations": operations, **extra},
        headers=ADS_HEADERS,
    )


def _budget_update(budget_id, micros, customer=DE):
    return {
        "update": {
            "resourceName": f"customers/{customer}/campaignBudgets/{budget_id}",
            "amountMicros": micros,
        },
        "updateMask": "amountMicros",
    }


async def test_campaign_111_by_gaql(client):
    response = await search(
        client,
        "SELECT campaign.id, campaign.name, campaign.status FROM campaign WHERE campaign.id = 111",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["fieldMask"] == "campaign.id,campaign.name,campaign.status"
    assert body["results"] == [
        {
            "campaign": {
                "resourceName": f"customers/{DE}/campaigns/111",
                "id": "111",
                "name": "Boots - Search",
                "status": "ENABLED",
            }
        }
    ]


async def test_metrics_equal_the_sum_of_the_simulated_days(client, world):
    response = await search(
        client,
        "SELECT ad_group.id, metrics.clicks, metrics.cost_micros, metrics.impressions FROM ad_group "
        "WHERE segments.date DURING LAST_7_DAYS AND ad_group.id = 2101",
    )
    (row,) = response.json()["results"]
    days = [f"2026-10-{d}" for d in range(25, 32)]
    stats = [s for day in days for k, s in world.customer(DE).stats[day].items() if k.startswith("2101~")]
    assert row["metrics"]["clicks"] == str(sum(s.clicks for s in stats))
    assert row["metrics"]["costMicros"] == str(sum(s.cost_micros for s in stats))
    assert isinstance(row["metrics"]["impressions"], str)


async def test_segments_date_gives_one_row_per_day_and_needs_a_range(client):
    ok = await search(
        client,
        "SELECT segments.date, metrics.clicks FROM customer WHERE segments.date BETWEEN '2026-10-29' AND '2026-10-31'",
    )
    assert [r["segments"]["date"] for r in ok.json()["results"]] == [
        "2026-10-29",
        "2026-10-30",
        "2026-10-31",
    ]
    missing = await search(client, "SELECT segments.date, metrics.clicks FROM customer")
    assert missing.status_code == 400 and _codes(missing) == ["EXPECTED_FILTERS_ON_DATE_RANGE"]


async def test_related_resources_where_order_and_limit(client):
    response = await search(
        client,
        "SELECT ad_group_criterion.criterion_id, ad_group_criterion.cpc_bid_micros, campaign.name "
        "FROM ad_group_criterion WHERE campaign.id IN (111, 112) "
        "ORDER BY ad_group_criterion.cpc_bid_micros DESC LIMIT 2",
    )
    rows = response.json()["results"]
    assert [r["adGroupCriterion"]["criterionId"] for r in rows] == ["41001", "41003"]
    assert rows[0]["campaign"]["name"] == "Boots - Search"


async def test_ads_expose_headlines_as_text_objects(client):
    response = await search(
        client,
        "SELECT ad_group_ad.ad.responsive_search_ad.headlines, ad_group_ad.status FROM ad_group_ad "
        "WHERE ad_group.id = 2102",
    )
    (row,) = response.json()["results"]
    assert row["adGroupAd"]["resourceName"] == f"customers/{DE}/adGroupAds/2102~31004"
    assert row["adGroupAd"]["ad"]["responsiveSearchAd"]["headlines"][0] == {"text": "Trailrunning Schuhe"}


async def test_paging_with_page_tokens(client):
    first = (await search(client, "SELECT ad_group_ad.ad.id FROM ad_group_ad", pageSize=4)).json()
    second = (
        await search(
            client,
            "SELECT ad_group_ad.ad.id FROM ad_group_ad",
            pageSize=4,
            pageToken=first["nextPageToken"],
        )
    ).json()
    assert len(first["results"]) == 4 and len(second["results"]) == 3 and "nextPageToken" not in second
    foreign = await search(client, "SELECT campaign.id FROM campaign", pageToken=first["nextPageToken"])
    assert _codes(foreign) == ["INVALID_PAGE_TOKEN"]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("SELECT campaign.idd FROM campaign", "UNRECOGNIZED_FIELD"),
        ("SELECT campaign.id FROM campaigns", "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE"),
        ("SELECT ad_group.id FROM campaign", "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE"),
        ("SELECT campaign.id FROM campaign WHERE campaign.status = ENABELD", "BAD_ENUM_CONSTANT"),
        ("SELECT ad_group_criterion.keyword FROM ad_group_criterion", "UNRECOGNIZED_FIELD"),
        (
            "SELECT campaign.id FROM campaign WHERE segments.date BETWEEN 'x' AND 'y'",
            "BAD_DATE_LITERAL",
        ),
        ("SELECT campaign.id FROM", "UNEXPECTED_END_OF_QUERY"),
    ],
)
async def test_bad_queries_get_query_errors_not_500s(client, query, code):
    response = await search(client, query)
    assert response.status_code == 400
    assert _codes(response) == [code]
    assert _errors(response)[0]["message"]


async def test_authentication_and_customer_access(client):
    no_token = await client.post(SEARCH, json={"query": "SELECT campaign.id FROM campaign"})
    assert no_token.status_code == 401 and _codes(no_token) == ["OAUTH_TOKEN_INVALID"]
    wrong_dev = await client.post(
        SEARCH,
        json={"query": "SELECT campaign.id FROM campaign"},
        headers={**ADS_HEADERS, "developer-token": "x"},
    )
    assert _codes(wrong_dev) == ["DEVELOPER_TOKEN_INVALID"]
    unknown = await search(client, "SELECT campaign.id FROM campaign", customer="9999999999")
    assert unknown.status_code == 403 and _codes(unknown) == ["USER_PERMISSION_DENIED"]
    dashed = await search(client, "SELECT campaign.id FROM campaign", customer="111-222-3333")
    assert dashed.status_code == 400


async def test_malformed_json_body_is_an_invalid_argument(client):
    response = await client.post(
        SEARCH, content=b"{not json", headers={**ADS_HEADERS, "content-type": "application/json"}
    )
    assert response.status_code == 400 and _codes(response) == ["INVALID_INPUT"]


async def test_list_accessible_customers(client):
    response = await client.get("/v17/customers:listAccessibleCustomers", headers=ADS_HEADERS)
    assert response.json() == {"resourceNames": [f"customers/{DE}", f"customers/{AT}"]}


async def test_budget_update_applies_and_echoes_the_resource_name(client, sandbox):
    response = await mutate(client, "campaignBudgets", [_budget_update("9001", "55000000")])
    assert response.json() == {"results": [{"resourceName": f"customers/{DE}/campaignBudgets/9001"}]}
    assert sandbox.world.customer(DE).campaign_budgets["9001"].amount_micros == "55000000"


async def test_validate_only_changes_nothing(client, sandbox):
    response = await mutate(client, "campaignBudgets", [_budget_update("9001", "55000000")], validateOnly=True)
    assert response.status_code == 200 and response.json() == {}
    assert sandbox.world.customer(DE).campaign_budgets["9001"].amount_micros == "50000000"


async def test_without_partial_failure_one_bad_operation_fails_the_whole_request(client, sandbox):
    response = await mutate(
        client,
        "campaignBudgets",
        [_budget_update("9001", "55000000"), _budget_update("9002", "-5")],
    )
    assert response.status_code == 400
    (error,) = _errors(response)
    assert error["location"]["fieldPathElements"][0] == {"fieldName": "operations", "index": 1}
    assert sandbox.world.customer(DE).campaign_budgets["9001"].amount_micros == "50000000"


async def test_partial_failure_applies_the_good_operations(client, sandbox):
    response = await mutate(
        client,
        "campaignBudgets",
        [_budget_update("9001", "55000000"), _budget_update("9999", "1")],
        partialFailure=True,
    )
    body = response.json()
    assert body["results"][0] == {"resourceName": f"customers/{DE}/campaignBudgets/9001"} and body["results"][1] == {}
    assert body["partialFailureError"]["details"][0]["errors"][0]["errorCode"] == {"mutateError": "RESOURCE_NOT_FOUND"}
    assert sandbox.world.customer(DE).campaign_budgets["9001"].amount_micros == "55000000"


@pytest.mark.parametrize(
    ("micros", "code"),
    [
        ("0", "MONEY_AMOUNT_LESS_THAN_CURRENCY_MINIMUM_CPC"),
        ("50000001", "NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT"),
        ("12.5", "INVALID_VALUE"),
    ],
)
async def test_budget_amounts_are_validated(client, micros, code):
    response = await mutate(client, "campaignBudgets", [_budget_update("9001", micros)])
    assert _codes(response) == [code]


async def test_update_needs_a_mask_naming_mutable_fields(client):
    no_mask = await mutate(
        client,
        "campaignBudgets",
        [{"update": {"resourceName": f"customers/{DE}/campaignBudgets/9001", "amountMicros": "1"}}],
    )
    assert _codes(no_mask) == ["FIELD_MASK_MISSING"]
    immutable = await mutate(
        client,
        "campaignBudgets",
        [
            {
                "update": {"resourceName": f"customers/{DE}/campaignBudgets/9001", "id": "1"},
                "updateMask": "id",
            }
        ],
    )
    assert _codes(immutable) == ["FIELD_NOT_FOUND"]


async def test_keyword_bid_and_ad_status(client, sandbox):
    bid = await mutate(
        client,
        "adGroupCriteria",
        [
            {
                "update": {
                    "resourceName": f"customers/{DE}/adGroupCriteria/2101~41001",
                    "cpcBidMicros": "1300000",
                },
                "updateMask": "cpcBidMicros",
            }
        ],
    )
    assert bid.status_code == 200
    pause = await mutate(
        client,
        "adGroupAds",
        [
            {
                "update": {
                    "resourceName": f"customers/{DE}/adGroupAds/2101~31001",
                    "status": "PAUSED",
                },
                "updateMask": "status",
            }
        ],
    )
    assert pause.status_code == 200
    customer = sandbox.world.customer(DE)
    assert customer.ad_group_criteria["2101~41001"].cpc_bid_micros == "1300000"
    assert customer.ad_group_ads["2101~31001"].status == "PAUSED"


async def test_resource_names_of_another_customer_are_refused(client):
    response = await mutate(client, "campaignBudgets", [_budget_update("9101", "30000000", customer=AT)])
    assert _codes(response) == ["RESOURCE_NAME_MALFORMED"]


def _rsa(headlines, descriptions=("Beschreibung eins für den Test.", "Beschreibung zwei für den Test.")):
    return {
        "create": {
            "adGroup": f"customers/{DE}/adGroups/2101",
            "status": "ENABLED",
            "ad": {
                "finalUrls": ["https://www.alpine-outfitters.example/de/wanderschuhe"],
                "responsiveSearchAd": {
                    "headlines": [{"text": h} for h in headlines],
                    "descriptions": [{"text": d} for d in descriptions],
                },
            },
        }
    }


async def test_create_rsa_counts_umlauts_as_one_character(client, sandbox):
    thirty = "Größe für Füße – Wanderschuhe"  # 29 characters with umlauts and ß
    thirty = thirty + "!"
    assert len(thirty) == 30
    response = await mutate(client, "adGroupAds", [_rsa([thirty, "Zweite Überschrift", "Dritte Überschrift"])])
    assert response.status_code == 200
    resource = response.json()["results"][0]["resourceName"]
    key = resource.rsplit("/", 1)[1]
    assert sandbox.world.customer(DE).ad_group_ads[key].ad.responsive_search_ad.headlines[0].text == thirty


@pytest.mark.parametrize(
    ("headlines", "code"),
    [
        (["Zu wenig", "Überschriften"], "TOO_FEW"),
        (["Eine Überschrift die viel zu lang ist", "Zwei", "Drei"], "TOO_LONG"),
        (["全角文字の見出しはとても長い見出しです", "Zwei", "Drei"], "TOO_LONG"),
        (["Gleich", "gleich", "Drei"], "DUPLICATE_TEXT"),
    ],
)
async def test_create_rsa_enforces_google_limits(client, headlines, code):
    response = await mutate(client, "adGroupAds", [_rsa(headlines)])
    assert response.status_code == 400 and _codes(response) == [code]


async def test_remove_marks_removed(client, sandbox):
    response = await mutate(client, "campaigns", [{"remove": f"customers/{DE}/campaigns/113"}])
    assert response.status_code == 200
    assert sandbox.world.customer(DE).campaigns["113"].status == "REMOVED"
    again = await mutate(client, "campaigns", [{"remove": f"customers/{DE}/campaigns/113"}])
    assert _codes(again) == ["RESOURCE_NOT_FOUND"]


async def test_unknown_service_and_method(client):
    response = await mutate(client, "assets", [{"create": {}}])
    assert response.status_code == 404 and _codes(response) == ["UNKNOWN_SERVICE"]
