"""A reload of an unchanged page is a 304 (ETag and Last-Modified); a change in the data is a new page."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from paperbot.domain import Vote
from paperbot.ports import Repository
from tests.web.seed import Seeded

Client = TestClient[Any, Any]
PAGES = ["/", "/day/2025-05-22", "/week/2025-W21", "/paper/1", "/search?q=모델", "/top?days=7", "/sources"]


async def test_a_reload_is_a_304(client: Client) -> None:
    for path in PAGES:
        first = await client.get(path)
        body = await first.read()
        etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
        assert etag.startswith('"') and etag.endswith('"'), path
        assert first.headers["Cache-Control"] == "no-cache"
        again = await client.get(path, headers={"If-None-Match": etag})
        assert again.status == 304, path
        assert await again.read() == b""
        assert again.headers["ETag"] == etag
        assert "Content-Security-Policy" in again.headers
        weak = await client.get(path, headers={"If-None-Match": f'"other", W/{etag}'})
        assert weak.status == 304, path  # If-None-Match compares weakly (RFC 9110 §13.1.2)
        by_date = await client.get(path, headers={"If-Modified-Since": modified})
        assert by_date.status == 304, path
        same = await client.get(path)
        assert same.headers["ETag"] == etag and await same.read() == body  # rendering is deterministic


async def test_changed_data_is_a_new_page(client: Client, repository: Repository, seeded: Seeded) -> None:
    path = f"/paper/{seeded.voted}"
    first = await client.get(path)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    await repository.add_vote(
        Vote(
            platform="slack",
            message_id="m9",
            voter_hash="f" * 64,
            emoji="👍",
            value=1,
            channel_id="C9",
            item_id=seeded.voted,
        )
    )
    changed = await client.get(path, headers={"If-None-Match": etag})
    assert changed.status == 200
    assert changed.headers["ETag"] != etag
    assert "C9" in await changed.text()
    stale_date = await client.get(path, headers={"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"})
    assert stale_date.status == 200
    garbage = await client.get(path, headers={"If-Modified-Since": "yesterday-ish"})
    assert garbage.status == 200
    # If-None-Match wins over If-Modified-Since when both are sent.
    both = await client.get(path, headers={"If-None-Match": etag, "If-Modified-Since": modified})
    assert both.status == 200


async def test_errors_are_never_304(client: Client) -> None:
    missing = await client.get("/paper/999999", headers={"If-None-Match": "*"})
    assert missing.status == 404
    assert "ETag" not in missing.headers
