"""LLM back-ends over plain httpx: ``openai_compat`` (``/chat/completions``) and ``anthropic`` (Messages API).

One paper per request (batching mixes facts between papers). Every answer is repaired and judged
(:func:`paperbot.summarize.gate.review`): form defects in a few bullets drop those bullets, a number or name the
source does not have gets a repair turn that names the bullet and the problem, and only then the offline summary
replaces the answer (``fallback_reason`` says why). Tokens of every attempt are counted, also for a fallback: they
were paid for.

Transport: each request is bounded as a whole (``timeout`` covers connecting, waiting and reading the last byte, so
a server dripping a byte at a time cannot hold it for minutes), its body is streamed and capped
(``max_response_bytes``), and failures are retried by stamina: timeouts, transport errors, 429 and 5xx, waiting
what Retry-After says. A Retry-After longer than ``max_retry_after`` (429 or 5xx alike) is not waited for: the item
falls back at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import stamina

from paperbot import korean
from paperbot.domain import Item, Summary
from paperbot.errors import ConfigError
from paperbot.retry import parse_retry_after
from paperbot.summarize.article import fact_text
from paperbot.summarize.gate import (
    LLM_RULES,
    GateResult,
    OutlineLine,
    Verdict,
    check_outline,
    parse_answer,
    parse_outline,
    repair_hints,
    review,
)
from paperbot.summarize.offline import OFFLINE_PROMPT_VERSION, OfflineSummarizer
from paperbot.summarize.pricing import PriceTable
from paperbot.summarize.prompt import (
    PROMPT_VERSION,
    SUMMARY_SCHEMA,
    build_prompt,
    outline_repair_message,
    prompt_version_for,
    repair_message,
    schema_for,
    uses_outline,
)
from paperbot.summarize.text import collapse_ws, input_hash

log = logging.getLogger(__name__)

MAX_REASON_CHARS = 500
#: Bodies larger than this are decoded off the event loop.
_THREAD_DECODE_BYTES = 256_000


class AttemptFailed(Exception):
    """One request that brought no usable answer. ``retry_after`` is the wait the server asked for, if any."""

    def __init__(self, reason: str, *, retryable: bool = True, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Completion:
    """A model's answer: the text (or a tool's JSON input), tokens, and whether it was cut off."""

    answer: str | dict[str, Any]
    tokens_in: int = 0
    tokens_out: int = 0
    truncated: bool = False
    raw_text: str = ""


@dataclass(frozen=True, slots=True)
class Turn:
    """One answer of the model (or why there was none) and its verdict."""

    bullets: tuple[str, ...] | None = None
    verdict: Verdict | None = None
    failure: str | None = None


@dataclass(slots=True)
class Trace:
    """Every turn of one item's summarisation, for the evaluation."""

    turns: list[Turn] = field(default_factory=list)

    @property
    def first_answer(self) -> Turn | None:
        """The first turn that brought bullets (malformed answers and transport failures skipped)."""
        return next((turn for turn in self.turns if turn.verdict is not None), None)


@dataclass(slots=True)
class _Tally:
    tokens_in: int = 0
    tokens_out: int = 0
    reasons: list[str] = field(default_factory=list)


def _usage_int(usage: Mapping[str, Any], *keys: str) -> int:
    for key in keys:
        value = usage.get(key)
        if isinstance(value, int) and value >= 0:
            return value
    return 0


def fallback_version(prompt_version: str) -> str:
    """The prompt version stored (with the model's name) on an offline summary that replaced a model's rejected
    answer: the offline version, ``+``, the prompt's version. A summary so marked is that prompt's and model's
    answer for the item, not asked for again; one of an older prompt is re-made when the item is next shown. A
    fallback after a transport failure keeps the plain offline key instead, so the model is asked again later."""
    return f"{OFFLINE_PROMPT_VERSION}+{prompt_version}"


