"""The Google-Ads-shaped API: search, mutate, errors in the GoogleAdsFailure envelope."""

import datetime as dt
import json

import pytest

from tests.conftest import ADS_HEADERS, AT, DE

SEARCH = f"/v23/customers/{DE}/googleAds:search"


def _errors(response):
    body = response.json()
    details = body["error"]["details"][0]
    assert details["@type"].endswith("errors.GoogleAdsFailure")
    return details["errors"]


def _codes(response):
    return [next(iter(e["errorCode"].values())) for e in _errors(response)]


async def search(client, query, customer=DE, **extra):
    return await client.post(
        f"/v23/customers/{customer}/googleAds:search",
        json={"query": query, **extra},
        headers=ADS_HEADERS,
    )


async def mutate(client, service, operations, customer=DE, **extra):
    return await client.post(
        f"/v23/customers/{customer}/{service}:mutate",
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


async def test_paging_with_page_tokens(client, sandbox):
    sandbox._google_ads.page_size = 4  # the API's pages are fixed (10,000 rows); a small world needs small pages
    first = (await search(client, "SELECT ad_group_ad.ad.id FROM ad_group_ad")).json()
    second = (
        await search(
            client,
            "SELECT ad_group_ad.ad.id FROM ad_group_ad",
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
            "INVALID_DATE_FORMAT",
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
    # The API's front end refuses it before Google Ads sees it: a google.rpc.BadRequest, no GoogleAdsFailure.
    error = response.json()["error"]
    assert response.status_code == 400 and error["status"] == "INVALID_ARGUMENT"
    assert error["details"][0]["@type"] == "type.googleapis.com/google.rpc.BadRequest"


async def test_list_accessible_customers(client):
    response = await client.get("/v23/customers:listAccessibleCustomers", headers=ADS_HEADERS)
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
    ],
)
async def test_budget_amounts_are_validated(client, micros, code):
    response = await mutate(client, "campaignBudgets", [_budget_update("9001", micros)])
    assert _codes(response) == [code]


@pytest.mark.parametrize("micros", ["12.5", "abc", 12.5, True, "99999999999999999999"])
async def test_a_value_that_is_no_int64_is_refused_by_the_json_front_end(client, sandbox, micros):
    """Not a Google Ads error: the request is not valid JSON for its proto (no GoogleAdsFailure)."""
    response = await mutate(client, "campaignBudgets", [_budget_update("9001", micros)])
    error = response.json()["error"]
    assert response.status_code == 400 and error["status"] == "INVALID_ARGUMENT"
    assert "operations[0].update.amount_micros" in error["message"] and "GoogleAdsFailure" not in json.dumps(error)
    assert sandbox.world.customer(DE).campaign_budgets["9001"].amount_micros == "50000000"


async def test_an_integral_json_number_is_an_int64(client, sandbox):
    response = await mutate(client, "campaignBudgets", [_budget_update("9001", 60000000.0)])
    assert response.status_code == 200
    assert sandbox.world.customer(DE).campaign_budgets["9001"].amount_micros == "60000000"


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
        (["Gleich", "gleich", "Drei"], "DUPLICATE_ELEMENT"),
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
    assert response.status_code == 404 and response.json()["error"]["status"] == "NOT_FOUND"


# --- realism: versions, field masks, error enums, page size, OAuth2, managers, change history --------


def _at(when: str):
    moment = dt.datetime.fromisoformat(when).replace(tzinfo=dt.UTC)
    return lambda: moment


@pytest.mark.parametrize("version", ["v17", "v18", "v21", "v9"])
async def test_a_sunset_version_is_refused_as_google_refuses_it(client, version):
    response = await client.post(
        f"/{version}/customers/{DE}/googleAds:search",
        json={"query": "SELECT campaign.id FROM campaign"},
        headers=ADS_HEADERS,
    )
    assert response.status_code == 400 and _codes(response) == ["UNSUPPORTED_VERSION"]
    assert version in _errors(response)[0]["message"]
    assert f"googleads.{version}.errors.GoogleAdsFailure" in response.json()["error"]["details"][0]["@type"]


async def test_a_version_answers_until_its_sunset_day(client, sandbox):
    query = {"query": "SELECT campaign.id FROM campaign"}
    sandbox.clock = _at("2026-10-06T23:59:00")
    before = await client.post(f"/v22/customers/{DE}/googleAds:search", json=query, headers=ADS_HEADERS)
    sandbox.clock = _at("2026-10-07T00:00:00")
    after = await client.post(f"/v22/customers/{DE}/googleAds:search", json=query, headers=ADS_HEADERS)
    assert before.status_code == 200 and after.status_code == 400 and _codes(after) == ["UNSUPPORTED_VERSION"]


async def test_error_details_are_typed_for_the_requested_version(client, sandbox):
    for version in ("v23", "v24"):
        response = await client.post(
            f"/{version}/customers/{DE}/googleAds:search",
            json={"query": "SELECT x FROM campaign"},
            headers=ADS_HEADERS,
        )
        assert response.json()["error"]["details"][0]["@type"] == (
            f"type.googleapis.com/google.ads.googleads.{version}.errors.GoogleAdsFailure"
        )
    sandbox.set_faults({"google_ads": {"error_rate": 1.0}})
    fault = await client.post(f"/v24/customers/{DE}/googleAds:search", json=QUERY_ALL, headers=ADS_HEADERS)
    assert fault.status_code == 503 and ".v24.errors." in fault.json()["error"]["details"][0]["@type"]


QUERY_ALL = {"query": "SELECT campaign.id FROM campaign"}


async def test_page_size_is_refused_as_since_v17(client):
    response = await search(client, "SELECT campaign.id FROM campaign", pageSize=4)
    assert response.status_code == 400 and _codes(response) == ["PAGE_SIZE_NOT_SUPPORTED"]


async def test_search_field_mask_is_lower_camel_case(client):
    response = await search(client, "SELECT campaign_budget.amount_micros, campaign.id FROM campaign")
    assert response.json()["fieldMask"] == "campaignBudget.amountMicros,campaign.id"


async def test_a_snake_case_update_mask_is_refused_like_the_api_json_parser(client, sandbox):
    operation = {
        "update": {"resourceName": f"customers/{DE}/adGroupCriteria/2101~41001", "cpcBidMicros": "1500000"},
        "updateMask": "cpc_bid_micros",
    }
    response = await mutate(client, "adGroupCriteria", [operation])
    error = response.json()["error"]
    assert response.status_code == 400 and error["status"] == "INVALID_ARGUMENT"
    assert "operations[0].update_mask" in error["message"] and "GoogleAdsFailure" not in json.dumps(error)
    assert sandbox.world.customer(DE).ad_group_criteria["2101~41001"].cpc_bid_micros == "1200000"
    operation["updateMask"] = "cpcBidMicros"
    assert (await mutate(client, "adGroupCriteria", [operation])).status_code == 200


async def test_fields_outside_the_mask_are_ignored_and_unknown_names_refused(client, sandbox):
    budget = f"customers/{DE}/campaignBudgets/9001"
    ignored = await mutate(
        client,
        "campaignBudgets",
        [{"update": {"resourceName": budget, "amountMicros": "60000000", "name": "X"}, "updateMask": "amountMicros"}],
    )
    assert ignored.status_code == 200 and sandbox.world.customer(DE).campaign_budgets["9001"].name != "X"
    unknown = await mutate(
        client, "campaignBudgets", [{"update": {"resourceName": budget, "amountMicro": "1"}, "updateMask": "name"}]
    )
    assert unknown.status_code == 400 and "Unknown name" in unknown.json()["error"]["message"]


# Every error code the sandbox can send is checked against Google's own enums (v23-v26) in
# tests/tools/test_google_ads_contract.py.


async def test_token_endpoint_issues_tokens_that_expire(client, sandbox):
    creds = sandbox.credentials
    form = {
        "grant_type": "refresh_token",
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "refresh_token": creds.refresh_token,
    }
    sandbox.clock = _at("2026-12-03T08:00:00")
    granted = (await client.post("/token", data=form)).json()
    assert granted["token_type"] == "Bearer" and granted["expires_in"] == 3600
    headers = {**ADS_HEADERS, "authorization": f"Bearer {granted['access_token']}"}
    assert (await client.post(SEARCH, json=QUERY_ALL, headers=headers)).status_code == 200
    sandbox.clock = _at("2026-12-03T09:00:01")
    expired = await client.post(SEARCH, json=QUERY_ALL, headers=headers)
    assert expired.status_code == 401 and _codes(expired) == ["OAUTH_TOKEN_EXPIRED"]
    revoked = await client.post("/token", data={**form, "refresh_token": "1//revoked"})
    assert revoked.status_code == 400 and revoked.json()["error"] == "invalid_grant"
    wrong_client = await client.post("/token", data={**form, "client_secret": "nope"})
    assert wrong_client.status_code == 401 and wrong_client.json()["error"] == "invalid_client"


async def test_manager_lists_its_clients_and_login_customer_id_is_checked(client, sandbox):
    manager = sandbox.world.google_ads.manager_id
    query = (
        "SELECT customer_client.id, customer_client.level, customer_client.manager, "
        "customer_client.descriptive_name FROM customer_client WHERE customer_client.level <= 1"
    )
    rows = (
        await client.post(
            f"/v23/customers/{manager}/googleAds:search",
            json={"query": query},
            headers={**ADS_HEADERS, "login-customer-id": manager},
        )
    ).json()["results"]
    assert [(r["customerClient"]["id"], r["customerClient"]["level"]) for r in rows] == [
        (manager, "0"),
        (DE, "1"),
        (AT, "1"),
    ]
    via_manager = await client.post(SEARCH, json=QUERY_ALL, headers={**ADS_HEADERS, "login-customer-id": manager})
    assert via_manager.status_code == 200
    stranger = await client.post(SEARCH, json=QUERY_ALL, headers={**ADS_HEADERS, "login-customer-id": "5555555555"})
    assert stranger.status_code == 403 and _codes(stranger) == ["USER_PERMISSION_DENIED"]
    dashed = await client.post(SEARCH, json=QUERY_ALL, headers={**ADS_HEADERS, "login-customer-id": "999-000-1111"})
    assert dashed.status_code == 400 and _codes(dashed) == ["INVALID_LOGIN_CUSTOMER_ID"]


CHANGES = (
    "SELECT change_event.change_date_time, change_event.change_resource_name, "
    "change_event.resource_change_operation, change_event.changed_fields, change_event.new_resource "
    "FROM change_event WHERE change_event.change_date_time >= '2026-12-01 00:00:00' "
    "AND change_event.change_date_time <= '2026-12-04 00:00:00'"
)


async def test_change_event_records_applied_changes(client, sandbox):
    sandbox.clock = _at("2026-12-03T08:30:00")
    await mutate(client, "campaignBudgets", [_budget_update("9001", "60000000")])
    await mutate(client, "campaignBudgets", [_budget_update("9001", "70000000")], validateOnly=True)
    rows = (await search(client, CHANGES + " LIMIT 100")).json()["results"]
    assert len(rows) == 1
    event = rows[0]["changeEvent"]
    assert event["changeResourceName"] == f"customers/{DE}/campaignBudgets/9001"
    assert event["resourceChangeOperation"] == "UPDATE" and event["changedFields"] == "amountMicros"
    assert event["changeDateTime"].startswith("2026-12-03 08:30:00")
    assert event["newResource"]["campaignBudget"]["amountMicros"] == "60000000"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        (CHANGES, "LIMIT_NOT_SPECIFIED"),
        (
            "SELECT change_event.change_resource_name FROM change_event "
            "WHERE change_event.change_date_time >= '2026-12-01 00:00:00' LIMIT 10",
            "CHANGE_DATE_RANGE_INFINITE",
        ),
        (CHANGES.replace("2026-12-01", "2026-10-01") + " LIMIT 10", "START_DATE_TOO_OLD"),
    ],
)
async def test_change_event_needs_a_limit_and_a_recent_finite_window(client, sandbox, query, code):
    sandbox.clock = _at("2026-12-03T08:30:00")
    response = await search(client, query)
    assert response.status_code == 400 and _codes(response) == [code]
