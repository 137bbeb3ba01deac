"""tests/mutate.py finds each mutation's snippet in its file exactly once, or that mutation
could not be applied: an edit to the code must carry its mutations along (two went stale when
row copies became ``copy_row``)."""
from mutate import MUTATIONS, ROOT


def test_every_mutation_snippet_is_found_exactly_once():
    counts = {m.name: (ROOT / m.file).read_text().count(m.old) for m in MUTATIONS}
    assert {name: n for name, n in counts.items() if n != 1} == {}
    assert len({m.name for m in MUTATIONS}) == len(MUTATIONS)
