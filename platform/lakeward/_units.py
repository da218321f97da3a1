"""Small formatting helpers shared by the CLI and the Prefect artifacts."""

from __future__ import annotations

__all__ = ["human_bytes"]


def human_bytes(n: int | None) -> str:
    """``1536`` → ``"1.5 KB"``; ``None`` → ``"-"``."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024:
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"
