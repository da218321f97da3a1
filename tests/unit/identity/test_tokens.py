"""API tokens: issue, authenticate, expire, revoke; the pepper file; no secret at rest."""

from __future__ import annotations

import math
import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from lakeward.catalog import ApiToken, Base, Catalog
from lakeward.catalog._models import utcnow
from lakeward.errors import ConfigurationError, InputError, NotAuthenticated, NotFound
from lakeward.identity import Principal
from lakeward.identity._tokens import (
    PEPPER_FILE,
    IssuedToken,
    TokenInfo,
    TokenStore,
    load_pepper,
)

KNOWN = {"alice": ("analysts",), "bob": ("analysts", "fraud_team"), "dave": ("admins",)}


@pytest.fixture
def store(catalog: Catalog) -> TokenStore:
    return TokenStore.for_catalog(catalog)


def _issue(store: TokenStore, principal: str = "alice", expires_days: float = 30) -> IssuedToken:
    return store.issue(
        principal, expires_days=expires_days, created_by="dave", known_principals=KNOWN
    )


def _secret(issued: IssuedToken) -> str:
    return issued.token.split("_", 2)[2]


def test_issue_then_authenticate_round_trip(store: TokenStore) -> None:
    issued = _issue(store, expires_days=7)
    assert issued.token.startswith(f"lkw_{issued.token_id}_")
    assert len(issued.token_id) == 16 and int(issued.token_id, 16) >= 0
    assert len(_secret(issued)) >= 43  # token_urlsafe(32): 256 bits
    assert issued.expires.tzinfo is not None
    assert timedelta(days=6.99) < issued.expires - utcnow() <= timedelta(days=7)
    assert store.authenticate(issued.token) == "alice"
    assert store.authenticate(f"  {issued.token}\n") == "alice"
    data = issued.to_dict()
    assert set(data) == {"principal", "token", "token_id", "expires"}
    assert data["token"] == issued.token and data["expires"] == issued.expires.isoformat()
    assert _secret(issued) not in repr(issued)


def test_principal_carries_groups_mode_and_token_id(store: TokenStore) -> None:
    issued = _issue(store, "bob")
    principal = store.principal(issued.token, mode="server", known=KNOWN)
    assert principal == Principal(
        "bob", ("analysts", "fraud_team"), "server", f"token:{issued.token_id}"
    )
    with pytest.raises(NotAuthenticated, match="unknown principal 'bob'"):
        store.principal(issued.token, mode="service", known={"alice": ()})
    with pytest.raises(InputError):
        store.principal(issued.token, mode="root", known=KNOWN)


def test_principal_defaults_to_the_active_bundle(store: TokenStore) -> None:
    issued = _issue(store, "alice")
    principal = store.principal(issued.token, mode="service")
    assert principal.name == "alice" and principal.mode == "service"
    assert "analysts" in principal.groups


def test_wrong_secret_is_refused_without_echoing_it(store: TokenStore) -> None:
    issued = _issue(store)
    secret = _secret(issued)
    forged = f"lkw_{issued.token_id}_{secret[:-1]}{'A' if secret[-1] != 'A' else 'B'}"
    with pytest.raises(NotAuthenticated, match="does not match") as info:
        store.authenticate(forged)
    assert issued.token_id in str(info.value)
    assert secret[:20] not in str(info.value) and forged[-20:] not in str(info.value)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "lkw_",
        "Bearer lkw_0123456789abcdef_" + "a" * 43,
        "lkw_0123456789ABCDEF_" + "a" * 43,  # id not lower-case hex
        "lkw_0123456789abcdef_short",
        "lkw_0123456789abcdef_" + "a" * 42 + "!",
        "xyz_0123456789abcdef_" + "a" * 43,
        "eyJhbGciOiJSUzI1NiJ9.e30.sig",
    ],
)
def test_malformed_tokens(store: TokenStore, token: str) -> None:
    with pytest.raises(NotAuthenticated, match="Malformed") as info:
        store.authenticate(token)
    if len(token) > 10:
        assert token not in str(info.value)


