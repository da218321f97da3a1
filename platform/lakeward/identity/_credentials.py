"""Where a client or a worker finds its credential, and where the server is.

``LAKEWARD_TOKEN`` wins; else the credentials file (``LAKEWARD_CREDENTIALS_FILE``, default
``~/.config/lakeward/credentials``), which must be readable by its owner only (0600): a
token other users can read is refused, not used. ``LAKEWARD_SERVER_URL`` makes the CLI a
client of ``lakeward server``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from lakeward.errors import ConfigurationError

__all__ = ["credentials_file", "local_token", "server_url"]


def server_url() -> str | None:
    """``LAKEWARD_SERVER_URL`` without a trailing slash, or ``None`` (embedded mode)."""
    url = os.environ.get("LAKEWARD_SERVER_URL", "").strip()
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"LAKEWARD_SERVER_URL={url!r} is not an http(s) URL; e.g. http://127.0.0.1:8750",
            setting="LAKEWARD_SERVER_URL",
        )
    return url.rstrip("/")


def credentials_file() -> Path:
    """The credentials file's path (it may not exist)."""
    configured = os.environ.get("LAKEWARD_CREDENTIALS_FILE", "").strip()
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".config" / "lakeward" / "credentials"


def local_token() -> str | None:
    """The caller's token, or ``None`` when there is none.

    Raises:
        ConfigurationError: the credentials file is readable by group or others, or empty.
    """
    token = os.environ.get("LAKEWARD_TOKEN", "").strip()
    if token:
        return token
    path = credentials_file()
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise ConfigurationError(
            f"{path} is readable by other users (mode {stat.S_IMODE(info.st_mode):o}); "
            f"run `chmod 600 {path}`.",
            setting="LAKEWARD_CREDENTIALS_FILE",
        )
    token = path.read_text().strip()
    if not token:
        raise ConfigurationError(
            f"{path} is empty; put the token from `lakeward token issue` in it."
        )
    return token
