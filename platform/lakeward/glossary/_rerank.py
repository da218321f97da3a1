"""An optional LLM reranker: an OpenAI-compatible chat model reorders a column's candidates.

Off by default (``glossary.reranker_url`` unset). When on, :class:`OpenAIReranker` sends, per
column, **metadata only** — the table's name and description, the column's name, declared
type and description, its sibling columns' names, and the id, label and description of the
matcher's best ``glossary.reranker_top_n`` candidates — to ``<url>/chat/completions`` and
asks for the candidate ids in order of fit as JSON (optionally with a confidence). Never a
value, a statistic, a sample or a fingerprint.

The answer only reorders: each candidate keeps the matcher's calibrated ``score`` (so the
abstention threshold means the same with and without a reranker) and gains
``evidence["reranker"] = {"model", "position", "matcher_position"}`` (plus ``confidence`` when
the model gave one; ``position`` is ``None`` for a candidate the model did not list, which
then follows the listed ones in the matcher's order). Ids the model made up are ignored.

A reranker affects ranking quality, never security, so it never raises: a timeout, an HTTP
error or an unparsable answer keeps the matcher's order and records
``evidence["reranker"] = {"error": "..."}``. The API key is read from the environment
variable named by ``glossary.reranker_api_key_env`` at each request, sent as a bearer token,
and never logged nor put in an error or the evidence.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from lakeward._chat import ChatClient, ChatUnparsable
from lakeward.errors import ConfigurationError
from lakeward.glossary._types import Candidate, ColumnMeta, TermMeta

if TYPE_CHECKING:
    from lakeward.settings import Settings

__all__ = [
    "MAX_SIBLINGS",
    "SYSTEM_PROMPT",
    "OpenAIReranker",
    "Reranker",
    "build_messages",
    "parse_ranking",
    "reranker_from_settings",
]

_log = logging.getLogger(__name__)

#: Sibling column names sent at most (a 5,000-column table must not blow the prompt).
MAX_SIBLINGS = 60
#: Characters of a description sent at most.
_MAX_TEXT = 600

SYSTEM_PROMPT = (
    "You match a database column to terms of a business glossary. You are given only "
    "metadata: the table's name and description, the column's name, declared type and "
    "description, the names of the table's other columns, and candidate glossary terms "
    "(id, label, description). Decide which candidate best describes what the column "
    "holds. Answer with JSON only, no prose: "
    '{"ranking": [{"id": "<candidate id>", "confidence": <0..1>}, ...]} '
    "listing the candidate ids best first, using only the ids given."
)

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_LIST_KEYS = ("ranking", "ranked", "ids", "order", "candidates", "terms", "results")
_ID_KEYS = ("id", "term", "term_id")
_CONFIDENCE_KEYS = ("confidence", "score", "probability")


class Reranker(Protocol):
    """Reorders one column's candidates (best first); never drops or invents one."""

    def rerank(
        self, column: ColumnMeta, candidates: Sequence[Candidate], terms: Mapping[str, TermMeta]
    ) -> list[Candidate]:
        """The same candidates in a new order (evidence may be added).

        Args:
            column: The column's metadata.
            candidates: The matcher's candidates, best first.
            terms: The glossary's terms by id (for their descriptions).
        """
        ...


class _Unparsable(ChatUnparsable):
    """The model's answer holds no ranking."""


def _clip(text: str, limit: int = _MAX_TEXT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def build_messages(
    column: ColumnMeta, candidates: Sequence[Candidate], terms: Mapping[str, TermMeta]
) -> list[dict[str, str]]:
    """The system and user messages for one column: metadata only.

    Args:
        column: The column's metadata.
        candidates: The candidates to rank (already cut to ``top_n``).
        terms: The glossary's terms by id.

    Returns:
        OpenAI chat messages.
    """
    siblings = [s for s in column.siblings if s != column.column]
    listed = [
        {
            "id": c.term,
            "label": c.label,
            "description": _clip(terms[c.term].description) if c.term in terms else "",
        }
        for c in candidates
    ]
    payload = {
        "table": {"name": column.dataset, "description": _clip(column.table_description)},
        "column": {
            "name": column.column,
            "type": column.type,
            "description": _clip(column.description),
        },
        "sibling_columns": siblings[:MAX_SIBLINGS],
        "candidates": listed,
    }
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": json.dumps(payload, ensure_ascii=False, indent=1)},
    ]


def _decode(text: str) -> Any:
    """The first JSON value in ``text`` (inside a code fence, or anywhere)."""
    attempts = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for attempt in attempts:
        attempt = attempt.strip()
        try:
            return json.loads(attempt)
        except ValueError:
            pass
        for start, char in enumerate(attempt):
            if char in "[{":
                try:
                    return decoder.raw_decode(attempt, start)[0]
                except ValueError:
                    continue
    raise _Unparsable("no JSON in the answer")


