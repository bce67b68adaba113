"""LLM back-ends over plain httpx: ``openai_compat`` (``/chat/completions``) and ``anthropic`` (Messages API).

One paper per request (batching mixes facts between papers). Every answer goes through the gate; a rejected answer
gets a repair turn that says what was wrong. Timeouts, 429 (Retry-After honoured up to a cap), 5xx, malformed and
truncated answers use the same attempts; when they run out the item gets the offline summary with the reasons
recorded in ``fallback_reason``. Tokens of every attempt are counted, also for a fallback: they were paid for.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from paperbot.domain import Item, Summary
from paperbot.errors import ConfigError
from paperbot.summarize.gate import LLM_RULES, check, parse_answer
from paperbot.summarize.offline import OfflineSummarizer
from paperbot.summarize.pricing import PriceTable
from paperbot.summarize.prompt import PROMPT_VERSION, SUMMARY_SCHEMA, build_prompt, repair_message
from paperbot.summarize.text import collapse_ws, input_hash

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
MAX_REASON_CHARS = 500


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


@dataclass(slots=True)
class _Tally:
    tokens_in: int = 0
    tokens_out: int = 0
    reasons: list[str] = field(default_factory=list)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None when absent or garbage."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def _usage_int(usage: Mapping[str, Any], *keys: str) -> int:
    for key in keys:
        value = usage.get(key)
        if isinstance(value, int) and value >= 0:
            return value
    return 0


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
        repair_retries: int = 1,
        max_retry_after: float = 30.0,
        backoff: float = 1.0,
        max_input_chars: int = 4000,
        sleep: Sleep = asyncio.sleep,
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
        self.repair_retries = repair_retries
        self.max_retry_after = max_retry_after
        self.backoff = backoff
        self.max_input_chars = max_input_chars
        self._sleep = sleep
        self.prompt_version = PROMPT_VERSION
        if daily_budget_usd is not None and self.prices.lookup(model) is None:
            log.warning(
                "no price known for model; its calls count as free against the daily budget", extra={"model": model}
            )

    # --- the port -----------------------------------------------------------------------------------------------

    def cache_key(self, item: Item) -> tuple[str, str, str]:
        return input_hash(item, self.max_input_chars), PROMPT_VERSION, self.model

    async def fallback(self, item: Item, reason: str) -> Summary:
        return await self.offline.fallback(item, reason)

    async def summarize(self, item: Item) -> Summary:
        prompt = build_prompt(item, max_input_chars=self.max_input_chars)
        title, abstract = collapse_ws(item.title), collapse_ws(item.abstract)
        messages: list[dict[str, str]] = [{"role": "user", "content": prompt.user}]
        tally = _Tally()
        attempts = 1 + self.repair_retries
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                completion = await self._complete(prompt.system, messages)
            except AttemptFailed as failure:
                tally.reasons.append(failure.reason)
                if last or not failure.retryable:
                    break
                await self._wait(failure, attempt)
                continue
            tally.tokens_in += completion.tokens_in
            tally.tokens_out += completion.tokens_out
            if completion.truncated:
                tally.reasons.append("truncated")
                continue
            bullets = parse_answer(completion.answer)
            if bullets is None:
                tally.reasons.append("malformed_json")
                continue
            result = check(bullets, title=title, abstract=abstract, rules=LLM_RULES)
            if result.ok:
                return Summary(
                    item_id=item.id or 0,
                    bullets=tuple(bullets),
                    backend=self.backend,
                    model=self.model,
                    prompt_version=PROMPT_VERSION,
                    input_hash=input_hash(item, self.max_input_chars),
                    tokens_in=tally.tokens_in,
                    tokens_out=tally.tokens_out,
                    cost_usd=self.prices.cost(self.model, tally.tokens_in, tally.tokens_out),
                )
            tally.reasons.append(f"gate({result.describe()})")
            messages = [
                *messages,
                {"role": "assistant", "content": completion.raw_text[:4000]},
                {"role": "user", "content": repair_message(result)},
            ]
        reason = "; ".join(tally.reasons)[:MAX_REASON_CHARS]
        log.info(
            "llm summary fell back to offline", extra={"item_id": item.id, "backend": self.backend, "reason": reason}
        )
        summary = await self.offline.fallback(item, reason)
        return replace(
            summary,
            tokens_in=tally.tokens_in,
            tokens_out=tally.tokens_out,
            cost_usd=self.prices.cost(self.model, tally.tokens_in, tally.tokens_out),
        )

    # --- transport ----------------------------------------------------------------------------------------------

    async def _wait(self, failure: AttemptFailed, attempt: int) -> None:
        delay = failure.retry_after if failure.retry_after is not None else self.backoff * (attempt + 1)
        if delay > 0:
            await self._sleep(delay)

    async def _post(self, url: str, body: dict[str, Any], headers: dict[str, str], params: dict[str, str]) -> Any:
        """POST and decode JSON; every failure becomes an AttemptFailed with a short reason (never the key)."""
        try:
            response = await self._http.post(url, json=body, headers=headers, params=params, timeout=self.timeout)
        except httpx.TimeoutException:
            raise AttemptFailed("timeout") from None
        except httpx.HTTPError as exc:
            raise AttemptFailed(f"transport({type(exc).__name__})") from None
        status = response.status_code
        if status == 429:
            wait = parse_retry_after(response.headers.get("retry-after"))
            if wait is not None and wait > self.max_retry_after:
                raise AttemptFailed(f"rate_limited(retry_after={wait:.0f}s)", retryable=False)
            raise AttemptFailed("rate_limited", retry_after=wait)
        if status >= 500:
            raise AttemptFailed(
                f"server_error({status})", retry_after=parse_retry_after(response.headers.get("retry-after"))
            )
        if status >= 400:
            # 400/401/403/404: the request or the key is wrong; retrying the same request cannot help.
            log.warning("llm request rejected", extra={"backend": self.backend, "status": status})
            raise AttemptFailed(f"client_error({status})", retryable=False)
        try:
            return response.json()
        except ValueError:
            raise AttemptFailed("malformed_response") from None

    async def _complete(self, system: str, messages: list[dict[str, str]]) -> Completion:
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
        self, system: str, messages: list[dict[str, str]]
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
                "json_schema": {"name": "korean_summary", "strict": True, "schema": SUMMARY_SCHEMA},
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

    async def _complete(self, system: str, messages: list[dict[str, str]]) -> Completion:
        url, body, headers, params = self.request(system, messages)
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

    def request(self, system: str, messages: list[dict[str, str]]) -> tuple[str, dict[str, Any], dict[str, str]]:
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
                    "input_schema": SUMMARY_SCHEMA,
                }
            ]
            body["tool_choice"] = {"type": "tool", "name": self.TOOL_NAME}
        headers = {"anthropic-version": self.api_version}
        if self._api_key:
            headers["x-api-key"] = self._api_key
        base = self.base_url if self.base_url.endswith("/v1") else f"{self.base_url}/v1"
        return f"{base}/messages", body, headers

    async def _complete(self, system: str, messages: list[dict[str, str]]) -> Completion:
        url, body, headers = self.request(system, messages)
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
