"""The silver set's own answers (gpt-4o-mini, tests/data/summarize/silver_sample.jsonl): good ones are kept as the
model's Korean (repaired, not replaced), and its bad ones are still caught.

End to end, a local stand-in LLM answers each paper with its ``ko_reference`` sentences (the same again on a
repair turn), as in the issue's measurement.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from paperbot.cli import cli
from paperbot.summarize.evaluation import evaluate, load_references
from paperbot.summarize.gate import review
from paperbot.summarize.llm import OpenAICompatSummarizer
from paperbot.summarize.text import collapse_ws
from tests.summarize.conftest import DATA, load_jsonl
from tests.summarize.fake_llm import FakeLLMServer, fake_llm, reference_script

SAMPLE = DATA / "silver_sample.jsonl"
ROWS = {row["id"]: row for row in load_jsonl("silver_sample.jsonl")}

#: Facts the abstract does not support: the repair turn, then the offline summary.
FACTUAL = {
    "2504.12285": "number:2:2억",  # BitNet: "2-billion" written 2억 (it is 20억)
    "2508.15763": "number:2:28억",  # 28 billion written 28억 (280억)
    "2505.02550": "number:4:3억 30백만",  # 303 million
    "2503.16302": "name:1:Vertset",  # the title says Vecset
    "2507.15846": "name:2:GUI-K",  # the title says GUI-G^2
    "2508.11630": "name:2:Supervised",  # SFT expanded, the abstract never does
}
#: Form defects in one bullet: that bullet goes, the rest stays. (id, the bullet's text that must not survive)
FORM = {
    "2502.13923": "معينة",  # Arabic
    "2505.19250": "прогressive",  # Cyrillic
    "2506.18701": "採用",  # Han
    "2506.16141": "rigorously",
    "2508.02324": "significativa",
    "2508.04825": "supervision을",
    "2509.06949": "consistently",
    "2504.11833": "영어-only",
}
GOOD = [row_id for row_id in ROWS if row_id not in FACTUAL]


def _review(row_id: str, analyser: Any) -> Any:
    row = ROWS[row_id]
    return review(
        row["ko_reference"], title=collapse_ws(row["title"]), abstract=collapse_ws(row["abstract"]), kiwi=analyser
    )


@pytest.mark.parametrize("row_id", sorted(FACTUAL))
def test_wrong_numbers_and_names_are_still_caught(analyser: Any, row_id: str) -> None:
    verdict = _review(row_id, analyser)
    assert not verdict.accepted
    assert FACTUAL[row_id] in verdict.problems


@pytest.mark.parametrize("row_id", sorted(FORM))
def test_foreign_scripts_and_untranslated_words_are_still_caught(analyser: Any, row_id: str) -> None:
    verdict = _review(row_id, analyser)
    assert verdict.accepted  # the other bullets are fine
    assert any(note.startswith("drop:") for note in verdict.notes)
    assert all(FORM[row_id] not in bullet for bullet in verdict.bullets)


@pytest.mark.parametrize("row_id", sorted(GOOD))
def test_every_other_answer_is_kept(analyser: Any, row_id: str) -> None:
    verdict = _review(row_id, analyser)
    assert verdict.accepted, verdict.problems
    assert 3 <= len(verdict.bullets) <= 6
    assert all(bullet.endswith("니다.") for bullet in verdict.bullets)


@pytest.fixture
def stand_in() -> Iterator[FakeLLMServer]:
    with fake_llm(reference_script(str(SAMPLE))) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.mark.usefixtures("no_retry_waits")
async def test_the_stand_in_llm_end_to_end(stand_in: FakeLLMServer, http: httpx.AsyncClient) -> None:
    summarizer = OpenAICompatSummarizer(http, base_url=f"{stand_in.url}/v1", model="stand-in", timeout=10)
    report = await evaluate(load_references(SAMPLE), summarizer, concurrency=4)
    outcomes = {paper.id: paper for paper in report.papers}
    for row_id, problem in FACTUAL.items():
        paper = outcomes[row_id]
        assert paper.outcome == "fallback" and paper.backend == "offline"
        assert problem.split(":", 1)[0] in paper.reasons
        assert paper.turns == 2  # the repair turn was tried
        assert paper.fallback_reason is not None and problem in paper.fallback_reason
    for row_id in GOOD:
        assert outcomes[row_id].outcome == "first", (row_id, outcomes[row_id].fallback_reason)
        assert outcomes[row_id].first_answer == ROWS[row_id]["ko_reference"]
    aggregate = report.aggregate()
    assert aggregate["kept"] == len(GOOD) and aggregate["fallbacks"] == len(FACTUAL)
    assert aggregate["first_answer_passed_as_is"] == 0  # the raw gate rejects every one of them (endings)
    assert aggregate["repaired_bullets"] > 100 and aggregate["dropped_bullets"] >= len(FORM)
    assert aggregate["fallback_reasons"] == {"number": 3, "name": 3}
    assert aggregate["flagged_papers"] >= len(FACTUAL) + 3  # flags on the raw answers, scripts included


def test_the_eval_command_tells_the_truth(stand_in: FakeLLMServer) -> None:
    env = {
        "PAPERBOT_CONFIG": "",
        "PAPERBOT_LOG_LEVEL": "ERROR",
        "PAPERBOT_LLM_PROVIDER": "openai_compat",
        "PAPERBOT_LLM_BASE_URL": f"{stand_in.url}/v1",
        "PAPERBOT_LLM_MODEL": "stand-in",
        "PAPERBOT_LLM_RETRIES": "0",
    }
    runner = CliRunner()
    result = runner.invoke(cli, ["eval", "summaries", "--references", str(SAMPLE)], env=env, catch_exceptions=False)
    assert result.exit_code == 1
    assert f"LLM 답변 {len(FACTUAL)}편이 오프라인 요약으로 대체되었습니다 (허용 0편)." in result.stderr
    assert "오프라인 대체 사유 number: 3편" in result.stdout and "오프라인 대체 사유 name: 3편" in result.stdout
    assert f"재요청 후 사용 0편, 오프라인 대체 {len(FACTUAL)}편" in result.stdout
    allowed = runner.invoke(
        cli,
        ["eval", "summaries", "--references", str(SAMPLE), "--max-fallbacks", str(len(FACTUAL)), "--json"],
        env=env,
        catch_exceptions=False,
    )
    assert allowed.exit_code == 0, allowed.stderr
    papers = {paper["id"]: paper for paper in json.loads(allowed.stdout)["papers"]}
    bitnet = papers["2504.12285"]
    assert bitnet["first_answer"] == ROWS["2504.12285"]["ko_reference"]
    assert "number:2:2억" in " ".join(bitnet["first_gate"]) and bitnet["reasons"] == ["number"]
    assert bitnet["bullets"] != bitnet["first_answer"] and bitnet["outcome"] == "fallback"
