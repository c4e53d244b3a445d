"""mfat.runtime: the seeds of measurement units and the Units value."""

import pytest

from mfat.runtime import Units, make_generator, unit_seed


def test_unit_seeds_are_reproducible_distinct_and_valid_torch_seeds():
    seeds = [unit_seed(3, i, k) for i in range(6) for k in range(6)]
    assert len(set(seeds)) == len(seeds) and all(0 <= x < 2**63 for x in seeds)
    assert unit_seed(3, 1, 2) == unit_seed(3, 1, 2) != unit_seed(3, 2, 1)
    make_generator(max(seeds))
    with pytest.raises(ValueError, match="'keys'"):
        unit_seed(3, -1)


def test_units_run_computes_every_unit_and_combines_in_order():
    plan = Units([1, 2, 3], lambda u: {"x": 10 * u}, lambda outs: [o["x"] for o in outs])
    assert plan.run() == [10, 20, 30]
