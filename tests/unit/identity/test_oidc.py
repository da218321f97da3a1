"""OIDC bearer JWTs verified against a JWKS served from 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from lakeward.errors import InputError, NotAuthenticated
from lakeward.identity._oidc import OIDCVerifier

ISSUER = "https://idp.example.test/realms/lakeward"
AUDIENCE = "lakeward-server"
KID = "key-1"


@dataclass
class JWKS:
    url: str
    keys: list[dict[str, Any]]
    hits: list[str] = field(default_factory=list)


def _jwk(public_key: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = jwt.algorithms.RSAAlgorithm if alg.startswith("RS") else jwt.algorithms.ECAlgorithm
    data: dict[str, Any] = json.loads(algorithm.to_jwk(public_key))
    data.update({"kid": kid, "use": "sig", "alg": alg})
    return data


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def jwks(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> Iterator[JWKS]:
    state = JWKS(
        url="",
        keys=[
            _jwk(rsa_key.public_key(), KID, "RS256"),
            _jwk(ec_key.public_key(), "ec-1", "ES256"),
        ],
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            state.hits.append(self.path)
            body = json.dumps({"keys": state.keys}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def verifier(jwks: JWKS) -> OIDCVerifier:
    return OIDCVerifier(ISSUER, AUDIENCE, jwks.url)


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-123",
        "iat": now,
        "exp": now + 300,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(key: Any, claims: dict[str, Any], *, kid: str = KID, alg: str = "RS256") -> str:
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _rejected(verifier: OIDCVerifier, token: str, match: str) -> NotAuthenticated:
    with pytest.raises(NotAuthenticated, match=match) as info:
        verifier.subject(token)
    message = str(info.value)
    assert not token.strip() or token not in message
    for part in token.split("."):
        if len(part) > 8:
            assert part not in message
    return info.value


def test_valid_token(verifier: OIDCVerifier, rsa_key: rsa.RSAPrivateKey, jwks: JWKS) -> None:
    assert verifier.subject(_sign(rsa_key, _claims())) == (ISSUER, "user-123")
    assert verifier.subject(_sign(rsa_key, _claims(sub="user-9"))) == (ISSUER, "user-9")
    assert len(jwks.hits) == 1  # the JWKS is cached


def test_valid_es256_token(verifier: OIDCVerifier, ec_key: ec.EllipticCurvePrivateKey) -> None:
    token = _sign(ec_key, _claims(), kid="ec-1", alg="ES256")
    assert verifier.subject(token) == (ISSUER, "user-123")


def test_custom_subject_claim(jwks: JWKS, rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = OIDCVerifier(ISSUER, AUDIENCE, jwks.url, subject_claim="email")
    token = _sign(rsa_key, _claims(email="alice@example.test"))
    assert verifier.subject(token) == (ISSUER, "alice@example.test")
    _rejected(verifier, _sign(rsa_key, _claims()), "'email' is missing")


def test_wrong_signature_same_kid(verifier: OIDCVerifier) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _rejected(verifier, _sign(other, _claims()), "bad signature")


def test_tampered_payload(verifier: OIDCVerifier, rsa_key: rsa.RSAPrivateKey) -> None:
    header, _, signature = _sign(rsa_key, _claims()).split(".")
    payload = _b64(json.dumps(_claims(sub="admin")).encode())
    _rejected(verifier, f"{header}.{payload}.{signature}", "bad signature")


def test_wrong_issuer_fetches_nothing(
    verifier: OIDCVerifier, rsa_key: rsa.RSAPrivateKey, jwks: JWKS
) -> None:
    error = _rejected(
        verifier, _sign(rsa_key, _claims(iss="https://evil.example.test")), "wrong issuer"
    )
    assert error.reasons == ["wrong issuer"]
    _rejected(verifier, _sign(rsa_key, _claims(iss=None)), "wrong issuer")
    assert jwks.hits == []


def test_wrong_audience(verifier: OIDCVerifier, rsa_key: rsa.RSAPrivateKey) -> None:
    _rejected(verifier, _sign(rsa_key, _claims(aud="another-client")), "wrong audience")
    _rejected(verifier, _sign(rsa_key, _claims(aud=None)), "'aud' is missing")


def test_expired_beyond_leeway(verifier: OIDCVerifier, rsa_key: rsa.RSAPrivateKey) -> None:
    now = int(time.time())
    _rejected(verifier, _sign(rsa_key, _claims(iat=now - 600, exp=now - 120)), "expired")


def test_expired_within_leeway_is_accepted(
    verifier: OIDCVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    now = int(time.time())
    token = _sign(rsa_key, _claims(iat=now - 600, exp=now - 30))
    assert verifier.subject(token) == (ISSUER, "user-123")


def test_issued_in_the_future(verifier: OIDCVerifier, rsa_key: rsa.RSAPrivateKey) -> None:
    now = int(time.time())
    _rejected(verifier, _sign(rsa_key, _claims(iat=now + 600, exp=now + 900)), "not valid yet")


@pytest.mark.parametrize("claim", ["exp", "iat", "sub"])
def test_required_claims(verifier: OIDCVerifier, rsa_key: rsa.RSAPrivateKey, claim: str) -> None:
    _rejected(verifier, _sign(rsa_key, _claims(**{claim: None})), f"'{claim}' is missing")


def test_alg_none_is_rejected(verifier: OIDCVerifier, jwks: JWKS) -> None:
    token = jwt.encode(_claims(), None, algorithm="none", headers={"kid": KID})  # type: ignore[arg-type]
    _rejected(verifier, token, "algorithm 'none' is not allowed")
    _rejected(verifier, token.rstrip(".") + ".", "not allowed")
    assert jwks.hits == []


def test_hs256_signed_with_the_public_key_is_rejected(
    verifier: OIDCVerifier, rsa_key: rsa.RSAPrivateKey, jwks: JWKS
) -> None:
    pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
    payload = _b64(json.dumps(_claims()).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = _b64(hmac.new(pem, signing_input, hashlib.sha256).digest())
    _rejected(verifier, f"{header}.{payload}.{signature}", "algorithm 'HS256' is not allowed")
    assert jwks.hits == []


def test_algorithm_not_matching_the_key_type(
    verifier: OIDCVerifier, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    _rejected(verifier, _sign(ec_key, _claims(), kid=KID, alg="ES256"), "RSA key")


def test_unknown_kid(verifier: OIDCVerifier, rsa_key: rsa.RSAPrivateKey) -> None:
    error = _rejected(verifier, _sign(rsa_key, _claims(), kid="rotated-away"), "unknown key id")
    assert error.reasons == ["unknown key id"]


def test_missing_kid(verifier: OIDCVerifier, rsa_key: rsa.RSAPrivateKey) -> None:
    token = jwt.encode(_claims(), rsa_key, algorithm="RS256")
    _rejected(verifier, token, "no key id")


def test_jwks_server_down(jwks: JWKS, rsa_key: rsa.RSAPrivateKey) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()  # nothing listens on this port any more
    verifier = OIDCVerifier(ISSUER, AUDIENCE, f"http://127.0.0.1:{port}/jwks.json")
    error = _rejected(verifier, _sign(rsa_key, _claims()), "cannot fetch the issuer's keys")
    assert error.reasons == ["JWKS unreachable"]


@pytest.mark.parametrize(
    "token", ["", "   ", "not-a-jwt", "a.b.c", "lkw_0123456789abcdef_x", "e30.e30.e30"]
)
def test_malformed(verifier: OIDCVerifier, token: str, jwks: JWKS) -> None:
    _rejected(verifier, token, "OIDC token rejected")
    assert jwks.hits == []


def test_malformed_header_is_not_echoed(verifier: OIDCVerifier) -> None:
    header = _b64(b'{"alg": "RS256", "kid": "key-1", "x": "secretpart')
    _rejected(verifier, f"{header}.{_b64(b'{}')}.c2lnbmF0dXJl", "not a well-formed JWT")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"algorithms": ("HS256",)}, "not allowed"),
        ({"algorithms": ("none",)}, "not allowed"),
        ({"algorithms": ("RS256", "HS512")}, "not allowed"),
        ({"algorithms": ()}, "not allowed"),
        ({"leeway_s": -1}, "leeway"),
        ({"leeway_s": float("nan")}, "leeway"),
        ({"jwks_url": "http://idp.example.test/jwks.json"}, "https"),
        ({"jwks_url": "file:///etc/passwd"}, "https"),
        ({"issuer": ""}, "must not be empty"),
    ],
)
def test_configuration_is_checked(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "jwks_url": "https://idp.example.test/jwks.json",
    }
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        OIDCVerifier(**args)
