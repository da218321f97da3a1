"""Who a flow run acts as: the worker's authenticated principal, never a parameter.

A scheduled deployment's worker holds a service credential (``LAKEWARD_TOKEN`` or the
credentials file, verified against the catalog's token store); a flow run in embedded mode
(``make demo``) acts as the OS user's principal. ``requested_by`` (who asked for the run:
``lakeward server`` passes the requesting principal) is recorded in every audit record the
run writes once the run binds it (not yet: see run_principal), never used for a decision.
"""

from __future__ import annotations

from lakeward.catalog import Catalog
from lakeward.identity import Principal, current_principal

__all__ = ["run_principal"]


def run_principal(requested_by: str | None = None) -> Principal:
    """Authenticate the run's principal (with ``requested_by`` attached).

    Raises:
        NotAuthenticated: the worker's credential is missing, expired or revoked, or the OS
            user is not mapped.
    """
    principal = current_principal(Catalog.shared())
    if requested_by and requested_by != principal.requested_by:
        principal = principal.on_behalf_of(requested_by)
    # Not bound into the caller's context: a flow called in-process (tests, `lakeward demo`)
    # would leave it bound after returning. The run passes the name to every library call.
    return principal
