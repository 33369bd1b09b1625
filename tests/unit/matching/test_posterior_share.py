"""The prior's share of rows in the registry (matching.posterior.estimate_share) does not depend on how the
candidates' masses are chunked in memory: partitions, scoring groups and DuckDB each hand rows over in
chunks of their own size, and a float sum adds chunk by chunk."""

from __future__ import annotations

import numpy as np
import polars as pl

from matching.model import load_model
from matching.posterior import estimate_share


def test_the_share_is_the_same_bits_whatever_the_chunks_of_the_masses() -> None:
    generator = np.random.default_rng(7)
    masses = pl.DataFrame(
        {
            "log2_match_mass": generator.uniform(10.0, 40.0, 5_000),
            "log2_household_mass": generator.uniform(-60.0, 10.0, 5_000),
        }
    )
    chunked = pl.concat([masses.slice(start, 37) for start in range(0, masses.height, 37)], rechunk=False)
    assert chunked.n_chunks() > 100
    prior = load_model().prior

    shares = [estimate_share(frame, 1_200, prior, 1_000_000) for frame in (masses, chunked)]

    assert prior.min_share_in_registry < shares[0] < prior.max_share_in_registry  # estimated, not a bound
    assert shares[0] == shares[1]
