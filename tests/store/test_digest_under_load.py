"""``paperbot digest`` on a fresh SQLite database succeeds with three CPU burners beside it (issue 16: it failed
5 of 5 with "database is locked" when Kiwi analysed the first Korean summary inside the write transaction).

No timing is asserted: every run must succeed and post the whole day. ``bench/bench_load.py`` reports the times.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.store.digest_under_load import MIN_POSTS, burners, fake_slack, run_digest, source_server

RUNS = 10
BURNERS = 3


@pytest.mark.slow
def test_digest_to_slack_succeeds_every_time_beside_three_cpu_burners(tmp_path: Path) -> None:
    failures = []
    with source_server() as base, fake_slack() as fake, burners(BURNERS):
        for n in range(RUNS):
            result = run_digest(tmp_path / f"run-{n}", fake, base)
            if not result.ok:
                failures.append(f"run {n + 1}: exit {result.exit_code}, {result.posts} posts\n{result.detail}")
            else:
                assert result.posts >= MIN_POSTS
    assert not failures, f"{len(failures)}/{RUNS} runs failed:\n" + "\n".join(failures)