def _items(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        for key in _LIST_KEYS:
            if isinstance(value.get(key), list):
                return list(value[key])
        lists = [v for v in value.values() if isinstance(v, list)]
        if len(lists) == 1:
            return list(lists[0])
    raise _Unparsable("no list of candidate ids in the answer")


def parse_ranking(text: str) -> list[tuple[str, float | None]]:
    """Candidate ids (with an optional confidence in [0, 1]) from a model's answer, best first.

    Accepts a JSON list of ids, a list of ``{"id", "confidence"}`` objects, or an object
    holding such a list (``ranking``, ``ids``, ...), bare or inside a code fence. Duplicates
    keep their first place.

    Raises:
        ValueError: the answer holds no such list.
    """
    ranked: list[tuple[str, float | None]] = []
    seen: set[str] = set()
    for item in _items(_decode(text)):
        confidence: float | None = None
        if isinstance(item, dict):
            ident = next((item[k] for k in _ID_KEYS if k in item), None)
            raw = next((item[k] for k in _CONFIDENCE_KEYS if k in item), None)
            if isinstance(raw, int | float) and not isinstance(raw, bool) and 0 <= raw <= 1:
                confidence = float(raw)
        else:
            ident = item
        if isinstance(ident, bool) or not isinstance(ident, str | int):
            continue
        ident = str(ident).strip()
        if ident and ident not in seen:
            seen.add(ident)
            ranked.append((ident, confidence))
    return ranked


def _with(candidate: Candidate, reranker: dict[str, Any]) -> Candidate:
    return replace(candidate, evidence={**candidate.evidence, "reranker": reranker})


@dataclass
class OpenAIReranker:
    """Reranks with an OpenAI-compatible ``/chat/completions`` endpoint.

    Attributes:
        url: The API's base URL (``http://host:port/v1``); requests go to
            ``<url>/chat/completions``.
        model: The model name sent with each request.
        api_key_env: The environment variable holding the API key (read per request; unset
            or empty: no ``Authorization`` header, as local servers expect).
        timeout_s: Seconds to wait per column.
        top_n: How many of the matcher's best candidates are sent and reordered (the rest
            follow unchanged).
    """

    url: str
    model: str
    api_key_env: str | None = "LAKEWARD_RERANKER_API_KEY"
    timeout_s: float = 30.0
    top_n: int = 10
    _chat: ChatClient = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        if self.top_n < 1:
            raise ValueError("top_n must be at least 1")
        self._chat = ChatClient(self.url, self.model, self.api_key_env, self.timeout_s)

    @property
    def endpoint(self) -> str:
        """The chat-completions URL."""
        return self._chat.endpoint

    def close(self) -> None:
        """Close the HTTP connection pool (a later call opens a new one)."""
        self._chat.close()

    def rerank(
        self, column: ColumnMeta, candidates: Sequence[Candidate], terms: Mapping[str, TermMeta]
    ) -> list[Candidate]:
        """Reorder the best ``top_n`` candidates as the model says; never raises.

        Args:
            column: The column's metadata.
            candidates: The matcher's candidates, best first.
            terms: The glossary's terms by id.

        Returns:
            Every candidate once: the model's order for those it listed, then the other sent
            ones in the matcher's order, then the ones not sent. Scores unchanged.
        """
        head, tail = list(candidates[: self.top_n]), list(candidates[self.top_n :])
        if len(head) < 2:
            return list(candidates)
        try:
            answer = parse_ranking(self._chat.ask(build_messages(column, head, terms)))
            known = {c.term: i for i, c in enumerate(head)}
            listed = [(ident, conf) for ident, conf in answer if ident in known]
            if not listed:
                raise _Unparsable("it names none of the candidates")
        except Exception as exc:  # ranking quality, not security: keep the matcher's order
            error = self._chat.scrub(self._chat.describe(exc))
            _log.warning("reranker: %s.%s: %s", column.dataset, column.column, error)
            return [_with(c, {"error": error}) for c in head] + tail
        ordered: list[Candidate] = []
        placed: set[str] = set()
        for position, (ident, confidence) in enumerate(listed, start=1):
            info: dict[str, Any] = {
                "model": self.model,
                "position": position,
                "matcher_position": known[ident] + 1,
            }
            if confidence is not None:
                info["confidence"] = confidence
            ordered.append(_with(head[known[ident]], info))
            placed.add(ident)
        for i, c in enumerate(head):
            if c.term not in placed:
                info = {"model": self.model, "position": None, "matcher_position": i + 1}
                ordered.append(_with(c, info))
        return ordered + tail


def reranker_from_settings(settings: Settings | None = None) -> Reranker | None:
    """The reranker the settings configure, or ``None`` (the default: no reranker).

    Args:
        settings: The settings (default: :func:`lakeward.settings.get_settings`).

    Raises:
        ConfigurationError: a reranker URL is set without a model.
    """
    if settings is None:
        from lakeward.settings import get_settings

        settings = get_settings()
    config = settings.glossary
    if not config.reranker_url:
        return None
    if not config.reranker_model:
        raise ConfigurationError(
            "LAKEWARD_GLOSSARY_RERANKER_URL is set but LAKEWARD_GLOSSARY_RERANKER_MODEL is not: "
            "name the model to ask, or unset the URL to turn the reranker off.",
            setting="LAKEWARD_GLOSSARY_RERANKER_MODEL",
        )
    return OpenAIReranker(
        url=config.reranker_url,
        model=config.reranker_model,
        api_key_env=config.reranker_api_key_env or None,
        timeout_s=config.reranker_timeout_s,
        top_n=config.reranker_top_n,
    )
