"""The Spark ranking job gives the in-process matcher's rankings, one-to-one included."""

from __future__ import annotations

import random

import pytest

from lakeward.glossary import ColumnMeta, Matcher, TermMeta, rank_on_spark

pytestmark = pytest.mark.spark

WORDS = (
    "customer order account balance amount date birth email phone address city country "
    "postal code status created updated product price quantity invoice payment method "
    "employee manager department salary start end region store name number identifier"
).split()


def glossary(n: int = 120) -> list[TermMeta]:
    rng = random.Random(7)
    terms = []
    for i in range(n):
        words = rng.sample(WORDS, 2)
        label = " ".join(w.title() for w in words)
        terms.append(
            TermMeta(
                f"t{i:03d}",
                label,
                f"The {words[0]} {words[1]} of a {rng.choice(WORDS)} record.",
                synonyms=(f"{words[0][:4]}_{words[1]}",) if i % 5 == 0 else (),
            )
        )
    return terms


def columns(n_tables: int = 40) -> list[ColumnMeta]:
    rng = random.Random(11)
    out = []
    for t in range(n_tables):
        table = f"db.{rng.choice(WORDS)}_{t}"
        names = tuple(
            dict.fromkeys(f"{rng.choice(WORDS)[:5]}_{rng.choice(WORDS)}" for _ in range(8))
        )
        out += [
            ColumnMeta(
                table, name, rng.choice(["string", "date", "bigint", "double"]), "", "", names
            )
            for name in names
        ]
    return out


def key(rankings) -> list[tuple[str, str, bool, list[tuple[str, float]]]]:
    return [
        (r.dataset, r.column, r.abstained, [(c.term, round(c.score, 4)) for c in r.candidates])
        for r in rankings
    ]


@pytest.mark.parametrize("one_to_one", [False, True])
def test_spark_ranking_equals_in_process(spark, one_to_one: bool) -> None:
    terms, cols = glossary(), columns()
    matcher = Matcher(terms)
    local = matcher.rank(cols, top_k=5, one_to_one=one_to_one)
    remote = rank_on_spark(
        spark,
        cols,
        terms,
        matcher.config,
        top_k=5,
        one_to_one=one_to_one,
        term_embeddings=matcher.term_embeddings(),
        partitions=2,
    )
    assert key(remote) == key(local)
    assert [c.evidence["agreed"] for r in remote for c in r.candidates] == [
        c.evidence["agreed"] for r in local for c in r.candidates
    ]
