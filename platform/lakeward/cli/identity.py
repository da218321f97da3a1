"""``lakeward whoami`` and ``lakeward token``: who you are, and admin-issued API tokens.

``whoami --json`` prints ``{"principal", "groups", "mode"}``. ``token issue PRINCIPAL
[--expires DAYS] --json`` (admins: ``policy.admin``) prints ``{"principal", "token",
"expires"}`` once; the token is never shown again (the catalog keeps a salted HMAC).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from lakeward.cli._output import emit_json, table

if TYPE_CHECKING:
    from lakeward.catalog import Catalog

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.command()
@json_option
def whoami(as_json: bool) -> None:
    """The principal you act as, its groups, and the mode (embedded or server)."""
    from lakeward.cli._identity import me

    principal = me()
    data = principal.to_dict()
    if principal.mode == "service":
        data["mode"] = "embedded"  # a worker's credential, verified in-process
    if as_json:
        emit_json(data)
    else:
        click.echo(f"{data['principal']} ({', '.join(data['groups'])}) [{data['mode']}]")


@click.group()
def token() -> None:
    """API tokens for `lakeward server` (admins only): issue, list, revoke."""


def _caller() -> tuple[Catalog, str]:
    """The catalog and who runs the command (the token store decides ``policy.admin``)."""
    from lakeward.catalog import Catalog
    from lakeward.cli._identity import me

    catalog = Catalog.shared()
    return catalog, me(catalog).name


@token.command("issue")
@click.argument("principal")
@click.option(
    "--expires", "days", type=float, default=30.0, show_default=True, help="Days until it expires."
)
@json_option
def token_issue(principal: str, days: float, as_json: bool) -> None:
    """Issue a token for PRINCIPAL; it is printed once and never again."""
    from lakeward.identity._tokens import TokenStore

    catalog, admin = _caller()
    issued = TokenStore.for_catalog(catalog).issue(principal, expires_days=days, created_by=admin)
    if as_json:
        emit_json(issued.to_dict())
    else:
        click.echo(issued.token)
        click.echo(
            f"token {issued.token_id} for {principal}, expires {issued.expires.isoformat()}; "
            "it is not shown again",
            err=True,
        )


@token.command("list")
@json_option
def token_list(as_json: bool) -> None:
    """Every token's id, principal, state and expiry (never the secret)."""
    from lakeward.identity._tokens import TokenStore
    from lakeward.policy import guard

    catalog, admin = _caller()
    guard(catalog, admin, "policy.admin", "platform")
    rows = [t.to_dict() for t in TokenStore.for_catalog(catalog).list()]
    if as_json:
        emit_json(rows)
        return
    table(
        ["token_id", "principal", "state", "expires_at", "created_by", "last_used_at"],
        [
            [
                r["token_id"],
                r["principal"],
                r["state"],
                r["expires_at"],
                r["created_by"],
                r["last_used_at"],
            ]
            for r in rows
        ],
    )


@token.command("revoke")
@click.argument("token_id")
@json_option
def token_revoke(token_id: str, as_json: bool) -> None:
    """Revoke a token (by id, or the token itself); it stops working at once."""
    from lakeward.identity._tokens import TokenStore

    catalog, admin = _caller()
    info = TokenStore.for_catalog(catalog).revoke(token_id, by=admin)
    if as_json:
        emit_json(info.to_dict())
    else:
        click.echo(f"token {info.token_id} of {info.principal} revoked")