def test_unknown_token_id(store: TokenStore) -> None:
    issued = _issue(store)
    other = f"lkw_{'0' * 16}_{_secret(issued)}"
    with pytest.raises(NotAuthenticated, match="Unknown API token 0000000000000000") as info:
        store.authenticate(other)
    assert _secret(issued) not in str(info.value)


def test_expired_token(store: TokenStore, catalog: Catalog) -> None:
    issued = _issue(store)
    with catalog.session() as s:
        s.execute(
            update(ApiToken)
            .where(ApiToken.token_id == issued.token_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    with pytest.raises(NotAuthenticated, match="expired") as info:
        store.authenticate(issued.token)
    assert _secret(issued) not in str(info.value)
    assert [t.state for t in store.list()] == ["expired"]


def test_tiny_expiry_expires(store: TokenStore) -> None:
    issued = _issue(store, expires_days=1e-9)  # 86 microseconds
    with pytest.raises(NotAuthenticated, match="expired"):
        store.authenticate(issued.token)


@pytest.mark.parametrize("days", [0, -1, 366.01, 1000, math.nan, math.inf, -math.inf, True])
def test_lifetime_must_be_bounded(store: TokenStore, days: float) -> None:
    with pytest.raises(InputError, match="at most 366 days"):
        _issue(store, expires_days=days)
    assert store.list() == []


def test_maximum_lifetime_is_accepted(store: TokenStore) -> None:
    issued = _issue(store, expires_days=366)
    assert store.authenticate(issued.token) == "alice"


def test_unknown_principal_is_refused(store: TokenStore) -> None:
    with pytest.raises(InputError, match="principals.yaml"):
        _issue(store, "mallory")
    assert store.list() == []


def test_revoked_token_stops_at_once_in_another_instance(
    store: TokenStore, catalog: Catalog, catalog_url: str
) -> None:
    issued = _issue(store)
    keep = _issue(store, "bob")
    assert store.authenticate(issued.token) == "alice"
    other = Catalog.open(catalog_url)
    try:
        other_store = TokenStore.for_catalog(other)
        assert other_store.authenticate(issued.token) == "alice"
        info = other_store.revoke(issued.token_id, by="dave")
        assert info.state == "revoked" and info.revoked_by == "dave"
        with pytest.raises(NotAuthenticated, match="revoked") as exc:
            store.authenticate(issued.token)  # the first instance: no cache
        assert _secret(issued) not in str(exc.value)
        with pytest.raises(NotAuthenticated, match="revoked"):
            other_store.authenticate(issued.token)
        assert store.authenticate(keep.token) == "bob"
    finally:
        other.dispose()


def test_revoke_by_full_token_is_idempotent(store: TokenStore) -> None:
    issued = _issue(store)
    first = store.revoke(issued.token, by="dave")
    second = store.revoke(issued.token_id, by="dave")
    assert first.revoked_at is not None
    assert second.revoked_at == first.revoked_at and second.revoked_by == "dave"
    assert store.get(issued.token_id).state == "revoked"


def test_revoke_unknown_or_garbage(store: TokenStore) -> None:
    with pytest.raises(NotFound, match="0123456789abcdef"):
        store.revoke("0123456789abcdef", by="dave")
    with pytest.raises(NotFound):
        store.revoke("lkw_0123456789abcdef_" + "x" * 43, by="dave")
    with pytest.raises(InputError) as info:
        store.revoke("not-a-token-secretvalue", by="dave")
    assert "secretvalue" not in str(info.value)


def test_list_newest_first_without_secret_material(store: TokenStore, catalog: Catalog) -> None:
    tokens = [_issue(store, name) for name in ("alice", "bob", "dave")]
    store.revoke(tokens[1].token_id, by="dave")
    infos = store.list()
    assert [i.token_id for i in infos] == [t.token_id for t in reversed(tokens)]
    assert [i.state for i in infos] == ["active", "revoked", "active"]
    with catalog.session() as s:
        rows = {r.token_id: r for r in s.scalars(select(ApiToken))}
    for info in infos:
        assert isinstance(info, TokenInfo)
        data = info.to_dict()
        assert {"token_id", "principal", "state", "created_by", "created_at", "expires_at"} <= set(
            data
        )
        assert "digest" not in data and "salt" not in data and "token" not in data
        row = rows[info.token_id]
        flat = repr(data) + repr(info)
        assert row.digest not in flat and row.salt not in flat
        assert data["expires_at"] == info.expires_at.isoformat()
        assert info.created_at.tzinfo is not None and info.expires_at.tzinfo is not None


def test_last_used_is_written_at_most_once_a_minute(store: TokenStore, catalog: Catalog) -> None:
    issued = _issue(store)
    assert store.get(issued.token_id).last_used_at is None
    store.authenticate(issued.token)
    first = store.get(issued.token_id).last_used_at
    assert first is not None
    store.authenticate(issued.token)
    assert store.get(issued.token_id).last_used_at == first
    earlier = utcnow() - timedelta(minutes=2)
    with catalog.session() as s:
        s.execute(
            update(ApiToken)
            .where(ApiToken.token_id == issued.token_id)
            .values(last_used_at=earlier)
        )
    store.authenticate(issued.token)
    last = store.get(issued.token_id).last_used_at
    assert last is not None and last > earlier + timedelta(minutes=1)


def test_database_holds_no_secret(store: TokenStore, catalog: Catalog, home: Path) -> None:
    issued = [_issue(store, name) for name in ("alice", "bob")]
    for token in issued:
        store.authenticate(token.token)
    store.revoke(issued[0].token_id, by="dave")
    dump: list[str] = []
    with catalog.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                dump.append(repr(tuple(row)))
        if catalog.dialect == "sqlite":
            raw = conn.connection.dbapi_connection
            assert raw is not None
            dump.extend(raw.iterdump())
        dump.append(repr(conn.execute(text("SELECT * FROM api_tokens")).all()))
    text_dump = "\n".join(dump)
    assert issued[1].token_id in text_dump  # the dump did see the tokens
    if catalog.dialect == "sqlite":
        files = b"".join(p.read_bytes() for p in home.glob("catalog.db*") if p.is_file())
    else:
        files = b""
    pepper = (home / "keys" / PEPPER_FILE).read_bytes()
    for token in issued:
        secret = _secret(token)
        assert secret not in text_dump and token.token not in text_dump
        assert secret.encode() not in files
    assert pepper.hex() not in text_dump and pepper not in files


def test_pepper_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    first = load_pepper(tmp_path)
    path = tmp_path / "keys" / PEPPER_FILE
    assert len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    assert load_pepper(tmp_path) == first
    assert not [p for p in path.parent.iterdir() if p.name != PEPPER_FILE]  # no temp left


def test_pepper_readable_by_others_is_refused(tmp_path: Path) -> None:
    load_pepper(tmp_path)
    path = tmp_path / "keys" / PEPPER_FILE
    path.chmod(0o644)
    with pytest.raises(ConfigurationError, match="chmod 600") as info:
        load_pepper(tmp_path)
    assert str(path) in str(info.value)
    path.chmod(0o600)
    assert len(load_pepper(tmp_path)) == 32


def test_pepper_symlink_and_damage_are_refused(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    target = tmp_path / "elsewhere.key"
    target.write_bytes(os.urandom(32))
    target.chmod(0o600)
    (keys / PEPPER_FILE).symlink_to(target)
    with pytest.raises(ConfigurationError, match="symbolic link"):
        load_pepper(tmp_path)
    (keys / PEPPER_FILE).unlink()
    (keys / PEPPER_FILE).write_bytes(b"short")
    (keys / PEPPER_FILE).chmod(0o600)
    with pytest.raises(ConfigurationError, match="damaged"):
        load_pepper(tmp_path)


def test_another_pepper_refuses_the_token(catalog: Catalog) -> None:
    issued = _issue(TokenStore.for_catalog(catalog))
    with pytest.raises(NotAuthenticated, match="does not match"):
        TokenStore(catalog, os.urandom(32)).authenticate(issued.token)


def test_for_catalog_uses_the_home_pepper(catalog: Catalog, home: Path) -> None:
    store = TokenStore.for_catalog(catalog)
    issued = _issue(store)
    pepper = load_pepper(home)
    assert TokenStore(catalog, pepper).authenticate(issued.token) == "alice"
    assert stat.S_IMODE((home / "keys" / PEPPER_FILE).stat().st_mode) == 0o600
