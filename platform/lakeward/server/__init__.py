"""``lakeward server``: the authenticated HTTP API, the trust boundary of a deployment.

- ``_app``: :func:`create_app` — routes, authentication dependency, body limit (413), JSON
  logs with request ids, error mapping (401/403/404/422/503).
- ``_auth``: :class:`Authenticator` — API tokens and OIDC JWTs to principals.
- ``_commands``: run a CLI command in-process as the request's principal, output captured.
- ``serve``: run the app under uvicorn on 127.0.0.1.
"""

from __future__ import annotations

from lakeward.server._app import create_app

__all__ = ["create_app", "serve"]


def serve(host: str | None = None, port: int | None = None) -> None:
    """Serve the API until interrupted (uvicorn; no access log: it would log query strings)."""
    import socket

    import uvicorn

    from lakeward.settings import get_settings

    settings = get_settings().server
    host = host or settings.host
    port = settings.port if port is None else port
    app = create_app()
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)  # connections queue from now on, before uvicorn starts accepting
    bound = sock.getsockname()[1]
    import sys

    print(f"lakeward server listening on http://{host}:{bound}", file=sys.__stderr__, flush=True)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_keep_alive=30,
        loop="auto",  # uvloop and httptools when installed (uvicorn[standard])
        http="auto",
    )
    server = uvicorn.Server(config)
    import anyio.to_thread

    async def main() -> None:
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.workers
        await server.serve(sockets=[sock])

    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        import asyncio

        asyncio.run(main())
    else:
        uvloop.run(main())
