"""The optional answer generator: an OpenAI-compatible chat model rewrites the answer.

Off by default (``rag.generator_url`` unset): answers are the extracted sentences. When on,
the model receives the question and **only the sentences the extractive answer chose**:
sentences of chunks the asker may read, whose join label the asker is cleared for. So the
generated answer carries the same citations and label, and nothing the asker may not read
reaches the model. Its text is the model's: deterministic only as far as the endpoint is
(temperature 0 is asked for).

A generator affects wording, never who may read what, so it never raises: any failure keeps
the extractive answer and says why in ``generator.error``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lakeward._chat import ChatClient
from lakeward.errors import ConfigurationError

__all__ = ["SYSTEM_PROMPT", "OpenAIGenerator", "generator_from_settings"]

_log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "Answer the question using only the numbered passages. Cite every claim with the "
    "passage numbers in brackets, like [1]. If the passages do not answer it, say so. "
    "Do not use any other knowledge."
)


@dataclass
class OpenAIGenerator:
    """Generates answers with an OpenAI-compatible ``/chat/completions`` endpoint."""

    chat: ChatClient

    def generate(self, question: str, sentences: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """``{"text", "model"}`` or ``{"error", "model"}``; never raises."""
        passages = "\n".join(
            f"[{i}] ({s['doc_id']}) {s['text']}" for i, s in enumerate(sentences, 1)
        )
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"Passages:\n{passages}\n\nQuestion: {question}"},
        ]
        try:
            return {"text": self.chat.ask(messages).strip(), "model": self.chat.model}
        except Exception as exc:  # wording, not security: keep the extractive answer
            error = self.chat.describe(exc)
            _log.warning("rag generator: %s", error)
            return {"error": error, "model": self.chat.model}


def generator_from_settings() -> OpenAIGenerator | None:
    """The generator the settings configure, or ``None`` (the default).

    Raises:
        ConfigurationError: a generator URL is set without a model.
    """
    from lakeward.settings import get_settings

    config = get_settings().rag
    if not config.generator_url:
        return None
    if not config.generator_model:
        raise ConfigurationError(
            "LAKEWARD_RAG_GENERATOR_URL is set but LAKEWARD_RAG_GENERATOR_MODEL is not: name "
            "the model, or unset the URL to keep extractive answers.",
            setting="LAKEWARD_RAG_GENERATOR_MODEL",
        )
    return OpenAIGenerator(
        ChatClient(
            config.generator_url,
            config.generator_model,
            config.generator_api_key_env or None,
            config.generator_timeout_s,
        )
    )
