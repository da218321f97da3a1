"""Who a flow run acts as: the worker's authenticated principal, never a parameter.

A scheduled deployment's worker holds a service credential (``LAKEWARD_TOKEN`` or the
credentials file, verified against the catalog's token store); a flow run in embedded mode
(``make demo``) acts as the OS user's principal. ``requested_by`` (who asked for the run:
``lakeward server`` passes the requesting principal) is recorded in every audit record the
run writes, never used for a decision.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from lakeward.catalog import Catalog
from lakeward.identity import Principal, acting_as, bound_principal, current_principal

__all__ = ["run_as"]


@contextmanager
def run_as(requested_by: str | None = None) -> Iterator[Principal]:
    """Authenticate the run's principal and bind it, with ``requested_by``, for the block.

    The binding ends with the block, so a flow called in-process (tests, ``lakeward demo``)
    leaves its caller's context as it found it.

    Raises:
        NotAuthenticated: the worker's credential is missing, expired or revoked, or the OS
            user is not mapped.
    """
    principal = bound_principal() or current_principal(Catalog.shared())
    if requested_by and requested_by != principal.requested_by:
        principal = principal.on_behalf_of(requested_by)
    with acting_as(principal):
        yield principal
