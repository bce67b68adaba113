"""What every database can hold: items and source states made storable before any backend sees them.

PostgreSQL is stricter than SQLite, and one odd value used to abort a whole collect there: a count ≥ 2**31
("value out of int32 range"), a NUL byte ("invalid byte sequence 0x00"), an id over VARCHAR(500), a validator over
its column. SQLite took all of them. Both repositories (and the in-memory one, which must behave like them) pass
every item and source state through these functions, so the same values come back everywhere.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import replace
from typing import Any

import orjson

from paperbot.domain import Item, SourceState

#: Column sizes (``paperbot.store.models`` uses these).
EXTERNAL_ID_MAX = 500
ETAG_MAX = 500
LAST_MODIFIED_MAX = 100
#: INTEGER columns (upvotes): PostgreSQL's int4.
MAX_INT = 2**31 - 1
#: Integers inside JSON columns: the bulk SQLite path serialises with orjson, which stops at 64 bits.
_MAX_JSON_INT = 2**63 - 1

_SURROGATE = re.compile(r"[\ud800-\udfff]")


def storable_text(value: str) -> str:
    """No NUL (PostgreSQL refuses it in text) and no lone surrogate (no UTF-8 encoder accepts one)."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    if not value.isascii() and _SURROGATE.search(value):  # isascii: a C scan, the common case skips the regex
        value = _SURROGATE.sub("\ufffd", value)
    return value


def _plain_json(value: dict[str, Any]) -> bool:
    """True when ``value`` certainly needs no change: orjson encodes it strictly (so no lone surrogate, no integer
    beyond 53 bits, only string keys), with no NUL and no ``null`` (orjson writes NaN and Infinity as null)."""
    try:
        blob = orjson.dumps(value, option=orjson.OPT_STRICT_INTEGER)
    except TypeError:
        return False
    return b"\\u0000" not in blob and b"null" not in blob


def storable_json(value: Any) -> Any:
    """A JSON value with storable strings (keys too), bounded integers and no NaN/Infinity (PostgreSQL's json
    type refuses those tokens)."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return max(-_MAX_JSON_INT, min(value, _MAX_JSON_INT))
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {storable_text(str(key)): storable_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable_json(item) for item in value]
    return storable_text(str(value))


def clamp_count(value: int) -> int:
    return max(0, min(value, MAX_INT))


def storable_external_id(external_id: str) -> str:
    """The id itself, or ``sha256:…`` of it when longer than the column (as the feed parser hashes long guids)."""
    external_id = storable_text(external_id)
    if len(external_id) <= EXTERNAL_ID_MAX:
        return external_id
    return "sha256:" + hashlib.sha256(external_id.encode()).hexdigest()


def storable_item(item: Item) -> Item:
    """``item`` with every value in range for every database (the same object when nothing needed changing)."""
    changes: dict[str, Any] = {}
    for name in ("source", "title", "url", "abstract"):
        value = getattr(item, name)
        if (clean := storable_text(value)) is not value:
            changes[name] = clean
    if (external_id := storable_external_id(item.external_id)) != item.external_id:
        changes["external_id"] = external_id
    if item.thumbnail_url is not None and (thumb := storable_text(item.thumbnail_url)) is not item.thumbnail_url:
        changes["thumbnail_url"] = thumb
    joined = "".join(item.authors)
    if "\x00" in joined or not joined.isascii():
        authors = tuple(storable_text(name) for name in item.authors)
        if authors != item.authors:
            changes["authors"] = authors
    if (upvotes := clamp_count(item.upvotes)) != item.upvotes:
        changes["upvotes"] = upvotes
    if item.extra and not _plain_json(item.extra):
        extra = storable_json(item.extra)
        if extra != item.extra:
            changes["extra"] = extra
    return replace(item, **changes) if changes else item


def storable_state(state: SourceState) -> SourceState:
    """Validators that do not fit their columns are dropped (the next fetch is simply unconditional)."""
    etag = state.etag if state.etag is None or len(state.etag) <= ETAG_MAX else None
    last_modified = state.last_modified
    if last_modified is not None and len(last_modified) > LAST_MODIFIED_MAX:
        last_modified = None
    return replace(
        state,
        etag=storable_text(etag) if etag is not None else None,
        last_modified=storable_text(last_modified) if last_modified is not None else None,
        last_error=storable_text(state.last_error) if state.last_error is not None else None,
    )