class LlmSummarizer:
    """What both HTTP back-ends share: attempts, the gate, the repair turn, the fallback, the cost."""

    backend = "llm"

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        offline: OfflineSummarizer | None = None,
        prices: PriceTable | None = None,
        daily_budget_usd: float | None = None,
        timeout: float = 60.0,
        max_tokens: int = 1200,
        temperature: float | None = 0.2,
        retries: int = 1,
        repair_retries: int = 1,
        max_retry_after: float = 30.0,
        backoff: float = 1.0,
        max_input_chars: int = 4000,
        max_response_bytes: int = 4_000_000,
        use_kiwi: bool = False,
    ) -> None:
        if not model:
            raise ConfigError(f"PAPERBOT_LLM_MODEL is required for the {self.backend} back-end", key="llm_model")
        self._http = http
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._api_key = api_key
        self.offline = offline or OfflineSummarizer(max_input_chars=max_input_chars)
        self.prices = prices or PriceTable()
        self.daily_budget_usd = daily_budget_usd
        self.timeout = timeout
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.retries = retries
        self.repair_retries = repair_retries
        self.max_retry_after = max_retry_after
        self.backoff = backoff
        self.max_input_chars = max_input_chars
        self.max_response_bytes = max_response_bytes
        self.use_kiwi = use_kiwi
        self.prompt_version = PROMPT_VERSION
        if daily_budget_usd is not None and self.prices.lookup(model) is None:
            log.warning(
                "no price known for model; its calls count as free against the daily budget", extra={"model": model}
            )

    # --- the port -----------------------------------------------------------------------------------------------

    def cache_key(self, item: Item) -> tuple[str, str, str]:
        return input_hash(item, self.max_input_chars), prompt_version_for(item), self.model

    async def fallback(self, item: Item, reason: str) -> Summary:
        return await self.offline.fallback(item, reason)

    async def summarize(self, item: Item) -> Summary:
        summary, _ = await self.summarize_traced(item, raw_gate=False)
        return summary

    async def summarize_traced(self, item: Item, *, raw_gate: bool = True) -> tuple[Summary, Trace]:
        """The summary and every turn that led to it (first answer, verdicts, failures).

        ``raw_gate``: also judge each answer exactly as it came (the evaluation reports it; a digest does not need
        it)."""
        prompt = build_prompt(item, max_input_chars=self.max_input_chars)
        outline = uses_outline(item)
        # A post with its article: nested highlights, every line checked against the excerpt and the article.
        title, abstract = collapse_ws(item.title), collapse_ws(fact_text(item) if outline else item.abstract)
        schema = schema_for(item)
        messages: list[dict[str, str]] = [{"role": "user", "content": prompt.user}]
        tally = _Tally()
        trace = Trace()
        transient = False
        for _turn in range(1 + self.repair_retries):
            try:
                completion = await self._complete_with_retries(prompt.system, messages, schema)
            except AttemptFailed as failure:
                tally.reasons.append(failure.reason)
                trace.turns.append(Turn(failure=failure.reason))
                transient = True
                break  # stamina already retried what was worth retrying
            tally.tokens_in += completion.tokens_in
            tally.tokens_out += completion.tokens_out
            if completion.truncated:
                tally.reasons.append("truncated")
                trace.turns.append(Turn(failure="truncated"))
                continue
            if outline:
                accepted, follow_up = await self._judge_outline(completion, title, abstract, tally, trace)
                if accepted is not None:
                    return self._summary(item, tuple(text for _, text in accepted), tally, accepted), trace
                messages = [*messages, *follow_up]
                continue
            bullets = parse_answer(completion.answer)
            if bullets is None:
                tally.reasons.append("malformed_json")
                trace.turns.append(Turn(failure="malformed_json"))
                continue
            verdict = await asyncio.to_thread(self._review, bullets, title, abstract, raw_gate)
            trace.turns.append(Turn(bullets=tuple(bullets), verdict=verdict))
            if verdict.accepted:
                if verdict.repaired:
                    log.debug("llm answer repaired", extra={"item_id": item.id, "repairs": ", ".join(verdict.notes)})
                return self._summary(item, verdict.bullets, tally), trace
            tally.reasons.append(f"gate({verdict.describe()})")
            messages = [
                *messages,
                {"role": "assistant", "content": completion.raw_text[:4000]},
                {"role": "user", "content": repair_message(verdict.hints)},
            ]
        reason = "; ".join(tally.reasons)[:MAX_REASON_CHARS]
        log.info(
            "llm summary fell back to offline", extra={"item_id": item.id, "backend": self.backend, "reason": reason}
        )
        summary = await self.offline.fallback(item, reason)
        summary = replace(
            summary,
            tokens_in=tally.tokens_in,
            tokens_out=tally.tokens_out,
            cost_usd=self.prices.cost(self.model, tally.tokens_in, tally.tokens_out),
        )
        if not transient:
            # The model answered and could not do better: keep this as the prompt's answer for the item.
            summary = replace(summary, model=self.model, prompt_version=fallback_version(prompt_version_for(item)))
        return summary, trace

    async def _judge_outline(
        self, completion: Completion, title: str, abstract: str, tally: _Tally, trace: Trace
    ) -> tuple[list[OutlineLine] | None, list[dict[str, str]]]:
        """A nested answer: its lines when the gate accepts them, else the repair turn's messages (none when the
        answer was malformed: the same question is asked again)."""
        lines = parse_outline(completion.answer)
        if lines is None:
            tally.reasons.append("malformed_json")
            trace.turns.append(Turn(failure="malformed_json"))
            return None, []
        result: GateResult = await asyncio.to_thread(check_outline, lines, title=title, abstract=abstract)
        trace.turns.append(Turn(bullets=tuple(text for _, text in lines)))
        if result.ok:
            return lines, []
        tally.reasons.append(f"gate({result.describe()})")
        return None, [
            {"role": "assistant", "content": completion.raw_text[:4000]},
            {"role": "user", "content": outline_repair_message(repair_hints(result))},
        ]

    def _review(self, bullets: list[str], title: str, abstract: str, raw_gate: bool) -> Verdict:
        """Repair and judge, in a worker thread: Kiwi (loaded here on first use, seconds) never runs on the loop."""
        kiwi = korean.kiwi() if self.use_kiwi else None
        return review(bullets, title=title, abstract=abstract, rules=LLM_RULES, kiwi=kiwi, with_raw=raw_gate)

    def _summary(
        self, item: Item, bullets: tuple[str, ...], tally: _Tally, outline: Sequence[OutlineLine] = ()
    ) -> Summary:
        return Summary(
            item_id=item.id or 0,
            bullets=bullets,
            levels=tuple(depth for depth, _ in outline),
            backend=self.backend,
            model=self.model,
            prompt_version=prompt_version_for(item),
            input_hash=input_hash(item, self.max_input_chars),
            tokens_in=tally.tokens_in,
            tokens_out=tally.tokens_out,
            cost_usd=self.prices.cost(self.model, tally.tokens_in, tally.tokens_out),
        )

    # --- transport ----------------------------------------------------------------------------------------------

    def _retry_hook(self, exc: Exception) -> bool | float:
        """stamina hook: retry what may work next time; wait what Retry-After said (already checked to be short)."""
        if not isinstance(exc, AttemptFailed) or not exc.retryable:
            return False
        return exc.retry_after if exc.retry_after is not None else True

    async def _complete_with_retries(
        self, system: str, messages: list[dict[str, str]], schema: dict[str, Any] = SUMMARY_SCHEMA
    ) -> Completion:
        async for attempt in stamina.retry_context(
            on=self._retry_hook,
            attempts=1 + self.retries,
            timeout=None,  # each attempt is bounded by self.timeout, each wait by max_retry_after
            wait_initial=self.backoff,
            wait_max=max(self.backoff, self.max_retry_after),
            wait_jitter=self.backoff,
        ):
            with attempt:
                try:
                    async with asyncio.timeout(self.timeout):
                        return await self._complete(system, messages, schema)
                except TimeoutError:
                    raise AttemptFailed("timeout") from None
        raise AssertionError("unreachable: retry_context always runs at least once")  # pragma: no cover

    def _status_failure(self, status: int, retry_after: str | None) -> AttemptFailed:
        """429 and 5xx: retryable after what Retry-After says, unless that is longer than ``max_retry_after``."""
        wait = parse_retry_after(retry_after)
        name, details = ("rate_limited", []) if status == 429 else ("server_error", [str(status)])
        if wait is not None and wait > self.max_retry_after:
            details.append(f"retry_after={wait:.0f}s")
            return AttemptFailed(f"{name}({', '.join(details)})", retryable=False)
        return AttemptFailed(f"{name}({', '.join(details)})" if details else name, retry_after=wait)

    async def _post(self, url: str, body: dict[str, Any], headers: dict[str, str], params: dict[str, str]) -> Any:
        """POST and decode JSON; every failure becomes an AttemptFailed with a short reason (never the key)."""
        try:
            request = self._http.build_request(
                "POST", url, json=body, headers=headers, params=params, timeout=self.timeout
            )
            response = await self._http.send(request, stream=True)
        except httpx.TimeoutException:
            raise AttemptFailed("timeout") from None
        except httpx.HTTPError as exc:
            raise AttemptFailed(f"transport({type(exc).__name__})") from None
        try:
            status = response.status_code
            if status == 429 or status >= 500:
                raise self._status_failure(status, response.headers.get("retry-after"))
            if status >= 400:
                # 400/401/403/404: the request or the key is wrong; retrying the same request cannot help.
                log.warning("llm request rejected", extra={"backend": self.backend, "status": status})
                raise AttemptFailed(f"client_error({status})", retryable=False)
            content = await self._read_capped(response)
        except httpx.TimeoutException:
            raise AttemptFailed("timeout") from None
        except httpx.HTTPError as exc:
            raise AttemptFailed(f"transport({type(exc).__name__})") from None
        finally:
            await response.aclose()
        try:
            if len(content) > _THREAD_DECODE_BYTES:
                return await asyncio.to_thread(json.loads, content)
            return json.loads(content)
        except ValueError:
            raise AttemptFailed("malformed_response") from None

    async def _read_capped(self, response: httpx.Response) -> bytes:
        """The body, streamed, or AttemptFailed once it passes ``max_response_bytes`` (declared or counted)."""
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_response_bytes:
            raise AttemptFailed(f"too_large({declared} bytes)", retryable=False)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_response_bytes:
                raise AttemptFailed(f"too_large(>{self.max_response_bytes} bytes)", retryable=False)
            chunks.append(chunk)
        return b"".join(chunks)

    async def _complete(
        self, system: str, messages: list[dict[str, str]], schema: dict[str, Any] = SUMMARY_SCHEMA
    ) -> Completion:
        raise NotImplementedError


