import os
import subprocess
import sys

import pytest

from adpilot.errors import PolicyError
from adpilot.policies import covers, load_policy
from adpilot.policies.loader import pack_path


def test_default_pack_roles_match_the_contract():
    policy = load_policy("default")
    assert policy.name == "default"
    assert covers(policy.scopes("bidding"), "ads:write:status:campaign")
    assert covers(policy.scopes("creative"), "ads:write:status:ad")
    assert not covers(policy.scopes("creative"), "ads:write:status:campaign")
    assert not covers(policy.scopes("creative"), "cms:publish")
    assert covers(policy.scopes("seo"), "cms:publish")
    assert not covers(policy.scopes("seo"), "ads:read")
    assert covers(policy.scopes("compliance"), "ads:write:status:ad")
    assert not covers(policy.scopes("bidding"), "ads:write:creatives")
    assert policy.scopes("nobody") == frozenset()


def test_scope_prefixes_match_whole_segments_only():
    assert covers(frozenset({"ads:write"}), "ads:write:bids")
    assert not covers(frozenset({"ads:wr"}), "ads:write:bids")
    assert not covers(frozenset({"ads:write:bids"}), "ads:write")


def test_hash_is_stable_and_changes_with_content(tmp_path):
    default = load_policy()
    assert default.hash == load_policy().hash
    changed = pack_path("default").read_text().replace("max_increase_pct: 20", "max_increase_pct: 10")
    (tmp_path / "policy.yaml").write_text(changed)
    custom = load_policy(str(tmp_path))
    assert custom.limits.budget.max_increase_pct == 10 and custom.hash != default.hash


def test_hash_is_the_same_in_every_process():
    """Audit rows from different runs of one policy must name the same hash, whatever order
    this interpreter happens to iterate a role's set of scopes in."""
    script = "from adpilot.policies import load_policy; print(load_policy().hash)"
    hashes = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert hashes == {load_policy().hash}


def test_bad_pack_names_file_line_and_key(tmp_path):
    pack = tmp_path / "p.yaml"
    pack.write_text(
        "name: x\nroles:\n  bidding: [adsread]\nlimits:\n  budget:\n    max_amount_micros: -1\n"
        "    max_increase_pct: 20\n    max_cumulative_increase_pct: 50\n    min_decrease_to_pct: 50\n"
        "  keyword_bid: {min_micros: 5, max_micros: 1, max_change_pct: 25}\n"
    )
    with pytest.raises(PolicyError) as info:
        load_policy(str(pack))
    message = str(info.value)
    assert str(pack) in message
    assert "line 3: roles.bidding" in message and "adsread" in message
    assert "line 6: limits.budget.max_amount_micros" in message
    assert "limits.keyword_bid" in message and "min_micros must not exceed max_micros" in message


def test_unknown_pack_lists_the_shipped_ones():
    with pytest.raises(PolicyError, match="shipped packs: default"):
        load_policy("strictest")


def _pack(tmp_path, limits: str, extra: str = "") -> str:
    pack = tmp_path / "policy.yaml"
    pack.write_text(
        "name: x\nroles: {bidding: [ads:read]}\nlimits:\n"
        "  budget: {max_increase_pct: 20, max_cumulative_increase_pct: 50, min_decrease_to_pct: 50}\n"
        "  keyword_bid: {max_change_pct: 25}\n" + limits + extra
    )
    return str(pack)


def test_currency_limits_are_written_in_units_and_held_in_micros(tmp_path):
    # YAML reads 0.05 as a float: its decimal spelling is taken, never its binary value.
    policy = load_policy(_pack(tmp_path, "  currencies:\n    EUR: {budget_max: 500, bid_min: 0.05, bid_max: '10'}\n"))
    eur = policy.limits.for_currency("EUR")
    assert (eur.budget_max, eur.bid_min, eur.bid_max, eur.account_daily_max) == (500_000_000, 50_000, 10_000_000, None)


