from hypothesis import given
from hypothesis import strategies as st

from adpilot.memory.chunking import chunk_file, chunk_text, source_key


def test_paragraphs_stay_whole_and_chunks_overlap():
    paragraphs = [f"Absatz {i}. " + "Satz mit Inhalt. " * 8 for i in range(6)]
    chunks = chunk_text("\n\n".join(paragraphs), size=300, overlap=80)
    assert len(chunks) > 1
    assert all(len(c) <= 300 + 150 for c in chunks)
    assert all(p.strip() in "\n\n".join(chunks) for p in paragraphs)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=3000))
def test_no_text_is_lost(text):
    chunks = chunk_text(text, size=200, overlap=50)
    joined = " ".join(chunks)
    for word in text.split():
        assert word in joined


def test_file_chunks_carry_source_title_and_citation(tmp_path):
    path = tmp_path / "Testbericht Outdoor 2026.md"
    path.write_text("# Der Test\n\nInhalt.")
    (chunk,) = chunk_file(path)
    assert chunk.source == "testbericht-outdoor-2026" == source_key(path)
    assert chunk.title == "Der Test" and chunk.citation == "kb:testbericht-outdoor-2026#0"
