"""Summariser registry: provider name → class, and the one function that builds the configured summariser."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from paperbot.config import Settings
from paperbot.errors import ConfigError
from paperbot.ports import Repository, Summarizer
from paperbot.summarize.llm import AnthropicSummarizer, LlmSummarizer, OpenAICompatSummarizer
from paperbot.summarize.offline import OfflineSummarizer
from paperbot.summarize.pricing import PriceTable

if TYPE_CHECKING:
    import httpx

SUMMARIZERS: dict[str, type[OfflineSummarizer] | type[LlmSummarizer]] = {
    "offline": OfflineSummarizer,
    "openai_compat": OpenAICompatSummarizer,
    "anthropic": AnthropicSummarizer,
}
DEFAULT_BASE_URLS = {
    "openai_compat": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
}


def build_summarizer(settings: Settings, http: httpx.AsyncClient, repository: Repository | None = None) -> Summarizer:
    """The summariser ``settings.llm_provider`` names. The repository is not needed: the service does the caching
    and the usage accounting."""
    provider = settings.llm_provider
    cls = SUMMARIZERS.get(provider)
    if cls is None:
        known = ", ".join(sorted(SUMMARIZERS))
        raise ConfigError(f"unknown llm provider {provider!r} (known: {known})", key="llm_provider")
    offline = OfflineSummarizer(max_input_chars=settings.llm_max_input_chars)
    if cls is OfflineSummarizer:
        return offline
    if not settings.llm_model:
        raise ConfigError(f"PAPERBOT_LLM_MODEL is required for llm_provider={provider}", key="llm_model")
    api_key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    if provider == "anthropic" and not api_key:
        raise ConfigError("PAPERBOT_LLM_API_KEY is required for llm_provider=anthropic", key="llm_api_key")
    common: dict[str, Any] = {
        "base_url": settings.llm_base_url or DEFAULT_BASE_URLS[provider],
        "model": settings.llm_model,
        "api_key": api_key,
        "offline": offline,
        "prices": PriceTable(settings.llm_prices),
        "daily_budget_usd": settings.llm_daily_budget_usd,
        "timeout": settings.llm_timeout,
        "max_tokens": settings.llm_max_tokens,
        "temperature": settings.llm_temperature,
        "retries": settings.llm_retries,
        "repair_retries": settings.llm_repair_retries,
        "max_response_bytes": settings.llm_max_response_bytes,
        "max_retry_after": settings.llm_max_retry_after,
        "max_input_chars": settings.llm_max_input_chars,
        "api_version": settings.llm_api_version,
        "structured_output": settings.llm_structured_output,
        "use_kiwi": settings.summary_endings == "kiwi",
    }
    if cls is OpenAICompatSummarizer:
        return OpenAICompatSummarizer(
            http,
            auth_header=settings.llm_auth_header,
            max_tokens_param=settings.llm_max_tokens_param,
            extra_body=settings.llm_extra_body,
            **common,
        )
    return AnthropicSummarizer(http, **common)
