"""The CLI's acting principal: authenticated once per command, never taken from a flag."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lakeward.catalog import Catalog
    from lakeward.identity import Principal

__all__ = ["catalog_and_me", "me"]


def me(catalog: Catalog | None = None) -> Principal:
    """Who runs this command, bound for the rest of it.

    The bound principal (at the server, the request's), else the service credential or the
    OS user; every library call the command makes is checked against it.

    Raises:
        NotAuthenticated: the caller cannot be authenticated.
    """
    import click

    from lakeward.identity import bound_principal, current_principal
    from lakeward.identity._principal import _bound

    principal = bound_principal()
    if principal is None:
        principal = current_principal(catalog)
        token = _bound.set(principal)
        ctx = click.get_current_context(silent=True)
        if ctx is not None:  # unbound when the command ends, however it was invoked
            ctx.find_root().call_on_close(lambda: _bound.reset(token))
    return principal


def catalog_and_me() -> tuple[Catalog, str]:
    """The shared catalog and the name of who runs this command (:func:`me`)."""
    from lakeward.catalog import Catalog

    catalog = Catalog.shared()
    return catalog, me(catalog).name
