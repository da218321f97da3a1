"""``lakeward server``: run the authenticated API on 127.0.0.1 (the trust boundary)."""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default=None, help="Interface to bind (default LAKEWARD_SERVER_HOST).")
@click.option(
    "--port", type=int, default=None, help="Port (default LAKEWARD_SERVER_PORT; 0: any free one)."
)
def server(host: str | None, port: int | None) -> None:
    """Serve the Lakeward API; configured by the same LAKEWARD_* settings as the CLI.

    It holds the catalog credentials and lake secrets; clients set LAKEWARD_SERVER_URL and a
    token. GET /healthz answers 200 once it serves. Put TLS in front (a reverse proxy) for
    anything beyond 127.0.0.1.
    """
    from lakeward.server import serve

    serve(host, port)
