"""tests/mutate.py finds each mutation's snippet in its file exactly once, or that mutation
could not be applied: an edit to the code must carry its mutations along (two went stale when
row copies became ``copy_row``)."""
from mutate import MUTATIONS, ROOT, run


def test_every_mutation_snippet_is_found_exactly_once():
    counts = {m.name: (ROOT / m.file).read_text().count(m.old) for m in MUTATIONS}
    assert {name: n for name, n in counts.items() if n != 1} == {}
    assert len({m.name for m in MUTATIONS}) == len(MUTATIONS)


def test_a_mutant_does_not_run_this_check():
    # in a mutant the snippet is gone, so the check above would fail there and "kill" every
    # mutation, whatever the other tests say; chosen alone, it leaves a mutant nothing to run
    _, outcome, _, tail = run(MUTATIONS[0], "-q -p no:cacheprovider tests -k "
                              "snippet_is_found_exactly_once", timeout=600)
    assert outcome == "error", tail  # pytest found no test to run (exit 5)
