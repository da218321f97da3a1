"""Who is calling: API tokens and OIDC bearer JWTs, mapped to principals of the bundle."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import OperationalError as SAOperationalError

from lakeward.errors import CatalogUnavailable, NotAuthenticated
from lakeward.identity import Principal

if TYPE_CHECKING:
    from lakeward.catalog import Catalog
    from lakeward.identity._tokens import TokenStore
    from lakeward.settings import ServerSettings

__all__ = ["Authenticator"]


class Authenticator:
    """Verifies a bearer credential against the token store or the configured OIDC issuer."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self._tokens: TokenStore | None = None
        self._oidc = None
        if settings.oidc_issuer:
            from lakeward.identity._oidc import OIDCVerifier

            if not (settings.oidc_audience and settings.oidc_jwks_url):
                from lakeward.errors import ConfigurationError

                raise ConfigurationError(
                    "LAKEWARD_SERVER_OIDC_ISSUER needs LAKEWARD_SERVER_OIDC_AUDIENCE and "
                    "LAKEWARD_SERVER_OIDC_JWKS_URL too.",
                    setting="LAKEWARD_SERVER_OIDC_ISSUER",
                )
            self._oidc = OIDCVerifier(
                settings.oidc_issuer,
                settings.oidc_audience,
                settings.oidc_jwks_url,
                subject_claim=settings.oidc_subject_claim,
            )

    @property
    def catalog(self) -> Catalog:
        """The catalog, opened (and migrated) on first success.

        A server started while its database is down serves 503 until the database answers.

        Raises:
            CatalogUnavailable: the database cannot be reached.
        """
        from lakeward.catalog import Catalog

        return Catalog.shared()

    def authenticate(self, credential: str) -> Principal:
        """The principal a bearer credential authenticates.

        Raises:
            NotAuthenticated: the credential is missing, malformed, expired, revoked, badly
                signed, or names no principal of the active bundle.
            CatalogUnavailable: the catalog cannot be reached (nothing was decided).
        """
        try:
            return self._authenticate(credential)
        except (SAOperationalError, DBAPIError) as exc:
            raise CatalogUnavailable(
                f"The catalog database cannot be reached ({type(exc).__name__}); try again."
            ) from None

    def _authenticate(self, credential: str) -> Principal:
        from lakeward.identity._tokens import TokenStore
        from lakeward.policy import engine_for

        try:
            bundle = engine_for(self.catalog).bundle
        except (SAOperationalError, DBAPIError, CatalogUnavailable):
            raise
        except Exception as exc:
            raise NotAuthenticated(
                f"Cannot authenticate anyone: the policy bundle does not load ({exc})."
            ) from None
        if credential.startswith("lkw_"):
            catalog = self.catalog
            if self._tokens is None or self._tokens.catalog is not catalog:
                self._tokens = TokenStore.for_catalog(catalog)
            return self._tokens.principal(credential, mode="server", known=bundle.users)
        if self._oidc is None:
            raise NotAuthenticated(
                "Not an API token (lkw_…), and no OIDC issuer is configured at this server."
            )
        issuer, subject = self._oidc.subject(credential)
        name = bundle.oidc_subjects.get(subject)
        if name is None or name not in bundle.users:
            raise NotAuthenticated(
                f"OIDC subject {subject!r} is not mapped to a principal: an admin lists it under "
                "the principal's `oidc_subjects:` in principals.yaml."
            )
        return Principal(name, bundle.users[name], "server", f"oidc:{issuer}#{subject}")

    def readiness(self) -> list[str]:
        """What keeps the server from serving: the catalog or the policy bundle."""
        from lakeward.policy import engine_for

        problems = []
        try:
            self.catalog.ping()
        except CatalogUnavailable as exc:
            return [f"catalog: {exc}"]
        try:
            engine_for(self.catalog)
        except Exception as exc:
            problems.append(f"policy bundle: {exc}")
        return problems