def test_the_older_micros_keys_are_the_eur_entry(tmp_path):
    policy = load_policy(_legacy(tmp_path))
    eur = policy.limits.for_currency("EUR")
    assert (eur.budget_max, eur.bid_min, eur.bid_max) == (400_000_000, 60_000, 9_000_000)


def _legacy(tmp_path) -> str:
    pack = tmp_path / "legacy.yaml"
    pack.write_text(
        "name: x\nroles: {bidding: [ads:read]}\nlimits:\n"
        "  budget: {max_amount_micros: 400000000, max_increase_pct: 20, max_cumulative_increase_pct: 50,"
        " min_decrease_to_pct: 50}\n"
        "  keyword_bid: {min_micros: 60000, max_micros: 9000000, max_change_pct: 25}\n"
    )
    return str(pack)


def test_an_older_key_overrides_the_eur_entry_of_the_pack(tmp_path):
    text = (
        pack_path("default")
        .read_text()
        .replace("max_increase_pct: 20 ", "max_amount_micros: 450000000\n    max_increase_pct: 20 ")
    )
    (tmp_path / "policy.yaml").write_text(text)
    eur = load_policy(str(tmp_path)).limits.for_currency("EUR")
    assert (eur.budget_max, eur.bid_min, eur.account_daily_max) == (450_000_000, 50_000, 1_500_000_000)


def test_a_dumped_policy_validates_to_the_same_policy():
    from adpilot.policies.model import Policy

    policy = load_policy()
    again = Policy.model_validate(policy.model_dump(by_alias=True))
    assert again == policy and again.hash == policy.hash
    assert again.limits.for_currency("JPY").budget_max == 80_000_000_000


@pytest.mark.parametrize(
    ("currencies", "fragment"),
    [
        (
            "JPY: {budget_max: '80000', bid_min: '10.5', bid_max: '1600'}",
            "currencies.JPY.bid_min (10.5 JPY) is not a whole multiple of 1 JPY",
        ),
        (
            "EUR: {budget_max: '500', bid_min: '0.005', bid_max: '10'}",
            "currencies.EUR.bid_min (0.005 EUR) is not a whole multiple of 0.01 EUR",
        ),
        ("eur: {budget_max: '500', bid_min: '0.05', bid_max: '10'}", "not an ISO 4217 currency code"),
        ("EUR: {budget_max: '500', bid_min: '0.05', bid_max: '10', account_daily_max: '400'}", "below budget_max"),
        ("EUR: {budget_max: 0.1e1, bid_min: 1, bid_max: 0.5}", "bid_min must not exceed bid_max"),
    ],
)
def test_bad_currency_limits_are_refused(tmp_path, currencies, fragment):
    with pytest.raises(PolicyError, match=r"limits") as info:
        load_policy(_pack(tmp_path, f"  currencies:\n    {currencies}\n"))
    assert fragment in str(info.value)


@pytest.mark.parametrize("account", ["١١١٢٢٢٣٣٣٣", "１１１２２２３３３３", "0112223333", " 1112223333"])
def test_policy_accounts_are_ascii_customer_ids(tmp_path, account):
    with pytest.raises(PolicyError, match="accounts"):
        load_policy(_pack(tmp_path, "  currencies: {}\n", f"accounts: ['{account}']\n"))


def test_freeze_windows_need_a_time_zone_and_an_order(tmp_path):
    base = "freeze:\n  - {from: '2026-11-27T00:00:00+01:00', to: '%s', reason: Black Friday}\n"
    with pytest.raises(PolicyError, match="'to' must be after 'from'"):
        load_policy(_pack(tmp_path, "", base % "2026-11-26T00:00:00+01:00"))
    with pytest.raises(PolicyError, match="time zone"):
        load_policy(_pack(tmp_path, "", base % "2026-11-30T00:00:00"))
    window = load_policy(_pack(tmp_path, "", base % "2026-11-30T00:00:00+01:00")).freeze[0]
    assert window.decision == "escalate" and window.accounts == () and window.actions == ()
