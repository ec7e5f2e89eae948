"""``gpumigrate serve`` behind a secret: textual-serve's aiohttp app, wrapped.

textual-serve hands a driving app (with the server owner's cloud credentials)
to whoever reaches its port.  Loopback is not a boundary on a shared jump host
(every local user reaches 127.0.0.1) nor in a browser (any page can open a
WebSocket to 127.0.0.1 through the engineer's SSH tunnel).  So every request
must carry a cookie that only the owner's browser has:

* a random one-time token per serve, printed once to the owner and stored in a
  0600 file; opening ``/?token=...`` once sets the cookie (a different random
  secret, HttpOnly, SameSite=Strict) and spends the token;
* the page, the WebSocket, downloads and static files all need the cookie;
* ``Host`` must be this loopback address and port (no DNS rebinding), and an
  ``Origin`` (always sent by browsers on a WebSocket) must be this server's own.

What a tab may do is decided in the app it runs: a ``--watch`` serve starts
``attach --watch``, whose session client is watch-only in the store itself.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any, Awaitable, Callable

from aiohttp import web

COOKIE = "gpumigrate_serve"
"""The cookie's name, followed by the port: browsers keep cookies per host, not per port, so one
name for every serve let the second serve's link replace the first one's cookie (and lock the
browser out of the first, whose link was already spent)."""


class Guard:
    """The secrets of one serve and the checks every request passes."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.token: str | None = secrets.token_urlsafe(32)
        """The one-time token in the URL printed to the owner; None once spent."""
        self.cookie = secrets.token_urlsafe(32)
        self.cookie_name = f"{COOKIE}_{port}"
        self.origins = {f"http://{host}:{port}", f"http://localhost:{port}"}
        self.hosts = {f"{host}:{port}", f"localhost:{port}"}

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/?token={self.token}"

    def refuse(self, request: web.Request) -> str | None:
        """Why this request is refused, or None."""
        if request.headers.get("Host", "") not in self.hosts:
            return "unexpected Host header"
        origin = request.headers.get("Origin")
        is_ws = request.headers.get("Upgrade", "").lower() == "websocket"
        if (origin is not None or is_ws) and origin not in self.origins:
            return f"foreign Origin {origin!r}"
        return None

    def has_cookie(self, request: web.Request) -> bool:
        value = request.cookies.get(self.cookie_name, "")
        return bool(value) and hmac.compare_digest(value, self.cookie)

    def spend(self, token: str) -> bool:
        """True once for the right token (then it is gone)."""
        if self.token is None or not token or not hmac.compare_digest(token, self.token):
            return False
        self.token = None
        return True

    @web.middleware
    async def middleware(self, request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        why = self.refuse(request)
        if why is not None:
            raise web.HTTPForbidden(text=f"refused: {why}\n")
        token = request.query.get("token")
        if token is not None and request.path == "/":
            if self.has_cookie(request):  # the owner's browser reconnecting through the link: already in
                raise web.HTTPFound("/")
            if not self.spend(token):
                raise web.HTTPForbidden(text="refused: this link was already used or is wrong; the owner of the "
                                             "serve opens the printed link once\n")
            response = web.HTTPFound("/")
            response.set_cookie(self.cookie_name, self.cookie, httponly=True, samesite="Strict", path="/")
            raise response
        if not self.has_cookie(request):
            raise web.HTTPForbidden(text="refused: open the link `gpumigrate serve` printed (once) to get in\n")
        return await handler(request)


def guarded_server(command: str, host: str, port: int, title: str, guard: Guard) -> Any:
    """A textual-serve ``Server`` whose aiohttp app passes every request through ``guard``."""
    from textual_serve.server import Server

    class GuardedServer(Server):
        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            app.middlewares.append(guard.middleware)
            return app

        async def on_startup(self, app: web.Application) -> None:  # the owner already got the link
            return None

    return GuardedServer(command, host=host, port=port, title=title)
