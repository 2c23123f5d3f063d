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
