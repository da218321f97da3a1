"""Identity: who is acting, authenticated, never a name typed in a flag.

- ``_principal``: :class:`Principal`, :func:`current_principal` (bound request principal,
  else a service credential, else the OS user through ``principals.yaml``'s ``os_users``),
  :func:`acting_as` (binds an authenticated principal; used by the server and the CLI).
- ``_credentials``: where a client finds ``LAKEWARD_SERVER_URL`` and its token.
- ``_tokens``: admin-issued API tokens (``lkw_<id>_<secret>``), stored as salted HMACs under
  a pepper outside the catalog, expiring and revocable.
- ``_oidc``: OIDC bearer JWT verification against a configured issuer's JWKS.
"""

from lakeward.identity._credentials import credentials_file, local_token, server_url
from lakeward.identity._principal import (
    Principal,
    acting_as,
    bound_principal,
    current_principal,
    embedded_principal,
    os_user,
)

__all__ = [
    "Principal",
    "acting_as",
    "bound_principal",
    "credentials_file",
    "current_principal",
    "embedded_principal",
    "local_token",
    "os_user",
    "server_url",
]
