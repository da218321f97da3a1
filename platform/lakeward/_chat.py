"""A client for OpenAI-compatible chat endpoints (``<url>/chat/completions``).

Shared by the optional model plug-ins (the glossary reranker, the RAG generator); both are
off by default. The API key is read from a named environment variable at each request,
sent as a bearer token, and never logged nor put in an error message.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

__all__ = ["ChatClient", "ChatUnparsable"]


class ChatUnparsable(ValueError):
    """The endpoint's answer is not a chat completion with text content."""


@dataclass
class ChatClient:
    """One endpoint and model.

    Attributes:
        url: The API's base URL (``http://host:port/v1``).
        model: The model name sent with each request.
        api_key_env: The environment variable holding the API key (unset or empty: no
            ``Authorization`` header, as local servers expect).
        timeout_s: Seconds to wait per request.
    """

    url: str
    model: str
    api_key_env: str | None = None
    timeout_s: float = 30.0
    _client: httpx.Client | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")

    @property
    def endpoint(self) -> str:
        """The chat-completions URL."""
        return f"{self.url}/chat/completions"

    def _http(self) -> httpx.Client:
        import httpx

        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=httpx.Timeout(self.timeout_s))
            return self._client

    def close(self) -> None:
        """Close the HTTP connection pool (a later call opens a new one)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _key(self) -> str:
        return os.environ.get(self.api_key_env, "").strip() if self.api_key_env else ""

    def scrub(self, message: str) -> str:
        """``message`` with the API key, if it appears, replaced by ``***``."""
        key = self._key()
        return message.replace(key, "***") if key else message

    def ask(self, messages: list[dict[str, str]], **params: Any) -> str:
        """POST the messages (temperature 0 unless given); the model's answer text.

        Raises:
            httpx.HTTPError: the request failed or timed out.
            ChatUnparsable: the answer has no text content.
        """
        headers = {"Content-Type": "application/json"}
        key = self._key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        body = {"model": self.model, "messages": messages, "temperature": 0, **params}
        response = self._http().post(self.endpoint, json=body, headers=headers)
        response.raise_for_status()
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ChatUnparsable("not a chat-completions response") from exc
        if not isinstance(content, str):
            raise ChatUnparsable("the answer has no text content")
        return content

    def describe(self, exc: Exception) -> str:
        """What went wrong, in words that carry no key and no answer text."""
        import httpx

        if isinstance(exc, httpx.TimeoutException):
            return f"timed out after {self.timeout_s:g} s"
        if isinstance(exc, httpx.HTTPStatusError):
            return f"HTTP {exc.response.status_code} from {self.endpoint}"
        if isinstance(exc, httpx.HTTPError):
            return f"{type(exc).__name__} calling {self.endpoint}"
        if isinstance(exc, ChatUnparsable):
            return f"unparsable answer: {exc}"
        return self.scrub(f"{type(exc).__name__}: {exc}")
