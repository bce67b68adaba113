"""Token prices, for the cost of each call and the daily budget.

USD per million tokens (input, output). The built-in figures are list prices at the time of writing and only a
default: set ``[llm] prices = { "model-name" = [in, out] }`` in paperbot.toml to match your contract. A model is
matched exactly, else by the longest built-in prefix (``gpt-4o-mini-2024-07-18`` → ``gpt-4o-mini``). Local servers
(vLLM, Ollama, llama.cpp) have no entry and cost nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

BUILTIN_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-3-haiku": (0.25, 1.25),
    "claude-haiku-4-5": (1.00, 5.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-3-5-sonnet": (3.00, 15.00),
    "deepseek-chat": (0.27, 1.10),
    "solar-pro": (0.25, 0.25),
    "solar-mini": (0.15, 0.15),
}


class PriceTable:
    def __init__(self, overrides: Mapping[str, tuple[float, float]] | None = None) -> None:
        self._prices = {**BUILTIN_PRICES, **(overrides or {})}

    def lookup(self, model: str) -> tuple[float, float] | None:
        if model in self._prices:
            return self._prices[model]
        name = model.rsplit("/", 1)[-1]  # OpenRouter style "openai/gpt-4o-mini"
        prefixes = [key for key in self._prices if name.startswith(key)]
        return self._prices[max(prefixes, key=len)] if prefixes else None

    def cost(self, model: str, tokens_in: int, tokens_out: int) -> float:
        price = self.lookup(model)
        if price is None:
            return 0.0
        return (tokens_in * price[0] + tokens_out * price[1]) / 1_000_000
