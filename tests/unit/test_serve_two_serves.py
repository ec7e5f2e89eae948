"""Two `gpumigrate serve` at once (two sessions, or a driver's and a --watch one) in one browser.

Browsers keep cookies per host, not per port: with one cookie name for every serve, opening the
second serve's link replaced the first one's cookie, and the first serve then refused every new
tab and reload ("open the link ... (once)"), its link already spent: locked out until restarted.
"""

from __future__ import annotations

import aiohttp
from aiohttp import web

from tests.stand_ins import free_port
from tui.serve_guard import Guard


async def _start(guard: Guard) -> web.AppRunner:
    async def page(_request: web.Request) -> web.Response:
        return web.Response(text=f"serve on {guard.port}")

    app = web.Application(middlewares=[guard.middleware])
    app.router.add_get("/", page)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", guard.port).start()
    return runner


async def test_the_second_serves_link_does_not_lock_the_browser_out_of_the_first() -> None:
    first, second = Guard("127.0.0.1", free_port()), Guard("127.0.0.1", free_port())
    links = [first.url, second.url]
    runners = [await _start(first), await _start(second)]
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            for link in links:
                async with browser.get(link) as r:
                    assert r.status == 200
            for guard in (first, second):
                async with browser.get(f"http://127.0.0.1:{guard.port}/") as r:
                    assert (r.status, await r.text()) == (200, f"serve on {guard.port}")
        async with aiohttp.ClientSession() as stranger:  # still nobody else
            async with stranger.get(f"http://127.0.0.1:{first.port}/") as r:
                assert r.status == 403
    finally:
        for runner in runners:
            await runner.cleanup()
