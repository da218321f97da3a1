"""Who is acting: the authenticated :class:`Principal` and how it is bound to the work.

A principal is never a name typed by the caller. It comes from one of:

- **embedded mode** (no server): the operating-system user of this process (its effective
  uid, not ``$USER``), mapped through ``os_users`` in ``principals.yaml``;
- **a service credential**: a worker or scheduled deployment holding ``LAKEWARD_TOKEN``
  (or the credentials file) verified against the token store in the catalog;
- **the server**: a request's API token or OIDC JWT, verified by ``lakeward server``, which
  binds the principal for the request with :func:`acting_as`.

While a principal is bound, the policy guard refuses any privileged call made in another
principal's name ("acting on another's behalf"), audited. Library calls made with nothing
bound (a Python user in embedded mode) are trusted for the name they pass: embedded mode
protects against mistakes, not against a local user who can open the catalog file anyway.
"""

from __future__ import annotations

import contextvars
import os
import pwd
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from lakeward.errors import NotAuthenticated

if TYPE_CHECKING:
    from lakeward.catalog import Catalog

__all__ = [
    "Principal",
    "acting_as",
    "bound_principal",
    "current_principal",
    "embedded_principal",
    "os_user",
]

Mode = Literal["embedded", "server", "service"]


@dataclass(frozen=True)
class Principal:
    """An authenticated principal.

    Attributes:
        name: the principal's name in ``principals.yaml``.
        groups: its groups in the active bundle.
        mode: ``embedded`` (OS user), ``server`` (a request to ``lakeward server``) or
            ``service`` (a worker holding a service credential).
        authenticated_by: how, e.g. ``os-user:alice``, ``token:4f2c…``, ``oidc:<iss>#<sub>``.
        requested_by: for work a service runs on someone's behalf, who asked (recorded in
            the audit log, never used for decisions).
    """

    name: str
    groups: tuple[str, ...] = ()
    mode: Mode = "embedded"
    authenticated_by: str = ""
    requested_by: str | None = None

    def on_behalf_of(self, requester: str | None) -> Principal:
        """The same principal, recording who requested the work."""
        return replace(self, requested_by=requester)

    def audit_fields(self) -> dict[str, Any]:
        """What the audit log records about how this principal was authenticated."""
        data: dict[str, Any] = {"mode": self.mode, "authenticated_by": self.authenticated_by}
        if self.requested_by:
            data["requested_by"] = self.requested_by
        return data

    def to_dict(self) -> dict[str, Any]:
        """``lakeward whoami --json``."""
        return {"principal": self.name, "groups": list(self.groups), "mode": self.mode}


_bound: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "lakeward_principal", default=None
)


def bound_principal() -> Principal | None:
    """The principal bound to the current context (request, CLI command, flow), if any."""
    return _bound.get()


@contextmanager
def acting_as(principal: Principal) -> Iterator[Principal]:
    """Bind an *authenticated* principal for the duration of a block.

    Only authentication code calls this: the server after verifying a token, the CLI after
    resolving the OS user or the service credential, tests that stand in for either.
    """
    token = _bound.set(principal)
    try:
        yield principal
    finally:
        _bound.reset(token)


def os_user() -> str:
    """The effective OS user of this process (not ``$USER``, which any caller can set)."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def embedded_principal(catalog: Catalog) -> Principal:
    """The principal the OS user acts as, through the active bundle's ``os_users``.

    Raises:
        NotAuthenticated: the OS user is not mapped, or the bundle cannot be loaded.
    """
    from lakeward.policy import engine_for

    user = os_user()
    try:
        bundle = engine_for(catalog).bundle
    except Exception as exc:
        raise NotAuthenticated(
            f"Cannot tell who you are: the policy bundle does not load ({exc})."
        ) from exc
    name = bundle.principal_for_os_user(user)
    if name is None or name not in bundle.users:
        raise NotAuthenticated(
            f"OS user {user!r} is not mapped to a principal. An admin adds it under the "
            f"principal's `os_users:` list in principals.yaml (e.g. `os_users: [{user}]`) and "
            "applies the bundle with `lakeward policy apply`.",
            reasons=[f"unmapped OS user {user!r}"],
        )
    return Principal(name, bundle.users[name], "embedded", f"os-user:{user}")


def current_principal(catalog: Catalog | None = None) -> Principal:
    """The authenticated principal for this call: bound, service credential, or OS user.

    In order: a principal already bound (server request, CLI command); else a service
    credential (``LAKEWARD_TOKEN`` or the credentials file) when no server is configured,
    verified against the catalog's token store (Prefect workers); else the OS user.

    Raises:
        NotAuthenticated: no way to authenticate succeeded.
    """
    bound = _bound.get()
    if bound is not None:
        return bound
    from lakeward.catalog import Catalog
    from lakeward.identity._credentials import local_token

    catalog = catalog or Catalog.shared()
    token = local_token()
    if token is not None:
        from lakeward.identity._tokens import TokenStore

        return TokenStore.for_catalog(catalog).principal(token, mode="service")
    return embedded_principal(catalog)
