"""Safety of the archive: hostile text renders as text, a strict CSP on every response, the private-archive token."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from markupsafe import escape

from paperbot.domain import Item, ItemKind, Summary
from paperbot.store.memory import InMemoryRepository
from paperbot.untrusted import clean_untrusted
from paperbot.web.app import COOKIE, CSP, WebConfig, cookie_value, create_app, token_matches
from tests.web.conftest import ClientFactory, web_config
from tests.web.html import assert_inert, parse, squash
from tests.web.seed import HOSTILE, HOSTILE_DAY, UNSTORABLE, Seeded

Client = TestClient[Any, Any]
TOKEN = "s3cret-archive-token-Ω-0123456789"
PAGES = ["/", "/day/2025-05-22", "/week/2025-W21", "/search?q=model", "/top?days=30", "/sources", "/nope"]


def visible_texts(body: str) -> str:
    """Everything a reader sees, joined (entities decoded by the parser, as the browser does)."""
    return "\n".join(squash(element.text) for element in parse(body) if element.tag in ("bdi", "p", "code", "li"))


async def test_hostile_titles_authors_and_summaries_render_as_text(client: Client, seeded: Seeded) -> None:
    day = await client.get(f"/day/{HOSTILE_DAY.isoformat()}")
    body = await day.text()
    assert day.status == 200
    assert_inert(body)
    seen = visible_texts(body)
    for attack in HOSTILE:
        shown = clean_untrusted(attack)
        assert f"{shown} title" in seen, attack  # the reader sees the text itself…
        assert str(escape(f"{shown} title")) in body, attack  # …escaped in the source
        if any(ch in shown for ch in "<>\"'&"):
            assert f"{shown} title" not in body, attack
    assert "<script>" not in body and "onerror=" not in body.replace("onerror=alert", "")
    assert "{{ 7*7 }} {% raw %} ${7*7}" in seen  # never evaluated as a template
    assert "\u202e" not in body and "\x1b" not in body  # bidi overrides and escapes removed, the words kept
    # An item whose URL is javascript: gets no link at all; the others link only to their http(s) URL.
    for n, item_id in enumerate(seeded.hostile):
        page = await client.get(f"/paper/{item_id}")
        text = await page.text()
        assert page.status == 200
        assert_inert(text)
        assert ("원문" in text) == (n % 2 == 0), n
        assert clean_untrusted(HOSTILE[n]) in visible_texts(text)
    assert "javascript:" not in re.sub(
        r"<bdi>.*?</bdi>|<li>.*?</li>|<code>.*?</code>|<title>.*?</title>", "", body, flags=re.S
    )


async def test_hostile_search_queries_are_echoed_as_text(client: Client, seeded: Seeded) -> None:
    for attack in HOSTILE:
        response = await client.get("/search", params={"q": attack, "since": attack, "source": attack, "kind": attack})
        body = await response.text()
        assert response.status == 200, attack
        assert_inert(body)


async def test_text_no_database_stores_still_renders() -> None:
    repository = InMemoryRepository()
    for n, text in enumerate(UNSTORABLE):
        item = (
            await repository.add_item(
                Item("hf_daily", f"u{n}", ItemKind.PAPER, f"{text} title", "https://example.com/u", HOSTILE_DAY)
            )
        ).value
        assert item.id is not None
        await repository.add_summary(Summary(item.id, (text,), "offline", "offline", "offline-1", f"h{n}"))
    client: Client = TestClient(TestServer(create_app(repository, WebConfig())))
    await client.start_server()
    try:
        for path in ("/", "/paper/1", "/paper/3"):
            response = await client.get(path)
            raw = await response.read()
            assert response.status == 200, path
            text = raw.decode("utf-8")  # valid UTF-8, whatever was stored
            assert "\x00" not in text
        # Every repository drops NUL when it stores (store/values.py); the page shows the title as stored.
        assert "nulbyte title" in await (await client.get("/paper/1")).text()
        assert "lone \ufffd surrogate title" in await (await client.get("/paper/3")).text()
    finally:
        await client.close()


async def test_every_response_carries_the_strict_headers(client: Client) -> None:
    assert "script-src" not in CSP and "'unsafe-inline'" not in CSP and "default-src 'none'" in CSP
    for path in [*PAGES, "/static/archive.css", "/paper/1"]:
        response = await client.get(path)
        assert response.headers["Content-Security-Policy"] == CSP, path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        if response.headers["Content-Type"].startswith("text/html"):
            body = await response.text()
            assert "<script" not in body and " style=" not in body
            assert_inert(body)


async def test_a_private_archive_needs_the_token(make_client: ClientFactory, seeded: Seeded) -> None:
    client = await make_client(token=TOKEN)
    for path in PAGES:
        response = await client.get(path, allow_redirects=False)
        body = await response.text()
        assert response.status == 401, path
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.headers["Cache-Control"] == "no-store"
        assert "접근 토큰이 필요합니다" in body and 'name="token"' in body
        assert "Web-Shepherd" not in body and "Kanana" not in body and 'class="entry"' not in body
        assert_inert(body)
    wrong = await client.get("/", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401
    almost = await client.get("/", headers={"Authorization": f"Bearer {TOKEN[:-1]}"})
    assert almost.status == 401
    basic = await client.get("/", headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status == 401
    bearer = await client.get("/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status == 200 and "최신 다이제스트" in await bearer.text()
    assert bearer.headers["Cache-Control"] == "private, no-cache"
    # Open to supervisors and to the 401 page's stylesheet.
    assert (await client.get("/static/archive.css")).status == 200


async def test_the_token_once_in_the_address_becomes_a_cookie_and_leaves_the_address(
    make_client: ClientFactory, seeded: Seeded
) -> None:
    client = await make_client(token=TOKEN, secure_cookie=True)
    bad = await client.get("/search", params={"q": "model", "token": "guess"}, allow_redirects=False)
    assert bad.status == 401 and "토큰이 맞지 않습니다" in await bad.text()
    assert 'name="q" value="model"' in await bad.text()  # the form keeps the rest of the address
    response = await client.get("/search", params={"q": "언어 모델", "token": TOKEN}, allow_redirects=False)
    assert response.status == 303
    location = response.headers["Location"]
    assert location.startswith("/search?q=") and "token" not in location and TOKEN not in location
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}={cookie_value(TOKEN)}")
    assert TOKEN not in cookie
    for flag in ("HttpOnly", "SameSite=Strict", "Secure", "Path=/", "Max-Age="):
        assert flag in cookie, flag
    followed = await client.get(location, headers={"Cookie": f"{COOKIE}={cookie_value(TOKEN)}"})
    assert followed.status == 200 and "Kanana-2" in await followed.text()
    forged = await client.get("/", headers={"Cookie": f"{COOKIE}={cookie_value('other-token-0123456789')}"})
    assert forged.status == 401


async def test_health_and_metrics_stay_open_on_a_private_archive(repository: Any) -> None:
    async def healthz() -> tuple[str, bytes]:
        return "application/json", b'{"status": "ok"}'

    app = create_app(repository, web_config(token=TOKEN), extra={"/healthz": healthz})
    client: Client = TestClient(TestServer(app))
    await client.start_server()
    try:
        response = await client.get("/healthz")
        assert response.status == 200 and await response.json() == {"status": "ok"}
        assert response.headers["Cache-Control"] == "no-store"
    finally:
        await client.close()


@pytest.mark.parametrize("given", ["", "x", TOKEN[:-1], TOKEN + "x", TOKEN.upper(), "Ω" * 40])
def test_token_comparison(given: str) -> None:
    assert token_matches(TOKEN, TOKEN)
    assert not token_matches(given, TOKEN)


async def test_the_token_form_and_redirect_never_leave_the_site(make_client: ClientFactory, seeded: Seeded) -> None:
    client = await make_client(token=TOKEN)
    base = f"http://127.0.0.1:{client.port}"
    for path in ("//evil.example/x", "/\\evil.example/x", "///evil.example"):
        # The test client refuses such paths itself; a browser sends them as they are.
        asked = await client.session.get(base + path, allow_redirects=False)
        body = await asked.text()
        assert asked.status in (401, 404), path
        actions = [e.attrs.get("action") for e in parse(body) if e.tag == "form"]
        assert all(a and a.startswith("/") and not a.startswith(("//", "/\\")) for a in actions), actions
        given = await client.session.get(f"{base}{path}?token={TOKEN}", allow_redirects=False)
        if given.status == 303:
            location = given.headers["Location"]
            assert location.startswith("/") and not location.startswith(("//", "/\\")), location
