"""The reliability drills (docs/reliability.md): marked ``drill``, sized for CI.

``--drill-scale X`` (or ``CADRELEDGER_DRILL_SCALE``) multiplies their counts. Each
drill prints its figures (``pytest -s``); ``python -m bench.drills`` prints them too.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def drill_scale(request: pytest.FixtureRequest) -> float:
    return float(request.config.getoption("--drill-scale"))
