"""Admin-issued API tokens: ``lkw_<token_id>_<secret>``, salted HMACs under a pepper.

A token is shown once, when it is issued. The catalog keeps only its id, its principal, a
random salt and ``HMAC-SHA256(pepper, salt || secret)``; the pepper (32 random bytes) lives
in ``<home>/keys/token-pepper.key``, outside the catalog, so a copy of the database alone
cannot test guesses. Every token expires (at most 366 days) and can be revoked; both are
checked against the database on every use, so a revoked token stops working at once, in
every process sharing the catalog.

The secret never appears in a log line, an error message or a ``repr``: only the token id.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from sqlalchemy import or_, select, update
from sqlalchemy.exc import OperationalError

from lakeward.catalog import ApiToken
from lakeward.catalog._models import utcnow
from lakeward.errors import ConfigurationError, InputError, NotAuthenticated, NotFound
from lakeward.identity._principal import Mode, Principal

if TYPE_CHECKING:
    from lakeward.catalog import Catalog

__all__ = [
    "MAX_EXPIRES_DAYS",
    "PEPPER_FILE",
    "IssuedToken",
    "TokenInfo",
    "TokenState",
    "TokenStore",
    "load_pepper",
]

TokenState = Literal["active", "expired", "revoked"]

#: The longest lifetime a token may be issued with.
MAX_EXPIRES_DAYS = 366
#: The pepper's file name under ``<home>/keys``.
PEPPER_FILE = "token-pepper.key"
_PEPPER_BYTES = 32
_PREFIX = "lkw_"
_TOKEN_RE = re.compile(r"lkw_([0-9a-f]{16})_([A-Za-z0-9_-]{40,128})")
_TOKEN_ID_RE = re.compile(r"[0-9a-f]{16}")
_TOUCH_EVERY = timedelta(minutes=1)
_peppers: dict[Path, bytes] = {}
_peppers_lock = threading.Lock()


def _aware(value: datetime) -> datetime:
    """``value`` as aware UTC (SQLite hands back naive UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _aware_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else _aware(value)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else _aware(value).isoformat()


def load_pepper(home: Path) -> bytes:
    """The token pepper in ``<home>/keys/token-pepper.key``, created on first use.

    Created once, 32 random bytes with mode 0600 from creation, published atomically
    (:func:`lakeward._secret_files.load_secret_file`).

    Raises:
        ConfigurationError: the pepper file is readable or writable by group or others, is
            not a regular file (e.g. a symbolic link), or is damaged.
    """
    from lakeward._secret_files import load_secret_file

    return load_secret_file(
        home / "keys" / PEPPER_FILE,
        size=_PEPPER_BYTES,
        what="the token pepper",
        lost="if it is lost, delete it and issue new tokens (every existing token stops working).",
    )


def _cached_pepper(home: Path) -> bytes:
    home = home.resolve()
    with _peppers_lock:
        pepper = _peppers.get(home)
        if pepper is None:
            pepper = _peppers[home] = load_pepper(home)
        return pepper


def _parse(token: str) -> tuple[str, str]:
    """``(token_id, secret)`` of a well-formed token.

    Raises:
        NotAuthenticated: ``token`` is not of the form ``lkw_<16 hex>_<secret>``.
    """
    match = _TOKEN_RE.fullmatch(token.strip()) if isinstance(token, str) else None
    if match is None:
        raise NotAuthenticated(
            "Malformed API token: expected `lkw_<id>_<secret>` as printed by "
            "`lakeward token issue`.",
            reasons=["malformed token"],
        )
    return match.group(1), match.group(2)


def _token_id_of(token_or_id: str) -> str:
    """The token id in a bare id or in a full token (whose secret is not checked).

    Raises:
        InputError: neither a token id nor a token.
    """
    text = token_or_id.strip() if isinstance(token_or_id, str) else ""
    if _TOKEN_ID_RE.fullmatch(text):
        return text
    if text.startswith(_PREFIX):
        token_id = text[len(_PREFIX) :].split("_", 1)[0]
        if _TOKEN_ID_RE.fullmatch(token_id):
            return token_id
    raise InputError(
        "Not an API token id (16 hex digits) nor a token (`lkw_<id>_<secret>`); "
        "`lakeward token list` shows the ids."
    )


@dataclass(frozen=True)
class IssuedToken:
    """A freshly issued token: the only time its text is available.

    Attributes:
        principal: who the token authenticates as.
        token: the token text (``lkw_<token_id>_<secret>``); hidden from ``repr``.
        token_id: the token's public id (for listing and revoking).
        expires: when it stops working (aware UTC).
    """

    principal: str
    token: str = field(repr=False)
    token_id: str
    expires: datetime

    def to_dict(self) -> dict[str, Any]:
        """``lakeward token issue --json``: the token text included, shown this once."""
        return {
            "principal": self.principal,
            "token": self.token,
            "token_id": self.token_id,
            "expires": _aware(self.expires).isoformat(),
        }


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown about a stored token (never its digest, salt or secret).

    Attributes:
        token_id: the token's public id.
        principal: who it authenticates as.
        created_by: who issued it.
        created_at: when it was issued.
        expires_at: when it stops working.
        revoked_at: when it was revoked, if it was.
        last_used_at: its last successful use (to the minute), if any.
        state: ``active``, ``expired`` or ``revoked`` (revocation wins over expiry).
        revoked_by: who revoked it, if anyone.
    """

    token_id: str
    principal: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    state: TokenState
    revoked_by: str | None = None

    @classmethod
    def from_row(cls, row: ApiToken, *, now: datetime | None = None) -> TokenInfo:
        """The public view of a stored token, its state as of ``now``."""
        now = _aware(now or utcnow())
        expires_at = _aware(row.expires_at)
        state: TokenState
        if row.revoked_at is not None:
            state = "revoked"
        elif now >= expires_at:
            state = "expired"
        else:
            state = "active"
        return cls(
            token_id=row.token_id,
            principal=row.principal,
            created_by=row.created_by,
            created_at=_aware(row.created_at),
            expires_at=expires_at,
            revoked_at=_aware_or_none(row.revoked_at),
            last_used_at=_aware_or_none(row.last_used_at),
            state=state,
            revoked_by=row.revoked_by,
        )

    def to_dict(self) -> dict[str, Any]:
        """``lakeward token list --json``: ISO 8601 times, no secret material."""
        return {
            "token_id": self.token_id,
            "principal": self.principal,
            "state": self.state,
            "created_by": self.created_by,
            "created_at": _iso(self.created_at),
            "expires_at": _iso(self.expires_at),
            "revoked_at": _iso(self.revoked_at),
            "revoked_by": self.revoked_by,
            "last_used_at": _iso(self.last_used_at),
        }


class TokenStore:
    """The API tokens of one catalog, checked under one pepper."""

    def __init__(self, catalog: Catalog, pepper: bytes) -> None:
        if len(pepper) < 16:
            raise ConfigurationError("The token pepper is too short (need at least 16 bytes).")
        self.catalog = catalog
        self._pepper = pepper

    def __repr__(self) -> str:
        return f"TokenStore({self.catalog.engine.url.render_as_string(hide_password=True)})"

    @classmethod
    def for_catalog(cls, catalog: Catalog) -> TokenStore:
        """The store of ``catalog`` with the pepper under the configured ``LAKEWARD_HOME``.

        Raises:
            ConfigurationError: the pepper file is unsafe or damaged.
        """
        from lakeward.settings import get_settings

        return cls(catalog, _cached_pepper(get_settings().home))

    def _digest(self, salt: bytes, secret: str) -> str:
        return hmac.new(self._pepper, salt + secret.encode("ascii"), hashlib.sha256).hexdigest()

    def issue(
        self,
        principal: str,
        *,
        expires_days: float = 30,
        created_by: str,
        known_principals: Collection[str] | None = None,
    ) -> IssuedToken:
        """Issue a token for ``principal`` valid for ``expires_days``; its text is shown once.

        Args:
            principal: who the token authenticates as; must be a user in the active bundle.
            expires_days: lifetime in days, more than 0 and at most 366 (fractions allowed).
            created_by: the (authenticated) principal issuing it, recorded.
            known_principals: the users of the bundle (default: the active one's).

        ``created_by`` must hold ``policy.admin`` (decided and audited here); the issue is
        audited with the token's id (never its secret).

        Raises:
            PolicyDenied: ``created_by`` may not administer.
            InputError: unknown principal, or an invalid lifetime.
        """
        from lakeward.policy import guard

        guard(self.catalog, created_by, "policy.admin", "platform")
        if known_principals is None:
            from lakeward.policy import engine_for

            known_principals = engine_for(self.catalog).bundle.users
        if principal not in known_principals:
            raise InputError(
                f"Unknown principal {principal!r}: add it under `users:` in principals.yaml and "
                "apply the bundle with `lakeward policy apply`, then issue the token."
            )
        if not created_by:
            raise InputError("created_by must name the principal issuing the token.")
        if (
            isinstance(expires_days, bool)
            or not isinstance(expires_days, int | float)
            or not math.isfinite(expires_days)
            or not 0 < expires_days <= MAX_EXPIRES_DAYS
        ):
            raise InputError(
                f"Token lifetime must be more than 0 and at most {MAX_EXPIRES_DAYS} days "
                f"(got {expires_days!r}); every token expires."
            )
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        now = utcnow()
        expires = now + timedelta(days=float(expires_days))
        with self.catalog.session(immediate=True) as session:
            token_id = secrets.token_hex(8)
            while session.get(ApiToken, token_id) is not None:  # pragma: no cover - 2**-64
                token_id = secrets.token_hex(8)
            session.add(
                ApiToken(
                    token_id=token_id,
                    principal=principal,
                    salt=salt.hex(),
                    digest=self._digest(salt, secret),
                    created_by=created_by,
                    created_at=now,
                    expires_at=expires,
                )
            )
        self._audit(created_by, "token.issue", token_id, principal, expires)
        return IssuedToken(principal, f"{_PREFIX}{token_id}_{secret}", token_id, expires)

    def _audit(
        self, by: str, action: str, token_id: str, principal: str, expires: datetime | None
    ) -> None:
        from lakeward.catalog import AuditLog

        AuditLog(self.catalog)._append(
            principal=by,
            action=action,
            resource=f"token:{token_id}",
            decision="allow",
            reasons=[f"{action} for {principal}"],
            request={
                "token_id": token_id,
                "principal": principal,
                "expires": _iso(expires) if expires else None,
            },
        )

    def list(self) -> list[TokenInfo]:
        """Every stored token (active, expired and revoked), newest first."""
        now = utcnow()
        with self.catalog.session() as session:
            rows = session.scalars(
                select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.token_id)
            ).all()
            return [TokenInfo.from_row(row, now=now) for row in rows]

    def get(self, token_id: str) -> TokenInfo:
        """The stored token with this id (or the id in a full token).

        Raises:
            InputError: not a token id.
            NotFound: no such token.
        """
        token_id = _token_id_of(token_id)
        with self.catalog.session() as session:
            row = session.get(ApiToken, token_id)
            if row is None:
                raise NotFound(f"No API token {token_id}; `lakeward token list` shows them.")
            return TokenInfo.from_row(row)

    def revoke(self, token_id: str, *, by: str) -> TokenInfo:
        """Revoke a token, by id or full text; it stops working at once everywhere.

        Revoking a revoked token changes nothing (the first revocation is kept). ``by`` must
        hold ``policy.admin`` (decided and audited here).

        Raises:
            PolicyDenied: ``by`` may not administer.
            InputError: not a token id nor a token.
            NotFound: no such token.
        """
        from lakeward.policy import guard

        token_id = _token_id_of(token_id)
        guard(self.catalog, by, "policy.admin", "platform")
        with self.catalog.session(immediate=True) as session:
            row = session.get(ApiToken, token_id, with_for_update=True)
            if row is None:
                raise NotFound(f"No API token {token_id}; `lakeward token list` shows them.")
            changed = row.revoked_at is None
            if changed:
                row.revoked_at = utcnow()
                row.revoked_by = by
                session.flush()
            info = TokenInfo.from_row(row)
        if changed:
            self._audit(by, "token.revoke", token_id, info.principal, None)
        return info

    def authenticate(self, token: str) -> str:
        """The principal ``token`` authenticates as; checked against the catalog every call.

        Raises:
            NotAuthenticated: the token is malformed, unknown, wrong, revoked or expired.
        """
        token_id, secret = _parse(token)
        now = utcnow()
        with self.catalog.engine.connect() as conn:  # one indexed read; no ORM identity map
            row = conn.execute(
                select(
                    ApiToken.digest,
                    ApiToken.salt,
                    ApiToken.revoked_at,
                    ApiToken.expires_at,
                    ApiToken.last_used_at,
                    ApiToken.principal,
                ).where(ApiToken.token_id == token_id)
            ).first()
            if row is None:
                self._digest(b"\x00" * 16, secret)  # same work as a known id
                raise NotAuthenticated(
                    f"Unknown API token {token_id}: it was never issued here (or this catalog "
                    "is not the one that issued it).",
                    reasons=[f"unknown token {token_id}"],
                )
            expected = str(row.digest)
            salt = bytes.fromhex(row.salt)
            revoked_at = _aware_or_none(row.revoked_at)
            expires_at = _aware(row.expires_at)
            last_used = _aware_or_none(row.last_used_at)
            principal = str(row.principal)
        if not hmac.compare_digest(self._digest(salt, secret), expected):
            raise NotAuthenticated(
                f"Invalid API token {token_id}: the secret does not match. Use the token exactly "
                "as `lakeward token issue` printed it.",
                reasons=[f"bad secret for token {token_id}"],
            )
        if revoked_at is not None:
            raise NotAuthenticated(
                f"API token {token_id} was revoked at {revoked_at.isoformat()}; ask an admin "
                "for a new one.",
                reasons=[f"revoked token {token_id}"],
            )
        if now >= expires_at:
            raise NotAuthenticated(
                f"API token {token_id} expired at {expires_at.isoformat()}; ask an admin for a "
                "new one.",
                reasons=[f"expired token {token_id}"],
            )
        if last_used is None or now - last_used >= _TOUCH_EVERY:
            self._touch(token_id, now)
        return principal

    def _touch(self, token_id: str, now: datetime) -> None:
        """Record a use, at most once a minute per token (a conditional update)."""
        try:
            with self.catalog.session() as session:
                session.execute(
                    update(ApiToken)
                    .where(
                        ApiToken.token_id == token_id,
                        or_(
                            ApiToken.last_used_at.is_(None),
                            ApiToken.last_used_at <= now - _TOUCH_EVERY,
                        ),
                    )
                    .values(last_used_at=now)
                )
        except OperationalError:  # a busy or read-only catalog must not refuse a valid token
            pass

    def principal(
        self, token: str, *, mode: str, known: Mapping[str, tuple[str, ...]] | None = None
    ) -> Principal:
        """Authenticate ``token`` and build its :class:`Principal` with its current groups.

        Args:
            token: the API token text.
            mode: ``server`` (a request to ``lakeward server``) or ``service`` (a worker).
            known: principal name → groups; default: the users of the active policy bundle.

        Raises:
            NotAuthenticated: the token does not authenticate, or its principal is no longer
                a user of the active bundle.
        """
        if mode not in get_args(Mode):
            raise InputError(f"mode must be one of {', '.join(get_args(Mode))}, not {mode!r}.")
        name = self.authenticate(token)
        token_id = _parse(token)[0]
        if known is None:
            from lakeward.policy import engine_for

            try:
                known = engine_for(self.catalog).bundle.users
            except Exception as exc:
                raise NotAuthenticated(
                    f"Cannot check API token {token_id}: the policy bundle does not load ({exc}).",
                    reasons=["policy bundle does not load"],
                ) from exc
        if name not in known:
            raise NotAuthenticated(
                f"API token {token_id} is a token for unknown principal {name!r}: it is no "
                "longer a user in the active principals.yaml. An admin re-adds the user or "
                "revokes the token.",
                reasons=[f"token for unknown principal {name!r}"],
            )
        return Principal(name, tuple(known[name]), cast(Mode, mode), f"token:{token_id}")
