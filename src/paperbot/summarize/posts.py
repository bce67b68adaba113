"""Blog posts: telling a research post from a product announcement (a keyword vote, deterministic)."""

from __future__ import annotations

import enum
import re

from paperbot.domain import Item


class PostKind(enum.StrEnum):
    RESEARCH = "research"
    PRODUCT = "product"


_PRODUCT_CUES = re.compile(
    r"(?i)\b(?:introducing|launch(?:es|ed|ing)?|now available|available (?:today|now|in|on|to|for)|"
    r"general availability|generally available|announc\w*|pricing|price|customers?|enterprise|"
    r"sign up|waitlist|roll(?:ing)? out|rollout|beta|preview|api|sdk|app|plans?|subscription|"
    r"partner(?:ship)?s?|today,? we(?:'re| are)?|we(?:'re| are) (?:excited|thrilled|happy)|new features?|"
    r"update[sd]?|upgrade[sd]?|release[sd]?|ship(?:ped|ping)?|product|developers can|try it)\b"
)
_RESEARCH_CUES = re.compile(
    r"(?i)\b(?:paper|research(?:ers)?|we propose|propose[sd]?|study|studies|experiments?|results?|"
    r"benchmarks?|datasets?|arxiv|findings?|we find|we show|analysis|analy[sz]e|hypothes[ie]s|"
    r"theor(?:y|etical)|evaluat\w*|method|approach|training|architecture|ablation|interpretability|"
    r"reinforcement learning|alignment|survey|we investigate|we explore)\b"
)


def classify_post(item: Item) -> PostKind:
    """Product announcement when its cues outnumber research cues in the title (weighted) and excerpt."""
    title, body = item.title, item.abstract
    product = 2 * len(_PRODUCT_CUES.findall(title)) + len(_PRODUCT_CUES.findall(body))
    research = 2 * len(_RESEARCH_CUES.findall(title)) + len(_RESEARCH_CUES.findall(body))
    return PostKind.PRODUCT if product > research else PostKind.RESEARCH
