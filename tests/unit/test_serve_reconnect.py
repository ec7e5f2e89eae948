"""A browser tab of `gpumigrate serve` reconnecting: the owner's browser opening the printed link again
(the tab was closed, the browser restored it, back) already holds the cookie the link gave it.  It was
refused ("this link was already used"): the owner was locked out of their own serve until a restart.
The spent link still lets nobody else in."""

from __future__ import annotations

import aiohttp

from tests.stand_ins import free_port
from tests.unit.test_serve_two_serves import _start
from tui.serve_guard import Guard


async def test_the_owners_browser_reopening_the_spent_link_gets_back_in_and_nobody_else_does() -> None:
    guard = Guard("127.0.0.1", free_port())
    link = guard.url
    runner = await _start(guard)
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            for _ in range(2):  # first open, then the reconnect through the same link
                async with browser.get(link) as r:
                    assert (r.status, await r.text()) == (200, f"serve on {guard.port}")
                    assert r.url.query.get("token") is None  # redirected: the address bar no longer shows it
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as stranger:
            async with stranger.get(link) as r:
                assert r.status == 403 and "already used" in await r.text()
    finally:
        await runner.cleanup()
