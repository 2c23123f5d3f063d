"""The brand's ad templates are data with typed slots, checked when the policy pack loads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpilot.agents.skills.creative import fill, line_problem
from adpilot.errors import PolicyError
from adpilot.policies.compliance import TEMPLATE_SLOTS, Brand
from adpilot.policies.loader import load_model

DEFAULT_BRAND = Path(__file__).resolve().parents[3] / "policies" / "packs" / "default" / "brand.yaml"


def load(tmp_path: Path, headlines: list[str], descriptions: list[str] | None = None) -> Brand:
    path = tmp_path / "brand.yaml"
    lines = ["name: Alpine Outfitters", "ad_templates:", "  headlines:"]
    lines += [f"    - {h!r}" for h in headlines]
    lines += ["  descriptions:"] + [f"    - {d!r}" for d in descriptions or ["Wir liefern in {shipping} Werktagen."]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_model(Brand, path, what="Brand rules")


def test_the_default_templates_load():
    brand = load_model(Brand, DEFAULT_BRAND, what="Brand rules")
    used = {
        slot
        for t in (*brand.ad_templates.headlines, *brand.ad_templates.descriptions)
        for slot in re.findall(r"\{(\w+)\}", t)
    }
    assert used == set(TEMPLATE_SLOTS)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{produkt} ab {price}", "unknown slot {produkt}"),
        ("Versand in {shipping}", "the slot {shipping} is a number of days"),
        ("{product} ab {price} €", "the slot {price} already brings its currency"),
        ("{product ab {price}", "an unmatched brace"),
        ("Ein sehr langer Text ohne jeden Slot {brand}", "without its slots; at most 30 fit"),
    ],
)
def test_a_bad_template_is_an_error_naming_the_file_and_the_template(tmp_path, template, message):
    with pytest.raises(PolicyError) as caught:
        load(tmp_path, ["{brand} Shop", template])
    text = str(caught.value)
    assert str(tmp_path / "brand.yaml") in text and repr(template) in text and message in text
    assert "line 5" in text  # the template's own line


def test_slots_are_filled_and_a_slot_without_a_value_leaves_the_template_out():
    values = {"brand": ["Alpine Outfitters"], "selling_point": ["wasserdicht", "Vibram-Sohle"]}
    assert fill("{brand} Shop", values, "headline") == ["Alpine Outfitters Shop"]
    assert fill("{selling_point}", values, "headline") == ["Wasserdicht", "Vibram-Sohle"]
    assert fill("Das zeichnet sie aus: {selling_point}.", values, "description")[0].endswith("wasserdicht.")
    assert fill("{product} ab {price}", values, "headline") == []


@given(st.text(max_size=120), st.sampled_from(["headline", "description"]))
def test_the_line_check_judges_any_text_without_failing(text, field):
    problem = line_problem(text, field)
    assert problem is None or isinstance(problem, str)
    if problem is None:  # whatever passes starts like a sentence and has no loose ends
        assert text == text.strip() and (text[0].isupper() or text[0].isdigit())
