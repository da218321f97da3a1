"""OIDC bearer JWTs: verified against one configured issuer's JWKS.

A JWT is accepted only when, in order:

1. its header names an algorithm from the explicit allowlist (asymmetric only: never
   ``none``, never ``HS*``, so a public key can never be used as an HMAC secret) and a key id;
2. its *unverified* ``iss`` is the configured issuer: tokens from anyone else never make
   this process fetch anything;
3. the key id is in the issuer's JWKS (fetched from the configured URL only, cached for five
   minutes) and that key is of the algorithm's family;
4. the signature verifies and ``exp``, ``iat``, ``iss``, ``aud`` and ``sub`` are present and
   valid (with a small leeway for clock skew), and the subject claim is a non-empty string.

Every failure raises :class:`~lakeward.errors.NotAuthenticated` naming what was wrong; the
token itself is never echoed.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

import jwt

from lakeward.errors import InputError, NotAuthenticated

__all__ = ["ALLOWED_ALGORITHMS", "OIDCVerifier"]

#: Asymmetric JWS algorithms a verifier may be configured with, and their key type.
ALLOWED_ALGORITHMS: dict[str, str] = {
    "RS256": "RSA",
    "RS384": "RSA",
    "RS512": "RSA",
    "PS256": "RSA",
    "PS384": "RSA",
    "PS512": "RSA",
    "ES256": "EC",
    "ES384": "EC",
    "ES512": "EC",
    "EdDSA": "OKP",
}
_REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
_JWKS_TIMEOUT_S = 10.0


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _shown(value: Any, limit: int = 80) -> str:
    """A short ``repr`` of an attacker-supplied value for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _why(exc: Exception, token: str) -> str:
    """``exc``'s message, unless it quotes any part of the token (then only its type)."""
    message = str(exc)
    parts = [token, *(part for part in token.split(".") if len(part) >= 8)]
    if not message or any(part in message for part in parts):
        return type(exc).__name__
    return message


def _denied(reason: str, detail: str) -> NotAuthenticated:
    return NotAuthenticated(f"OIDC token rejected: {detail}", reasons=[reason])


