"""A post's article as the summarisers see it: attached to the item under ``extra["article"]`` by the service.

The service reads the stored :class:`~paperbot.domain.Article` and, when it is usable, hands the summariser the
item with the article's blocks attached (``[kind, level, text]`` lists, JSON-shaped like the stored column). The
input hash covers them, so a post summarised from its excerpt is summarised again once its article arrives, and
never again after (the article is stored, never re-fetched).
"""

from __future__ import annotations

from dataclasses import replace

from paperbot.domain import ARTICLE_EXTRA, Article, ArticleBlock, BlockKind, Item, ItemKind

#: Characters of an article a model sees at most (its excerpt keeps the configured, smaller cap).
ARTICLE_INPUT_CHARS = 12_000


def attach_article(item: Item, article: Article | None) -> Item:
    """``item`` carrying ``article``'s blocks when it is a post with a usable article; else ``item`` unchanged."""
    if item.kind is not ItemKind.POST or article is None or not article.usable:
        return item
    blocks = [[block.kind.value, block.level, block.text] for block in article.blocks]
    return replace(item, extra={**item.extra, ARTICLE_EXTRA: blocks})


def article_blocks(item: Item) -> tuple[ArticleBlock, ...]:
    """The blocks attached to ``item`` (none: it has no usable article); malformed entries are skipped."""
    raw = item.extra.get(ARTICLE_EXTRA)
    if not isinstance(raw, list):
        return ()
    blocks = []
    for entry in raw:
        if isinstance(entry, list | tuple) and len(entry) == 3:
            kind, level, text = entry
            if kind in BlockKind._value2member_map_ and isinstance(level, int) and isinstance(text, str):
                blocks.append(ArticleBlock(BlockKind(kind), text, level))
    return tuple(blocks)


def article_text(item: Item, *, limit: int = ARTICLE_INPUT_CHARS) -> str:
    """The attached article as the prompt shows it: one block per line, headings as ``## …``, list items as
    ``- …`` (indented by nesting), table rows as they are; cut at ``limit`` characters on a line boundary."""
    lines: list[str] = []
    size = 0
    for block in article_blocks(item):
        if block.kind is BlockKind.HEADING:
            line = "#" * max(1, min(block.level, 6)) + " " + block.text
        elif block.kind is BlockKind.ITEM:
            line = "  " * min(block.level, 3) + "- " + block.text
        else:
            line = block.text
        if size + len(line) + 1 > limit:
            break
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)


def fact_text(item: Item) -> str:
    """Everything a post's summary may take facts from: its excerpt and its attached article's text."""
    body = "\n".join(block.text for block in article_blocks(item))
    return f"{item.abstract}\n{body}" if body else item.abstract
