"""Reading the archive's HTML in tests: the elements as a browser's parser sees them (html.parser, stdlib)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    text: str = ""
    children: list[Element] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self.elements.append(element)
        if self._open:
            self._open[-1].children.append(element)
        if tag not in _VOID:
            self._open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self.elements.append(element)
        if self._open:
            self._open[-1].children.append(element)

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index].tag == tag:
                del self._open[index:]
                return

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text += data


def parse(html: str) -> list[Element]:
    parser = _Parser()
    parser.feed(html)
    parser.close()
    return parser.elements


def squash(text: str) -> str:
    return " ".join(text.split())


def by_class(elements: list[Element], name: str) -> list[Element]:
    return [element for element in elements if name in element.classes]


def titles(html: str) -> list[str]:
    """The item titles, in page order, as a reader sees them."""
    return [squash(element.text) for element in by_class(parse(html), "title")]


def item_ids(html: str, section_id: str | None = None) -> list[int]:
    """``id="item-N"`` of the entries in page order (within the section whose heading has ``section_id``)."""
    if section_id is not None:
        match = re.search(rf'<section aria-labelledby="{section_id}">(.*?)</section>', html, re.S)
        assert match, f"no section {section_id}"
        html = match.group(1)
    return [int(n) for n in re.findall(r'<article class="entry" id="item-(\d+)"', html)]


def assert_inert(html: str) -> None:
    """Nothing in the page can run or style itself: no script, no event handler, no inline style, no foreign
    scheme in a link, and only our stylesheet and icon."""
    for element in parse(html):
        assert element.tag not in ("script", "iframe", "object", "embed", "base", "style"), element
        for name, value in element.attrs.items():
            assert not name.startswith("on"), (element.tag, name, value)
            assert name != "style", (element.tag, value)
            if name in ("href", "src", "action", "formaction", "xlink:href"):
                assert value is not None
                assert value.startswith(("https://", "http://", "/")) and not value.startswith("//"), value
