"""Mechanism secrets, sealed: what the catalog never holds in clear.

A period's true running totals, its noise draws and the counter's state (noise = released −
true) would let anyone who can read the catalog subtract the noise and get exact answers.
They reach the catalog only as AES-256-GCM ciphertext (``dp_releases.sealed``) under a key
outside it, ``<home>/keys/dp-release.key`` (32 random bytes, 0600 from creation, see
:mod:`lakeward._secret_files`), which only the release service holds. The associated data
binds each ciphertext to its stream (id and name) and period: a ciphertext copied into
another row, or another stream, does not open. A pending period's noisy outputs are sealed
too: they are written in clear only once the period is paid for and released.

If the key is lost, released series stay readable (their outputs are in clear) but no stream
can release another period (its counter state is gone): create new streams.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lakeward.errors import CheckFailed

__all__ = ["KEY_FILE", "MechanismState", "release_key", "seal", "unseal"]

#: The key's file name under ``<home>/keys``.
KEY_FILE = "dp-release.key"
_KEY_BYTES = 32
_NONCE_BYTES = 12
_FORMAT = "v1"
_keys: dict[Path, bytes] = {}
_keys_lock = threading.Lock()


@dataclass(frozen=True)
class MechanismState:
    """One period's secrets: its noisy outputs (until released), true totals, noise state."""

    outputs: list[float]
    totals: list[float]
    draws: list[list[float]]  # this period's fresh draws, (draws_at(t), width)
    counter_state: dict[str, Any]


def release_key(home: Path | None = None) -> bytes:
    """The release key, ``<home>/keys/dp-release.key`` (settings' home), made on first use.

    Raises:
        ConfigurationError: the key file is accessible to other users, not a regular file,
            or damaged.
    """
    from lakeward._secret_files import load_secret_file

    if home is None:
        from lakeward.settings import get_settings

        home = get_settings().home
    path = (home / "keys" / KEY_FILE).resolve()
    with _keys_lock:
        key = _keys.get(path)
        if key is None:
            key = _keys[path] = load_secret_file(
                path,
                size=_KEY_BYTES,
                what="the DP release key",
                lost="if it is lost, released series stay readable but no stream can release "
                "another period: create new streams.",
            )
        return key


def _associated(stream_id: int, stream: str, period: int) -> bytes:
    return f"lakeward.dp.release\0{_FORMAT}\0{stream_id}\0{stream}\0{period}".encode()


def seal(
    state: MechanismState, *, stream_id: int, stream: str, period: int, key: bytes | None = None
) -> str:
    """``state`` encrypted for (stream, period): ``v1:`` + base64(nonce ‖ ciphertext ‖ tag)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(_NONCE_BYTES)
    plain = json.dumps(asdict(state), separators=(",", ":")).encode()
    sealed = AESGCM(key or release_key()).encrypt(
        nonce, plain, _associated(stream_id, stream, period)
    )
    return f"{_FORMAT}:" + base64.b64encode(nonce + sealed).decode("ascii")


def unseal(
    text: str, *, stream_id: int, stream: str, period: int, key: bytes | None = None
) -> MechanismState:
    """The state sealed for (stream, period).

    Raises:
        CheckFailed: the ciphertext does not open with this key for this row: it was edited,
            copied from another row, or sealed under another key.
    """
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        version, _, body = text.partition(":")
        if version != _FORMAT:
            raise ValueError(f"unknown format {version!r}")
        raw = base64.b64decode(body, validate=True)
        plain = AESGCM(key or release_key()).decrypt(
            raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _associated(stream_id, stream, period)
        )
        data = json.loads(plain)
        return MechanismState(
            [float(v) for v in data["outputs"]],
            [float(v) for v in data["totals"]],
            [[float(v) for v in row] for row in data["draws"]],
            dict(data["counter_state"]),
        )
    except (InvalidTag, ValueError, KeyError, TypeError) as exc:
        raise CheckFailed(
            f"The sealed state of stream {stream} period {period} does not open with the DP "
            f"release key ({type(exc).__name__}): the row was edited or copied from another "
            "row, or the key is not the one it was sealed with. Restore the catalog row or the "
            f"key (<home>/keys/{KEY_FILE}) from backup; otherwise create a new stream."
        ) from None
