"""``paperbot digest`` on a fresh SQLite database succeeds with three CPU burners beside it (issue 16: it failed
5 of 5 with "database is locked" when Kiwi analysed the first Korean summary inside the write transaction).

No timing is asserted: every run must succeed and post the whole day. ``bench/bench_load.py`` reports the times.
The runs go ``SIDE_BY_SIDE`` at a time (each its own database and Slack channel): every run still has the three
burners beside it, and more besides, while the test takes a fraction of the wall time of ten runs in a row.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.store.digest_under_load import CHANNEL, MIN_POSTS, burners, fake_slack, run_digest, source_server

RUNS = 10
BURNERS = 3
SIDE_BY_SIDE = 4


@pytest.mark.slow
@pytest.mark.xdist_group("cpu_burners")
def test_digest_to_slack_succeeds_every_time_beside_three_cpu_burners(tmp_path: Path) -> None:
    failures = []
    with source_server() as base, fake_slack() as fake, burners(BURNERS):
        with ThreadPoolExecutor(SIDE_BY_SIDE) as pool:
            results = list(
                pool.map(lambda n: run_digest(tmp_path / f"run-{n}", fake, base, channel=f"{CHANNEL}{n}"), range(RUNS))
            )
        for n, result in enumerate(results):
            if not result.ok:
                failures.append(f"run {n + 1}: exit {result.exit_code}, {result.posts} posts\n{result.detail}")
            else:
                assert result.posts >= MIN_POSTS
    assert not failures, f"{len(failures)}/{RUNS} runs failed:\n" + "\n".join(failures)
