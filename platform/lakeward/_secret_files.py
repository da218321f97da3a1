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

__all__ = ["publish_secret_file"]


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
