"""``lakeward server``: the authenticated HTTP API, the trust boundary of a deployment.

- ``_app``: :func:`create_app` — routes, authentication dependency, body limit (413), JSON
  logs with request ids, error mapping (401/403/404/422/503).
- ``_auth``: :class:`Authenticator` — API tokens and OIDC JWTs to principals.
- ``_commands``: run a CLI command in-process as the request's principal, output captured;
  long work as deployment runs.
- :func:`serve`: run the app under uvicorn on 127.0.0.1 (one or several processes).
"""

from __future__ import annotations

from typing import Any

from lakeward.server._app import create_app

__all__ = ["create_app", "serve"]


def serve(host: str | None = None, port: int | None = None) -> None:
    """Serve the API until interrupted.

    uvicorn with uvloop and httptools, no access log (it would log query strings), bound
    before it starts so ``--port 0`` can report the port it got. With
    ``LAKEWARD_SERVER_PROCESSES`` > 1, that many processes share the socket.
    """
    import socket

    import uvicorn

    from lakeward.settings import get_settings

    settings = get_settings().server
    host = host or settings.host
    port = settings.port if port is None else port
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)  # connections queue from now on, before uvicorn starts accepting
    bound = sock.getsockname()[1]
    options: dict[str, Any] = {
        "log_level": "warning",
        "access_log": False,
        "lifespan": "off",
        "timeout_keep_alive": 30,
        "loop": "auto",
        "http": "auto",
    }
    if settings.processes > 1:
        from uvicorn.supervisors import Multiprocess

        config = uvicorn.Config(
            "lakeward.server:create_app", factory=True, workers=settings.processes, **options
        )
        announce(host, bound)
        Multiprocess(config, sockets=[sock]).run()
        return
    config = uvicorn.Config(create_app(), **options)
    announce(host, bound)
    uvicorn.Server(config).run(sockets=[sock])


def announce(host: str, port: int) -> None:
    """The line clients and tests wait for (on the real stderr, which requests never own)."""
    import sys

    print(f"lakeward server listening on http://{host}:{port}", file=sys.__stderr__, flush=True)
