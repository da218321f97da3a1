"""Secret files under ``<home>/keys``: created once, 0600 from creation, never half-written.

A new secret is written under a temporary name opened with ``O_CREAT | O_EXCL |
O_NOFOLLOW`` and mode 0600 (fchmod'ed, whatever the umask), fsync'ed, then published with a
hard link: two processes starting together agree on one secret, and no reader sees a
partial file. Used for the lake key and the API-token pepper.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["load_secret_file", "publish_secret_file"]


def publish_secret_file(path: Path, data: bytes) -> None:
    """Create ``path`` holding ``data`` unless it exists (then leave it as it is)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.path.lexists(path):
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic; fails if another process published first
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def load_secret_file(path: Path, *, size: int, what: str, lost: str) -> bytes:
    """The ``size`` random bytes in ``path``, created 0600 on first use.

    ``what`` names the secret in messages ("the token pepper"); ``lost`` says what to do when
    the file is damaged and has no backup.

    Raises:
        ConfigurationError: the file is readable or writable by group or others, is not a
            regular file (e.g. a symbolic link), or is damaged.
    """
    import stat

    from lakeward.errors import ConfigurationError

    publish_secret_file(path, secrets.token_bytes(size))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot open {what} {path} ({exc.strerror}); it must be a regular file "
            "(not a symbolic link) readable by the Lakeward service user only."
        ) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigurationError(f"{what.capitalize()} {path} is not a regular file.")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise ConfigurationError(
                f"{what.capitalize()} {path} is accessible to other users (mode {mode:o}); "
                f"run `chmod 600 {path}`."
            )
        data = os.read(fd, size + 1)
    finally:
        os.close(fd)
    if len(data) != size:
        raise ConfigurationError(
            f"{what.capitalize()} {path} is damaged ({len(data)} bytes, expected {size}). "
            f"Restore it from backup; {lost}"
        )
    return data
