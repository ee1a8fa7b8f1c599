"""Hypothesis settings for the property tests: the ``ci`` profile, loaded by default.

``ci`` is derandomised (the same examples on every run and machine), bounded in examples,
without a deadline (a loaded 2-core machine must not turn slowness into failures) and
without the example database (nothing written into the repository). Choose another
profile with ``HYPOTHESIS_PROFILE=deep`` for a longer, random search on your machine; a
counter-example it finds goes into the test as an ``@example``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=30,
    deadline=None,
    database=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "deep",
    max_examples=1000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