class OpenAICompatSummarizer(LlmSummarizer):
    """``POST {base}/chat/completions``: OpenAI, Azure, vLLM, Ollama, llama.cpp, LM Studio, OpenRouter, Solar…"""

    backend = "openai_compat"

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        auth_header: str = "bearer",
        api_version: str | None = None,
        structured_output: str = "json_schema",
        max_tokens_param: str = "max_tokens",
        extra_body: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(http, **kwargs)
        self.auth_header = auth_header
        self.api_version = api_version
        self.structured_output = structured_output
        self.max_tokens_param = max_tokens_param
        self.extra_body = dict(extra_body or {})

    def request(
        self, system: str, messages: list[dict[str, str]], schema: dict[str, Any] = SUMMARY_SCHEMA
    ) -> tuple[str, dict[str, Any], dict[str, str], dict[str, str]]:
        """URL, body, headers and query parameters of one chat completion request."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "system", "content": system}, *messages],
            self.max_tokens_param: self.max_tokens,
        }
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.structured_output == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "korean_summary", "strict": True, "schema": schema},
            }
        elif self.structured_output == "json_object":
            body["response_format"] = {"type": "json_object"}
        body.update(self.extra_body)
        headers: dict[str, str] = {}
        if self._api_key and self.auth_header == "bearer":
            headers["Authorization"] = f"Bearer {self._api_key}"
        elif self._api_key and self.auth_header in ("api-key", "x-api-key"):
            headers[self.auth_header] = self._api_key
        params = {"api-version": self.api_version} if self.api_version else {}
        return f"{self.base_url}/chat/completions", body, headers, params

    async def _complete(
        self, system: str, messages: list[dict[str, str]], schema: dict[str, Any] = SUMMARY_SCHEMA
    ) -> Completion:
        url, body, headers, params = self.request(system, messages, schema)
        data = await self._post(url, body, headers, params)
        try:
            choice = data["choices"][0]
            content = choice["message"].get("content")
        except (KeyError, IndexError, TypeError, AttributeError):
            raise AttemptFailed("malformed_response") from None
        usage = data.get("usage") if isinstance(data, dict) else None
        usage = usage if isinstance(usage, dict) else {}
        text = content if isinstance(content, str) else ""
        return Completion(
            answer=text,
            raw_text=text,
            tokens_in=_usage_int(usage, "prompt_tokens", "input_tokens"),
            tokens_out=_usage_int(usage, "completion_tokens", "output_tokens"),
            truncated=choice.get("finish_reason") == "length",
        )


class AnthropicSummarizer(LlmSummarizer):
    """The native Messages API (``POST {base}/v1/messages``); structured output through a forced tool call."""

    backend = "anthropic"
    DEFAULT_VERSION = "2023-06-01"
    TOOL_NAME = "submit_summary"

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_version: str | None = None,
        structured_output: str = "json_schema",
        **kwargs: Any,
    ) -> None:
        super().__init__(http, **kwargs)
        self.api_version = api_version or self.DEFAULT_VERSION
        self.use_tool = structured_output == "json_schema"

    def request(
        self, system: str, messages: list[dict[str, str]], schema: dict[str, Any] = SUMMARY_SCHEMA
    ) -> tuple[str, dict[str, Any], dict[str, str]]:
        body: dict[str, Any] = {
            "model": self.model,
            "system": system,
            "messages": messages,
            "max_tokens": self.max_tokens,
        }
        if self.temperature is not None:
            body["temperature"] = min(self.temperature, 1.0)
        if self.use_tool:
            body["tools"] = [
                {
                    "name": self.TOOL_NAME,
                    "description": "한국어 요약 항목을 제출합니다.",
                    "input_schema": schema,
                }
            ]
            body["tool_choice"] = {"type": "tool", "name": self.TOOL_NAME}
        headers = {"anthropic-version": self.api_version}
        if self._api_key:
            headers["x-api-key"] = self._api_key
        base = self.base_url if self.base_url.endswith("/v1") else f"{self.base_url}/v1"
        return f"{base}/messages", body, headers

    async def _complete(
        self, system: str, messages: list[dict[str, str]], schema: dict[str, Any] = SUMMARY_SCHEMA
    ) -> Completion:
        url, body, headers = self.request(system, messages, schema)
        data = await self._post(url, body, headers, {})
        if not isinstance(data, dict) or not isinstance(data.get("content"), list):
            raise AttemptFailed("malformed_response")
        answer: str | dict[str, Any] = ""
        texts = []
        for block in data["content"]:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_use" and isinstance(block.get("input"), dict):
                answer = block["input"]
            elif block.get("type") == "text" and isinstance(block.get("text"), str):
                texts.append(block["text"])
        if not answer:
            answer = "\n".join(texts)
        usage = data["usage"] if isinstance(data.get("usage"), dict) else {}
        raw = json.dumps(answer, ensure_ascii=False) if isinstance(answer, dict) else answer
        return Completion(
            answer=answer,
            raw_text=raw,
            tokens_in=_usage_int(usage, "input_tokens"),
            tokens_out=_usage_int(usage, "output_tokens"),
            truncated=data.get("stop_reason") == "max_tokens",
        )
