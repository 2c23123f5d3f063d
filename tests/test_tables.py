"""Terminal tables: never wider than asked, and a wrapped reason keeps every word."""

from hypothesis import given
from hypothesis import strategies as st

from adpilot.tables import wrap_table

words = st.text(st.characters(codec="ascii", categories=("Ll", "Lu", "Nd")), min_size=1, max_size=14)
cells = st.text(st.characters(codec="ascii", categories=("Ll", "Nd")), min_size=1, max_size=20)


@given(
    st.lists(st.tuples(cells, cells, st.lists(words, min_size=1, max_size=40)), min_size=1, max_size=6),
    st.integers(40, 140),
)
def test_a_wrapped_reason_fits_the_width_and_keeps_every_word(rows, width):
    table = [[a, b, " ".join(reason)] for a, b, reason in rows]
    lines = wrap_table(["row", "change", "why"], table, width=width)
    assert all(len(line) <= width for line in lines)
    text = " ".join(lines)
    fixed = [max(len(header), *(len(r[i]) for r in table)) for i, header in enumerate(["row", "change"])]
    if sum(fixed) + 4 + 30 <= width:  # the reason has its room: it wraps, nothing is cut
        for _, _, reason in rows:
            assert all(word in text for word in reason)  # nothing cut


def test_the_reason_column_wraps_under_itself():
    lines = wrap_table(["row", "why"], [["24", "one two three four five six seven eight nine ten"]], width=40)
    assert lines[2] == "24   one two three four five six seven"
    assert lines[3] == "     eight nine ten"
