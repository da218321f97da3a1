"""Files of :mod:`lakeward.he`: strict manifests, integrity tags, secret files.

Every file :mod:`lakeward.he` reads (keys, contexts, ciphertexts, Spark stores and results) is
checked before anything in it is used: the manifest's size and JSON nesting depth before it
is parsed (so a deeply nested manifest is an error, never a recursion crash), then every
field's type and range, then the integrity tags, then SEAL's own validation of each object.
Whatever fails raises :class:`~lakeward.he.KeyFileError` (exit code 2) naming the file and
the reason.

**Integrity tags.** Ciphertext files, encrypted stores and compute results carry
HMAC-SHA256 tags: one over the manifest's exact bytes and one over each ciphertext tile (or
block), each bound to its position, so a tile cannot be swapped, dropped, truncated or
zeroed, and a manifest field (layout, tile count, declared outputs) cannot be edited,
without the check failing. The tag key is
``HKDF-SHA256(ikm=SHA-256(public key bytes), salt="lakeward-he/v2/file-tags",
info=context id)`` (:func:`file_key`): both the data owner and the compute job hold the
public context, and both must write tagged files (the owner encrypts, the compute job writes
results), so the key is derived from what they share. Key and context files carry a SHA-256
digest of each SEAL object, and a context id must equal the hash of the public key it comes
with.

**What an attacker who can write files but lacks the keys can do.** Someone who can write
the storage but has never read the public context (a storage or backup operator, another
tenant of a shared file system) cannot forge a tag: a modified, truncated, spliced or
reordered file is refused, and files made under another key set are refused for their
context id. They can still delete files, or put back an older, validly tagged file of the
same key set (a rollback; the compute result's fingerprint and the store's block digest name
what they were made from). Whoever holds the public context, the compute side included, can
make validly tagged files: the tags prove that a file was made by a holder of the context
and has not changed since, not that the owner made it, and CKKS gives no integrity of the
computation itself (a holder of the public key can encrypt anything). The owner's
protection against a compute side that asks for row-level results is therefore not the tag
but the policy decision made *at decryption* (``he.row_level``, see
:mod:`lakeward.he._spark`), which runs on the owner's side with the owner's principal. Key
files hold the secret key; they are created 0600 from the first byte
(:func:`write_private_file`), and SEAL's temporary serialisations are too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from lakeward.he._errors import KeyFileError

__all__ = [
    "MAX_MANIFEST_BYTES",
    "MAX_NESTING",
    "ManifestFields",
    "file_key",
    "parse_manifest",
    "private_temp_file",
    "sha256_hex",
    "tag",
    "tag_matches",
    "write_private_file",
]

#: A manifest larger than this is refused before it is parsed.
MAX_MANIFEST_BYTES = 1 << 20
#: Arrays and objects nested deeper than this are refused before parsing.
MAX_NESTING = 8

_HEX64_TEXT = "[0-9a-f]{64}"
_HEX64 = re.compile(_HEX64_TEXT + r"\Z")
_SALT = b"lakeward-he/v2/file-tags"


def _nesting(text: str) -> int:
    """The deepest nesting of ``[``/``{`` in JSON text (brackets in strings ignored)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def parse_manifest(raw: bytes, source: str, name: str = "manifest.json") -> ManifestFields:
    """Parse a manifest after checking its size and nesting; it must be a JSON object.

    Raises:
        KeyFileError: too large, too deeply nested, not UTF-8 JSON, or not an object.
    """
    where = f"{source}: {name}"
    if len(raw) > MAX_MANIFEST_BYTES:
        raise KeyFileError(f"{where} is {len(raw)} bytes, more than {MAX_MANIFEST_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise KeyFileError(f"{where} is not UTF-8 text ({exc})") from exc
    deepest = _nesting(text)
    if deepest > MAX_NESTING:
        raise KeyFileError(
            f"{where} nests arrays/objects {deepest} deep, more than {MAX_NESTING}: not a "
            "lakeward he manifest"
        )
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError; ints of > 4300 digits
        raise KeyFileError(f"{where} is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise KeyFileError(f"{where} is a JSON {type(data).__name__}, not an object")
    return ManifestFields(data, where)


class ManifestFields:
    """Typed, range-checked access to a parsed manifest (or one of its objects).

    Every accessor raises :class:`KeyFileError` naming the file, the field and what it
    should be.
    """

    def __init__(self, data: dict[str, Any], where: str) -> None:
        self.data = data
        self.where = where

    def problem(self, key: str, wanted: str) -> KeyFileError:
        """The error for a field that is missing or not what it should be."""
        if key not in self.data:
            return KeyFileError(f"{self.where}: field {key!r} is missing (want {wanted})")
        shown = json.dumps(self.data[key])
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return KeyFileError(f"{self.where}: field {key!r} must be {wanted}, not {shown}")

    def has(self, key: str) -> bool:
        """Whether ``key`` is present."""
        return key in self.data

    def integer(self, key: str, low: int, high: int) -> int:
        """An integer in ``[low, high]`` (a bool is not an integer here)."""
        value = self.data.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.problem(key, f"an integer in [{low}, {high}]")
        return value

    def boolean(self, key: str) -> bool:
        """A JSON boolean."""
        value = self.data.get(key)
        if not isinstance(value, bool):
            raise self.problem(key, "true or false")
        return value

    def string(self, key: str, pattern: str = r".{0,200}", what: str = "a short string") -> str:
        """A string matching ``pattern`` entirely."""
        value = self.data.get(key)
        if not isinstance(value, str) or not re.fullmatch(pattern, value, re.DOTALL):
            raise self.problem(key, what)
        return value

    def choice(self, key: str, allowed: tuple[Any, ...]) -> Any:
        """One of ``allowed``."""
        value = self.data.get(key)
        if isinstance(value, bool) or value not in allowed:
            raise self.problem(key, "one of " + ", ".join(json.dumps(a) for a in allowed))
        return value

    def digest(self, key: str) -> str:
        """A lowercase hex SHA-256 digest or HMAC tag (64 characters)."""
        return self.string(key, _HEX64_TEXT, "64 lowercase hex digits")

    def array(self, key: str, max_items: int) -> list[Any]:
        """A JSON array of at most ``max_items`` items."""
        value = self.data.get(key)
        if not isinstance(value, list) or len(value) > max_items:
            raise self.problem(key, f"an array of at most {max_items} items")
        return value

    def ints(self, key: str, max_items: int, low: int, high: int) -> list[int]:
        """An array of integers in ``[low, high]``."""
        return [self._int_item(key, item, low, high) for item in self.array(key, max_items)]

    def _int_item(self, key: str, item: Any, low: int, high: int) -> int:
        if isinstance(item, bool) or not isinstance(item, int) or not low <= item <= high:
            raise self.problem(key, f"an array of integers in [{low}, {high}]")
        return item

    def digests(self, key: str, count: int) -> list[str]:
        """An array of exactly ``count`` hex digests."""
        items = self.array(key, count)
        if len(items) != count or not all(isinstance(d, str) and _HEX64.match(d) for d in items):
            raise self.problem(key, f"an array of {count} hex digests (64 lowercase hex digits)")
        return items

    def object(self, key: str) -> ManifestFields:
        """A nested JSON object."""
        value = self.data.get(key)
        if not isinstance(value, dict):
            raise self.problem(key, "an object")
        return ManifestFields(value, f"{self.where}: {key}")

    def objects(self, key: str, max_items: int) -> list[ManifestFields]:
        """An array of JSON objects."""
        items = self.array(key, max_items)
        if not all(isinstance(item, dict) for item in items):
            raise self.problem(key, f"an array of at most {max_items} objects")
        return [ManifestFields(item, f"{self.where}: {key}[{n}]") for n, item in enumerate(items)]

    def only(self, allowed: set[str]) -> None:
        """Refuse fields outside ``allowed`` (a manifest says nothing it is not asked)."""
        extra = sorted(set(self.data) - allowed)
        if extra:
            raise KeyFileError(f"{self.where}: unexpected field(s) {extra}")


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data`` as 64 hex digits."""
    return hashlib.sha256(data).hexdigest()


def file_key(public_key_digest: bytes, context_id: str) -> bytes:
    """The tag key of a key set: HKDF-SHA256 (RFC 5869) of its public key's SHA-256.

    Args:
        public_key_digest: SHA-256 of the serialised SEAL public key (what the context
            file stores).
        context_id: The key set's id (binds the key to it).
    """
    prk = hmac.new(_SALT, public_key_digest, hashlib.sha256).digest()
    return hmac.new(prk, context_id.encode() + b"\x01", hashlib.sha256).digest()


def tag(key: bytes, label: str, *parts: bytes) -> str:
    """HMAC-SHA256 over ``label`` and ``parts`` (each length-prefixed), as hex."""
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in (label.encode(), *parts):
        mac.update(len(part).to_bytes(8, "big"))
        mac.update(part)
    return mac.hexdigest()


def tag_matches(key: bytes, expected: str, label: str, *parts: bytes) -> bool:
    """Whether ``expected`` is the tag of ``parts`` (compared in constant time)."""
    return hmac.compare_digest(tag(key, label, *parts), expected)


@contextmanager
def _private_fd(path: Path) -> Iterator[int]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask; fchmod on our own descriptor, not a path
        yield fd
    finally:
        os.close(fd)


def write_private_file(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Write a secret file that is 0600 from its first byte, then publish it atomically.

    ``write`` gets a binary file object. The data goes to a temporary name in the same
    directory, opened with ``O_CREAT | O_EXCL | O_NOFOLLOW`` and mode 0600 and fsync'ed, then
    replaces ``path`` with :func:`os.replace` (overwriting it, never following a link there).
    No chmod on a path is involved, so the file is never readable by others, whatever the
    umask.
    """
    target = Path(path)
    if not target.parent.exists():
        target.parent.mkdir(parents=True, mode=0o700)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    try:
        with _private_fd(tmp) as fd, os.fdopen(os.dup(fd), "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


@contextmanager
def private_temp_file(data: bytes | None = None) -> Iterator[Path]:
    """A temporary file, 0600 from creation, in a fresh 0700 directory; removed afterwards.

    SEAL serialises only to and from paths, so secret keys pass through such a file.
    """
    with tempfile.TemporaryDirectory(prefix="lakeward-he-") as folder:
        path = Path(folder) / "blob"
        with _private_fd(path) as fd:
            if data is not None:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
        yield path
