"""The optional LLM reranker against a real local stub of an OpenAI-compatible endpoint.

The stub (``http.server`` on 127.0.0.1, in a thread) records every request and answers like
``/v1/chat/completions``. Checked: the order follows the model, scores stay calibrated,
only metadata is sent, the API key travels as a bearer header and nowhere else, failures
keep the matcher's order without raising, unknown ids are ignored, and the default is off.
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
from typing import Any

import pytest

from lakeward.errors import ConfigurationError
from lakeward.glossary._rerank import OpenAIReranker, parse_ranking, reranker_from_settings
from lakeward.glossary._types import Candidate, ColumnMeta, TermMeta
from lakeward.settings import get_settings
from tests.conftest import Stub

KEY_ENV = "LAKEWARD_TEST_RERANKER_KEY"


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = "sk-test-" + secrets.token_hex(16)
    monkeypatch.setenv(KEY_ENV, key)
    return key


TERMS = {
    "email": TermMeta(
        "email",
        "Customer Email",
        "The e-mail address a customer gave us.",
        synonyms=("SYNONYM-NOT-SENT",),
        parent="PARENT-NOT-SENT",
        tags=("pii_direct",),
    ),
    "phone": TermMeta("phone", "Phone Number", "A telephone number."),
    "name": TermMeta("name", "Customer Name", "The customer's full name."),
    "city": TermMeta("city", "City", "Town of residence."),
}
COLUMN = ColumnMeta(
    dataset="crm.contacts",
    column="contact_addr",
    type="string",
    description="How we reach the customer",
    table_description="One row per customer contact",
    siblings=("contact_id", "contact_addr", "full_name"),
)


def _candidates(*ids: str) -> list[Candidate]:
    return [
        Candidate(t, TERMS[t].label, 0.9 - 0.2 * i, {"name": 0.12345 + i, "agreed": ["name"]})
        for i, t in enumerate(ids)
    ]


def _reranker(stub: Stub, **kwargs: Any) -> OpenAIReranker:
    options: dict[str, Any] = {"model": "stub-model", "api_key_env": KEY_ENV, "timeout_s": 5.0}
    return OpenAIReranker(url=stub.url, **{**options, **kwargs})


def _answer(ids: list[Any]) -> str:
    return "Here you go:\n```json\n" + json.dumps({"ranking": ids}) + "\n```\n"


def test_reorders_as_the_model_says_and_keeps_calibrated_scores(stub: Stub, api_key: str) -> None:
    stub.content = _answer([{"id": "name", "confidence": 0.8}, {"id": "email"}])
    given = _candidates("email", "phone", "name")
    result = _reranker(stub).rerank(COLUMN, given, TERMS)
    assert [c.term for c in result] == ["name", "email", "phone"]
    scores = {c.term: c.score for c in given}
    assert all(c.score == scores[c.term] for c in result)
    assert result[0].evidence["reranker"] == {
        "model": "stub-model",
        "position": 1,
        "matcher_position": 3,
        "confidence": 0.8,
    }
    assert result[1].evidence["reranker"] == {
        "model": "stub-model",
        "position": 2,
        "matcher_position": 1,
    }
    assert result[2].evidence["reranker"]["position"] is None  # not listed: appended
    assert result[0].evidence["name"] == given[2].evidence["name"]  # matcher evidence kept
    assert "reranker" not in given[0].evidence  # the inputs are not modified
    assert len(stub.requests) == 1 and stub.requests[0]["path"] == "/v1/chat/completions"


def test_only_metadata_is_sent_and_the_key_only_as_a_bearer_header(
    stub: Stub, api_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    stub.content = _answer(["phone"])
    _reranker(stub).rerank(COLUMN, _candidates("email", "phone"), TERMS)
    (request,) = stub.requests
    body = json.loads(request["body"])
    assert set(body) == {"model", "messages", "temperature"}
    assert body["model"] == "stub-model"
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert all(set(m) == {"role", "content"} for m in body["messages"])
    sent = json.loads(body["messages"][1]["content"])
    assert set(sent) == {"table", "column", "sibling_columns", "candidates"}
    assert sent["table"] == {
        "name": "crm.contacts",
        "description": "One row per customer contact",
    }
    assert sent["column"] == {
        "name": "contact_addr",
        "type": "string",
        "description": "How we reach the customer",
    }
    assert sent["sibling_columns"] == ["contact_id", "full_name"]
    assert sent["candidates"] == [
        {
            "id": "email",
            "label": "Customer Email",
            "description": "The e-mail address a customer gave us.",
        },
        {"id": "phone", "label": "Phone Number", "description": "A telephone number."},
    ]
    # Neither the matcher's scores and evidence nor synonyms, parents or tags leave.
    for private in ("SYNONYM-NOT-SENT", "PARENT-NOT-SENT", "pii_direct", "0.12345", "agreed"):
        assert private not in request["body"]

    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["authorization"] == f"Bearer {api_key}"
    elsewhere = {k: v for k, v in headers.items() if k != "authorization"}
    assert api_key not in json.dumps(elsewhere) + request["body"] + request["path"]
    assert api_key not in caplog.text


def test_no_key_in_the_environment_sends_no_authorization(
    stub: Stub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    stub.content = _answer(["phone", "email"])
    result = _reranker(stub).rerank(COLUMN, _candidates("email", "phone"), TERMS)
    assert [c.term for c in result] == ["phone", "email"]
    assert "authorization" not in {k.lower() for k in stub.requests[0]["headers"]}


def test_unknown_ids_are_ignored_and_missing_ones_follow_in_matcher_order(stub: Stub) -> None:
    stub.content = json.dumps(["made-up", "city", "city", 17, {"id": "phone", "confidence": 7}])
    result = _reranker(stub).rerank(COLUMN, _candidates("email", "phone", "name", "city"), TERMS)
    assert [c.term for c in result] == ["city", "phone", "email", "name"]
    assert [c.evidence["reranker"]["position"] for c in result] == [1, 2, None, None]
    assert "confidence" not in result[1].evidence["reranker"]  # 7 is no confidence


def test_only_top_n_are_sent_and_the_rest_follow_unchanged(stub: Stub) -> None:
    stub.content = _answer(["phone"])
    given = _candidates("email", "phone", "name", "city")
    result = _reranker(stub, top_n=2).rerank(COLUMN, given, TERMS)
    assert [c.term for c in result] == ["phone", "email", "name", "city"]
    assert result[2:] == given[2:]
    sent = json.loads(json.loads(stub.requests[0]["body"])["messages"][1]["content"])
    assert [c["id"] for c in sent["candidates"]] == ["email", "phone"]


def test_a_single_candidate_is_not_sent(stub: Stub) -> None:
    given = _candidates("email")
    assert _reranker(stub).rerank(COLUMN, given, TERMS) == given
    assert not stub.requests


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ({"status": 500, "raw": '{"error": "boom"}'}, "HTTP 500"),
        ({"status": 401, "raw": '{"error": "bad key"}'}, "HTTP 401"),
        ({"delay_s": 1.5}, "timed out after 0.3 s"),
        ({"content": "I would say the phone one, probably."}, "unparsable answer"),
        ({"content": "```json\n{broken\n```"}, "unparsable answer"),
        ({"content": json.dumps({"ranking": ["nope", "neither"]})}, "names none"),
        ({"raw": '{"object": "list", "data": []}'}, "not a chat-completions response"),
        ({"raw": "<html>gateway</html>"}, "not a chat-completions response"),
        ({"url": "closed"}, "ConnectError"),
    ],
)
def test_failures_keep_the_matcher_order_and_record_the_error(
    stub: Stub,
    api_key: str,
    caplog: pytest.LogCaptureFixture,
    setup: dict[str, Any],
    expected: str,
) -> None:
    url = stub.url
    for name, value in setup.items():
        if name == "url":
            url = f"http://127.0.0.1:{_free_port()}/v1"
        else:
            setattr(stub, name, value)
    given = _candidates("email", "phone", "name")
    reranker = OpenAIReranker(url=url, model="stub-model", api_key_env=KEY_ENV, timeout_s=0.3)
    with caplog.at_level(logging.WARNING, logger="lakeward.glossary._rerank"):
        result = reranker.rerank(COLUMN, given, TERMS)
    assert [c.term for c in result] == ["email", "phone", "name"]
    assert [c.score for c in result] == [c.score for c in given]
    errors = {c.evidence["reranker"]["error"] for c in result}
    assert len(errors) == 1
    (error,) = errors
    assert expected in error
    assert set(result[0].evidence["reranker"]) == {"error"}
    assert api_key not in error and api_key not in caplog.text
    assert expected in caplog.text


def test_parse_ranking_accepts_the_usual_shapes() -> None:
    assert parse_ranking('["a", "b"]') == [("a", None), ("b", None)]
    assert parse_ranking('```\n{"ids": ["b", "a", "b"]}\n```') == [("b", None), ("a", None)]
    assert parse_ranking('Sure! [{"term": 12, "score": 0.5}, {"id": true}] hope it helps') == [
        ("12", 0.5)
    ]
    assert parse_ranking('{"best": [{"id": "x", "confidence": 1}]}') == [("x", 1.0)]
    with pytest.raises(ValueError):
        parse_ranking("no idea")
    with pytest.raises(ValueError):
        parse_ranking('{"a": 1}')


def test_settings_default_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = get_settings()
    assert settings.glossary.reranker_url is None
    assert reranker_from_settings(settings) is None
    assert settings.glossary.reranker_api_key_env == "LAKEWARD_RERANKER_API_KEY"
    assert settings.glossary.reranker_timeout_s == 30
    assert settings.glossary.reranker_top_n == 10
    assert all(isinstance(t, str) for t in settings.glossary.two_person_tags)
    assert settings.glossary.threshold is None

    monkeypatch.setenv("LAKEWARD_GLOSSARY_RERANKER_URL", "http://127.0.0.1:9/v1/")
    with pytest.raises(ConfigurationError, match="LAKEWARD_GLOSSARY_RERANKER_MODEL"):
        reranker_from_settings(get_settings())
    monkeypatch.setenv("LAKEWARD_GLOSSARY_RERANKER_MODEL", "llama3")
    monkeypatch.setenv("LAKEWARD_GLOSSARY_RERANKER_TOP_N", "4")
    monkeypatch.setenv("LAKEWARD_GLOSSARY_RERANKER_TIMEOUT_S", "2.5")
    monkeypatch.setenv("LAKEWARD_GLOSSARY_RERANKER_API_KEY_ENV", "MY_KEY")
    reranker = reranker_from_settings(get_settings())
    assert isinstance(reranker, OpenAIReranker)
    assert (reranker.endpoint, reranker.model, reranker.top_n, reranker.timeout_s) == (
        "http://127.0.0.1:9/v1/chat/completions",
        "llama3",
        4,
        2.5,
    )
    assert reranker.api_key_env == "MY_KEY"
    monkeypatch.setenv("LAKEWARD_GLOSSARY_TWO_PERSON_TAGS", '["phi"]')
    monkeypatch.setenv("LAKEWARD_GLOSSARY_THRESHOLD", "0.5")
    assert get_settings().glossary.two_person_tags == ["phi"]
    assert get_settings().glossary.threshold == 0.5
