"""A gate in front of every request: paths that try to climb out of what the app serves get 403 before routing.

Gradio already refuses files outside its own folders; this adds the tricks a router would otherwise answer with 404
or let through: `..` segments (also percent-encoded, even twice), backslashes, NUL bytes, and the file route written
in another case. Plain ASGI, so it sees the raw path exactly as the client sent it.
"""
from __future__ import annotations

from contextvars import ContextVar
from urllib.parse import unquote

FILE_ROUTE = "/gradio_api/file="
LOGIN_ROUTES = ("/login", "/login/")
# The address of the client whose login is being checked: Gradio calls the auth function with a name and a
# password only, so this middleware tells it who is asking (the login throttle counts failures per client too).
login_client: ContextVar[str | None] = ContextVar("login_client", default=None)
DECODE_ROUNDS = 3  # %252e%252e is %2e%2e is ..


def is_path_trick(raw_path: str) -> bool:
    path = raw_path
    for _ in range(DECODE_ROUNDS):
        path = unquote(path)
    segments = path.replace("\\", "/").replace("=", "/").split("/")  # file=../x: what follows = is a path too
    if ".." in segments or "\\" in path or "\x00" in path:
        return True
    # The file route in another case (/GRADIO_API/FILE=...) is someone probing for a router that folds case.
    return FILE_ROUTE in path.lower() and not path.startswith(FILE_ROUTE)


class PathGuard:
    """ASGI middleware: 403 for path tricks, everything else passed on untouched."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            raw = scope.get("raw_path") or scope.get("path", "").encode()
            if is_path_trick(raw.decode("latin-1")):
                await send({"type": "http.response.start", "status": 403,
                            "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
                await send({"type": "http.response.body", "body": b"Forbidden: this path is not served."})
                return
        await self.app(scope, receive, send)


class LoginClient:
    """ASGI middleware: while a login request is handled, `login_client` holds the client's address."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("path") not in LOGIN_ROUTES:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        token = login_client.set(client[0] if client else None)
        try:
            await self.app(scope, receive, send)
        finally:
            login_client.reset(token)