class OIDCVerifier:
    """Verifies bearer JWTs of one OIDC issuer and returns their subject."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        jwks_url: str,
        *,
        subject_claim: str = "sub",
        algorithms: Sequence[str] = ("RS256", "ES256"),
        leeway_s: float = 60,
    ) -> None:
        """Configure the verifier (nothing is fetched until the first token).

        Args:
            issuer: the exact ``iss`` accepted.
            audience: the ``aud`` required (this service's client id).
            jwks_url: the issuer's JWKS URL; ``https``, or ``http`` on a loopback address.
            subject_claim: the claim whose value identifies the caller.
            algorithms: the accepted signature algorithms, asymmetric only.
            leeway_s: clock skew tolerated on ``exp``, ``iat`` and ``nbf`` (0 to 300 s).

        Raises:
            InputError: an empty setting, a disallowed algorithm, a bad leeway or JWKS URL.
        """
        if not issuer or not audience or not subject_claim:
            raise InputError("OIDC issuer, audience and subject claim must not be empty.")
        algs = [algorithms] if isinstance(algorithms, str) else list(algorithms)
        bad = [a for a in algs if a not in ALLOWED_ALGORITHMS]
        if not algs or bad:
            raise InputError(
                f"OIDC algorithms {', '.join(map(repr, bad)) or '(none given)'} not allowed: use "
                f"asymmetric ones from {', '.join(ALLOWED_ALGORITHMS)} (never 'none' or HS*)."
            )
        if not math.isfinite(leeway_s) or not 0 <= leeway_s <= 300:
            raise InputError(f"OIDC leeway must be 0 to 300 seconds, not {leeway_s!r}.")
        url = urlparse(jwks_url)
        if url.scheme != "https" and not (url.scheme == "http" and _is_loopback(url.hostname)):
            raise InputError(
                f"OIDC JWKS URL {jwks_url!r} must be https:// (plain http only on a loopback "
                "address, for tests)."
            )
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url
        self.subject_claim = subject_claim
        self.algorithms = tuple(algs)
        self.leeway_s = float(leeway_s)
        self._jwks = jwt.PyJWKClient(
            jwks_url, cache_jwk_set=True, lifespan=300, timeout=_JWKS_TIMEOUT_S
        )

    def __repr__(self) -> str:
        return f"OIDCVerifier(issuer={self.issuer!r}, audience={self.audience!r})"

    def subject(self, token: str) -> tuple[str, str]:
        """``(issuer, subject)`` of a verified JWT (the subject is ``subject_claim``'s value).

        Raises:
            NotAuthenticated: malformed JWT, disallowed algorithm, wrong issuer or audience,
                unknown key id, JWKS unreachable, bad signature, expired or not yet valid,
                missing claim. The message says which; it never contains the token.
        """
        if not isinstance(token, str) or not token.strip():
            raise _denied("missing token", "no bearer token was given.")
        token = token.strip()
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise _denied("malformed JWT", f"not a well-formed JWT ({_why(exc, token)}).") from None
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise _denied(
                "algorithm not allowed",
                f"signature algorithm {_shown(alg)} is not allowed (allowed: "
                f"{', '.join(self.algorithms)}).",
            )
        issuer = unverified.get("iss")
        if issuer != self.issuer:
            raise _denied(
                "wrong issuer",
                f"wrong issuer {_shown(issuer)}; this server accepts tokens from "
                f"{self.issuer!r} only.",
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _denied("missing key id", "the JWT header has no key id (kid).")
        key = self._signing_key(kid)
        if key.key_type != ALLOWED_ALGORITHMS[alg]:
            raise _denied(
                "key type mismatch",
                f"key {_shown(kid)} is a {key.key_type} key; it cannot verify {alg} signatures.",
            )
        claims = self._verify(token, key, alg)
        value = claims.get(self.subject_claim)
        if not isinstance(value, str) or not value:
            raise _denied(
                "missing subject",
                f"claim {self.subject_claim!r} is missing or not a non-empty string.",
            )
        return self.issuer, value

    def _signing_key(self, kid: str) -> jwt.PyJWK:
        try:
            return self._jwks.get_signing_key(kid)
        except jwt.PyJWKClientConnectionError as exc:
            raise _denied(
                "JWKS unreachable",
                f"cannot fetch the issuer's keys from {self.jwks_url} ({exc}); try again later.",
            ) from None
        except (jwt.PyJWKClientError, jwt.PyJWKSetError, jwt.PyJWKError) as exc:
            message = str(exc)
            if "Unable to find a signing key" in message:
                raise _denied(
                    "unknown key id",
                    f"unknown key id {_shown(kid)}: it is not in the issuer's JWKS.",
                ) from None
            raise _denied(
                "JWKS unusable", f"the issuer's JWKS at {self.jwks_url} is unusable ({message})."
            ) from None

    def _verify(self, token: str, key: jwt.PyJWK, alg: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.InvalidSignatureError:
            raise _denied("bad signature", "bad signature.") from None
        except jwt.ExpiredSignatureError:
            raise _denied("expired", "the token has expired.") from None
        except jwt.InvalidAudienceError:
            raise _denied(
                "wrong audience", f"wrong audience; this server requires {self.audience!r}."
            ) from None
        except jwt.InvalidIssuerError:
            raise _denied(
                "wrong issuer", f"wrong issuer; this server accepts {self.issuer!r} only."
            ) from None
        except jwt.MissingRequiredClaimError as exc:
            raise _denied("missing claim", f"required claim {exc.claim!r} is missing.") from None
        except jwt.ImmatureSignatureError as exc:
            raise _denied(
                "not yet valid", f"the token is not valid yet ({_why(exc, token)})."
            ) from None
        except jwt.InvalidIssuedAtError as exc:
            raise _denied("invalid claim", f"invalid iat claim ({_why(exc, token)}).") from None
        except jwt.InvalidKeyError as exc:
            raise _denied(
                "unusable key", f"the issuer's key cannot verify it ({_why(exc, token)})."
            ) from None
        except jwt.PyJWTError as exc:
            raise _denied("invalid JWT", f"invalid JWT ({_why(exc, token)}).") from None
        return claims
