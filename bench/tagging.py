"""Benchmark: column tagging quality beside two baselines, and what sampling costs.

Quality: precision, recall and F1 per semantic type (``type.email`` … ``type.free_text_pii``)
on two kinds of data:

- **generated lake** (``lakeward lake generate``): its manifest names every PII column's type
  (``column_types``) and plants hard negatives (``hard_negatives``: ``email_verified``
  integers, ids that pass Luhn by chance, ZIP+4 codes, ISO 11649 references, comments about
  email without an address); city/state/country columns are left out of the scoring
  (``unscored_columns``); every other column is a negative for every type.
- **public data whose labels we did not write**: Faker and Mimesis (PyPI packages, offline)
  generate tables in seven locales; a column's label is the provider that generated it
  (Faker's ``ssn`` → ``type.national_id``, Mimesis' ``Code.imei`` → none). Each table is
  written twice: columns named after the provider (``credit_card_number``) and opaque
  (``c07``), so the name-only baseline is measured with and without helpful names. Lakeward's
  person-name lexicon includes Faker's name lists, so Faker's name columns are not an
  independent test of it; Mimesis' are.

Methods, run on the same rows:

- **name-regex**: column-name regular expressions in the style of OpenMetadata's
  ``ColumnNameScanner`` (``^.*(email|e-mail|mail).*$``, first match wins), written here;
- **values-only**: Lakeward's value detectors (``value_evidence``) on the sampled values, the
  column name withheld;
- **lakeward**: ``lakeward.tagging.classify`` end to end (sampling job, names + values,
  tags written to the catalog, read back with ``list_tags``); a column counts as tagged with
  a type when classify auto-approved it (``approved``: the bundle's ``auto_approve``, what
  policies see without a steward) or left it suggested or approved at ``--threshold`` or
  more (``>=0.5``); every suggestion down to the service's floor (the review queue) is
  summarised on one line.

Cost: per dataset, ``sample_dataset`` (the tagging Spark job, 1,000 rows) beside
``profile_one`` (the profiling Spark job), both one dataset at a time on one warm session.

Usage::

    .venv/bin/python bench/tagging.py [--size-mb 5] [--rows 1000] [--threshold 0.5]
                                       [--no-external] [--json PATH]

The defaults finish in under 5 minutes on 2 cores; ``--size-mb 50 --no-external`` measures
the cost on the demo lake's size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from lakeward.tagging._detectors import TYPES

Key = tuple[str, str]  # (dataset, column)
Truth = dict[Key, str | None]  # scored columns: their type, or None for "holds none"
Predictions = dict[Key, set[str]]

# --------------------------------------------------------------------------------------------
# Baseline: OpenMetadata-style column-name regexes (our own, written in the style of
# ingestion/src/metadata/pii/scanners/column_name_scanner.py: case-insensitive ``^.*(…).*$``
# patterns over the raw column name, the first that matches decides). Separators between
# words are allowed (``first[_ -]?name``) so the baseline is not weaker than it needs to be.
# --------------------------------------------------------------------------------------------

NAME_REGEXES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (t, re.compile(p, re.IGNORECASE))
    for t, p in (
        ("type.national_id", r"^.*(ssn|social|national[ _-]?id|nino|passport|tax[ _-]?id).*$"),
        ("type.credit_card", r"^.*(credit.*card|card).*$"),
        ("type.iban", r"^.*(iban|bank.*(acc|num)).*$"),
        ("type.email", r"^.*(email|e-mail|mail).*$"),
        ("type.ip_address", r"^.*(ip[ _-]?addr|ipv4|ipv6|ip[ _-]?v[46]).*$|^ip$"),
        (
            "type.person_name",
            r"^.*(first[ _-]?name|last[ _-]?name|full[ _-]?name|maiden[ _-]?name|"
            r"nick[ _-]?name|surname|given[ _-]?name|(user|client|person|customer|contact|"
            r"holder|patient|employee).*name|^name$).*$",
        ),
        ("type.date_of_birth", r"^.*(date[ _-]?of[ _-]?birth|dateofbirth|dob|birth).*$"),
        ("type.postal_code", r"^.*(zip|postal|post[ _-]?code).*$"),
        ("type.address", r"^.*(address|addr|street).*$"),
        ("type.phone", r"^.*(phone|mobile|tel|fax|msisdn).*$"),
        ("type.geo", r"^.*(latitude|longitude|geo|coord).*$|^(lat|lon|lng)([ _-].*)?$"),
        ("type.free_text_pii", r"^.*(comment|note|remark|message|free[ _-]?text).*$"),
    )
)


def name_regex(column: str) -> set[str]:
    """The baseline's type for a column name (at most one)."""
    leaf = column.rsplit(".", 1)[-1]
    for type_, pattern in NAME_REGEXES:
        if pattern.match(leaf):
            return {type_}
    return set()


# --------------------------------------------------------------------------------------------
# Public evaluation data: Faker and Mimesis providers, labelled by provider
# --------------------------------------------------------------------------------------------

UNSCORED = "unscored"
FAKER_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES", "it_IT")
MIMESIS_LOCALES = ("EN", "EN_GB", "DE", "FR", "NL", "ES", "IT")

# (column name = the provider's own name, label, how to draw one value)
_Column = tuple[str, str | None, Callable[[Any], Any]]
FAKER_COLUMNS: tuple[_Column, ...] = (
    ("name", "type.person_name", lambda f: f.name()),
    ("first_name", "type.person_name", lambda f: f.first_name()),
    ("last_name", "type.person_name", lambda f: f.last_name()),
    ("email", "type.email", lambda f: f.email()),
    ("free_email", "type.email", lambda f: f.free_email()),
    ("company_email", "type.email", lambda f: f.company_email()),
    ("phone_number", "type.phone", lambda f: f.phone_number()),
    ("street_address", "type.address", lambda f: f.street_address()),
    ("address", "type.address", lambda f: f.address()),
    ("postcode", "type.postal_code", lambda f: f.postcode()),
    ("date_of_birth", "type.date_of_birth", lambda f: f.date_of_birth()),
    ("credit_card_number", "type.credit_card", lambda f: f.credit_card_number()),
    ("ssn", "type.national_id", lambda f: f.ssn()),
    ("iban", "type.iban", lambda f: f.iban()),
    ("ipv4_public", "type.ip_address", lambda f: f.ipv4_public()),
    ("ipv6", "type.ip_address", lambda f: f.ipv6()),
    ("latitude", "type.geo", lambda f: float(f.latitude())),
    ("longitude", "type.geo", lambda f: float(f.longitude())),
    ("city", UNSCORED, lambda f: f.city()),
    ("country", UNSCORED, lambda f: f.country()),
    ("company", None, lambda f: f.company()),
    ("job", None, lambda f: f.job()),
    ("catch_phrase", None, lambda f: f.catch_phrase()),
    ("sentence", None, lambda f: f.sentence()),
    ("paragraph", None, lambda f: f.paragraph()),
    ("word", None, lambda f: f.word()),
    ("color_name", None, lambda f: f.color_name()),
    ("uuid4", None, lambda f: f.uuid4()),
    ("ean13", None, lambda f: f.ean13()),
    ("isbn13", None, lambda f: f.isbn13()),
    ("swift", None, lambda f: f.swift()),
    ("currency_code", None, lambda f: f.currency_code()),
    ("url", None, lambda f: f.url()),
    ("user_agent", None, lambda f: f.user_agent()),
    ("license_plate", None, lambda f: f.license_plate()),
    ("date_this_decade", None, lambda f: f.date_this_decade()),
    ("random_number", None, lambda f: f.random_number(digits=16, fix_len=True)),
    ("pyfloat", None, lambda f: f.pyfloat(right_digits=2, min_value=-40, max_value=45)),
    ("boolean", None, lambda f: f.boolean()),
    ("file_name", None, lambda f: f.file_name()),
)
MIMESIS_COLUMNS: tuple[_Column, ...] = (
    ("full_name", "type.person_name", lambda m: m["person"].full_name()),
    ("first_name", "type.person_name", lambda m: m["person"].first_name()),
    ("surname", "type.person_name", lambda m: m["person"].surname()),
    ("email", "type.email", lambda m: m["person"].email()),
    ("phone_number", "type.phone", lambda m: m["person"].phone_number()),
    ("address", "type.address", lambda m: m["address"].address()),
    ("postal_code", "type.postal_code", lambda m: m["address"].postal_code()),
    ("birthdate", "type.date_of_birth", lambda m: m["person"].birthdate(1940, 2005)),
    ("credit_card_number", "type.credit_card", lambda m: m["payment"].credit_card_number()),
    ("ip_v4", "type.ip_address", lambda m: m["internet"].ip_v4()),
    ("ip_v6", "type.ip_address", lambda m: m["internet"].ip_v6()),
    ("latitude", "type.geo", lambda m: m["address"].latitude()),
    ("longitude", "type.geo", lambda m: m["address"].longitude()),
    ("city", UNSCORED, lambda m: m["address"].city()),
    ("country", UNSCORED, lambda m: m["address"].country()),
    ("occupation", None, lambda m: m["person"].occupation()),
    ("company", None, lambda m: m["finance"].company()),
    ("sentence", None, lambda m: m["text"].sentence()),
    ("text", None, lambda m: m["text"].text(quantity=3)),
    ("word", None, lambda m: m["text"].word()),
    ("imei", None, lambda m: m["code"].imei()),
    ("isbn", None, lambda m: m["code"].isbn()),
    ("ean", None, lambda m: m["code"].ean()),
    ("cvv", None, lambda m: m["payment"].cvv()),
    ("bitcoin_address", None, lambda m: m["payment"].bitcoin_address()),
    ("url", None, lambda m: m["internet"].url()),
    ("date", None, lambda m: m["datetime"].date(2015, 2025)),
    ("price", None, lambda m: m["finance"].price()),
    ("integer_number", None, lambda m: m["numeric"].integer_number(10**15, 10**16 - 1)),
    ("height", None, lambda m: m["person"].height()),
)


def _normalise(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _write_tables(
    root: Path, domain: str, tables: dict[str, list[tuple[str, str | None, list[Any]]]]
) -> Truth:
    """Write each locale's table twice (provider names, opaque names); return the labels."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    truth: Truth = {}
    (root / domain).mkdir(parents=True, exist_ok=True)
    for locale, columns in tables.items():
        slug = locale.lower()
        for variant in ("named", "opaque"):
            names = [
                name if variant == "named" else f"c{i:02d}"
                for i, (name, _, _) in enumerate(columns)
            ]
            table = pa.table({n: values for n, (_, _, values) in zip(names, columns, strict=True)})
            dataset = f"{variant}_{slug}"
            pq.write_table(table, root / domain / f"{dataset}.parquet")
            for name, (_, label, _) in zip(names, columns, strict=True):
                if label != UNSCORED:
                    truth[(f"{domain}.{dataset}", name)] = label
    return truth


def external_lake(root: Path, rows: int, seed: int) -> tuple[Truth, list[str]]:
    """Faker and Mimesis tables under ``root``; labels, and which sources were available."""
    tables: dict[str, list[tuple[str, str | None, list[Any]]]] = {}
    truth: Truth = {}
    sources: list[str] = []
    try:
        from faker import Faker
    except ImportError:
        print("faker not installed: skipping the Faker set (pip install faker)")
    else:
        for locale in FAKER_LOCALES:
            fake = Faker(locale)
            fake.seed_instance(seed)
            tables[locale] = [
                (name, label, [_normalise(draw(fake)) for _ in range(rows)])
                for name, label, draw in FAKER_COLUMNS
            ]
        truth |= _write_tables(root, "faker", tables)
        sources.append("faker")
    try:
        import mimesis
        from mimesis.locales import Locale
    except ImportError:
        print("mimesis not installed: skipping the Mimesis set (pip install mimesis)")
    else:
        tables = {}
        for code in MIMESIS_LOCALES:
            locale = Locale[code]
            m = {
                "person": mimesis.Person(locale, seed=seed),
                "address": mimesis.Address(locale, seed=seed),
                "text": mimesis.Text(locale, seed=seed),
                "finance": mimesis.Finance(locale, seed=seed),
                "datetime": mimesis.Datetime(locale, seed=seed),
                "payment": mimesis.Payment(seed=seed),
                "internet": mimesis.Internet(seed=seed),
                "code": mimesis.Code(seed=seed),
                "numeric": mimesis.Numeric(seed=seed),
            }
            tables[code] = [
                (name, label, [_normalise(draw(m)) for _ in range(rows)])
                for name, label, draw in MIMESIS_COLUMNS
            ]
        truth |= _write_tables(root, "mimesis", tables)
        sources.append("mimesis")
    return truth, sources


def generated_truth(manifest: dict[str, Any]) -> tuple[Truth, dict[Key, list[str]]]:
    """Scored columns of the generated lake with their types, and its hard negatives."""
    truth: Truth = {}
    for entry in manifest["datasets"]:
        name = entry["name"]
        types = manifest["column_types"].get(name, {})
        unscored = set(manifest["unscored_columns"].get(name, []))
        for column in entry["columns"]:
            if column["name"] not in unscored:
                truth[(name, column["name"])] = types.get(column["name"])
    negatives = {
        (name, column): confusable
        for name, columns in manifest["hard_negatives"].items()
        for column, confusable in columns.items()
    }
    return truth, negatives


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------


def score(truth: Truth, predicted: Predictions) -> dict[str, dict[str, float]]:
    """Per type (and ``micro``): true/false positives, false negatives, precision, recall, F1."""
    out: dict[str, dict[str, float]] = {}
    totals = {"tp": 0, "fp": 0, "fn": 0}
    for type_ in TYPES:
        tp = sum(1 for k, t in truth.items() if t == type_ and type_ in predicted.get(k, set()))
        fp = sum(1 for k, t in truth.items() if t != type_ and type_ in predicted.get(k, set()))
        fn = sum(1 for k, t in truth.items() if t == type_ and type_ not in predicted.get(k, set()))
        n = tp + fn
        if n == 0 and fp == 0:
            continue
        out[type_] = _prf(tp, fp, fn)
        for key, value in (("tp", tp), ("fp", fp), ("fn", fn)):
            totals[key] += value
    out["micro"] = _prf(totals["tp"], totals["fp"], totals["fn"])
    return out


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = (
        2 * precision * recall / (precision + recall)
        if tp and precision == precision and recall == recall
        else 0.0
    )
    return {"n": tp + fn, "tp": tp, "fp": fp, "fn": fn, "p": precision, "r": recall, "f1": f1}


def _cell(s: dict[str, float] | None) -> str:
    if s is None:
        return f"{'—':>5} {'—':>5} {'—':>5}"

    def fmt(x: float) -> str:
        return f"{x:5.2f}" if x == x else f"{'—':>5}"

    return f"{fmt(s['p'])} {fmt(s['r'])} {fmt(s['f1'])}"


def print_table(title: str, truth: Truth, results: dict[str, Predictions]) -> dict[str, Any]:
    """Print P/R/F1 per type for every method; returns the scores."""
    scores = {method: score(truth, predicted) for method, predicted in results.items()}
    methods = list(results)
    head = " | ".join(f"{m:^17}" for m in methods)
    sub = " | ".join(f"{'P':>5} {'R':>5} {'F1':>5}" for _ in methods)
    positives = sum(1 for t in truth.values() if t)
    print(f"\n{title}: {len(truth)} scored columns, {positives} with a type")
    print(f"{'type':<20} {'n':>4} | {head} | ratio F1")
    print(f"{'':<20} {'':>4} | {sub} | {methods[-1]}/{methods[0]}")
    rows = [t for t in TYPES if any(t in s for s in scores.values())] + ["micro"]
    for type_ in rows:
        n = next((int(s[type_]["n"]) for s in scores.values() if type_ in s), 0)
        cells = " | ".join(_cell(scores[m].get(type_)) for m in methods)
        first, last = scores[methods[0]].get(type_), scores[methods[-1]].get(type_)
        ratio = (
            f"{last['f1'] / first['f1']:.2f}"
            if first and last and first["f1"] > 0
            else ("inf" if last and last["f1"] > 0 else "—")
        )
        print(f"{type_:<20} {n:>4} | {cells} | {ratio:>8}")
    return scores


def hard_negative_report(negatives: dict[Key, list[str]], results: dict[str, Predictions]) -> None:
    """How many hard negatives each method tags with a type they were built to imitate."""
    print(f"\nhard negatives: {len(negatives)} columns (fooled = tagged with a confusable type)")
    for method, predicted in results.items():
        fooled = sorted(
            f"{ds}.{col}→{','.join(sorted(predicted.get((ds, col), set()) & set(conf)))}"
            for (ds, col), conf in negatives.items()
            if predicted.get((ds, col), set()) & set(conf)
        )
        distinct = sorted({f.split(".", 1)[1] if "." in f else f for f in fooled})
        shown = "; ".join(distinct[:8]) + (" …" if len(distinct) > 8 else "")
        print(f"  {method:<18} fooled {len(fooled):>3}  {shown}")


# --------------------------------------------------------------------------------------------
# Running the methods
# --------------------------------------------------------------------------------------------


def sample_all(
    catalog: Any, names: Iterable[str], rows: int, seed: int
) -> tuple[dict[str, list[Any]], dict[str, float]]:
    """Every dataset's samples and the seconds each sampling job took."""
    from lakeward.tagging._sample import sample_dataset

    samples: dict[str, list[Any]] = {}
    seconds: dict[str, float] = {}
    for name in names:
        started = time.perf_counter()
        samples[name] = sample_dataset(catalog, name, rows=rows, seed=seed)
        seconds[name] = time.perf_counter() - started
    return samples, seconds


def detector_predictions(
    samples: dict[str, list[Any]], threshold: float, *, names: bool
) -> Predictions:
    """Types whose combined confidence reaches ``threshold`` (values only unless ``names``)."""
    from lakeward.tagging._detectors import combine, name_evidence, value_evidence

    predicted: Predictions = {}
    for dataset, columns in samples.items():
        for s in columns:
            evidence = list(name_evidence(s.column, dataset, s.declared_type)) if names else []
            evidence += value_evidence(s.values, s.declared_type, column=s.column if names else "")
            predicted[(dataset, s.column)] = {
                t for t, (confidence, _) in combine(evidence).items() if confidence >= threshold
            }
    return predicted


def regex_predictions(samples: dict[str, list[Any]]) -> Predictions:
    return {(ds, s.column): name_regex(s.column) for ds, cols in samples.items() for s in cols}


def classify_predictions(
    catalog: Any, names: list[str], rows: int, seed: int, threshold: float
) -> tuple[dict[str, Predictions], float]:
    """Run ``lakeward.tagging.classify`` and read back the type tags it left.

    Returns the predictions at three operating points (auto-approved tags; suggested or
    approved tags at ``threshold`` or more; every suggestion, down to the service's floor)
    and the seconds classify took.
    """
    from lakeward.tagging import classify, list_tags

    started = time.perf_counter()
    classify(catalog, "local-user", datasets=names, seed=seed, sample_rows=rows)
    seconds = time.perf_counter() - started
    points: dict[str, Predictions] = {"approved": {}, f">={threshold:g}": {}, "all": {}}
    for record in list_tags(catalog, "local-user", datasets=names):
        if not record.tag.startswith("type.") or not record.column:
            continue
        key = (record.dataset, record.column)
        if record.status == "approved":
            points["approved"].setdefault(key, set()).add(record.tag)
        if record.status in ("suggested", "approved"):
            points["all"].setdefault(key, set()).add(record.tag)
            if record.confidence >= threshold:
                points[f">={threshold:g}"].setdefault(key, set()).add(record.tag)
    return points, seconds


def profile_seconds(catalog: Any, names: Iterable[str]) -> dict[str, float]:
    """Seconds of each dataset's profiling job, one dataset at a time (forced)."""
    from lakeward.lake import profile_one

    seconds: dict[str, float] = {}
    for name in names:
        outcome = profile_one(catalog, name, force=True, principal="local-user")
        assert outcome.status == "profiled", (name, outcome.error)
        seconds[name] = outcome.seconds
    return seconds


def evaluate(
    title: str,
    catalog: Any,
    names: list[str],
    truth: Truth,
    args: argparse.Namespace,
    negatives: dict[Key, list[str]] | None = None,
    samples: dict[str, list[Any]] | None = None,
) -> dict[str, Any]:
    if samples is None:
        samples, _ = sample_all(catalog, names, args.rows, args.seed)
    results: dict[str, Predictions] = {
        "name-regex": regex_predictions(samples),
        "values-only": detector_predictions(samples, args.threshold, names=False),
    }
    points, seconds = classify_predictions(catalog, names, args.rows, args.seed, args.threshold)
    results["lakeward approved"] = points["approved"]
    results[f"lakeward >={args.threshold:g}"] = points[f">={args.threshold:g}"]
    print(f"\n{title}: classify took {seconds:.1f} s for {len(names)} datasets")
    out = {"scores": print_table(title, truth, results)}
    review = score(truth, points["all"])["micro"]
    print(
        f"{'every suggestion (review queue, down to the floor)':<52} "
        f"P {review['p']:.2f} R {review['r']:.2f} F1 {review['f1']:.2f}"
    )
    out["scores"]["lakeward all"] = score(truth, points["all"])
    if negatives:
        hard_negative_report(negatives, {**results, "lakeward all": points["all"]})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=float, default=5.0, help="generated lake size")
    parser.add_argument("--rows", type=int, default=1000, help="sampled rows per dataset")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--external-rows", type=int, default=300, help="rows per public table")
    parser.add_argument(
        "--threshold", type=float, default=0.5, help="confidence at which a detector tags"
    )
    parser.add_argument("--no-external", action="store_true", help="skip Faker/Mimesis")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lakeward-bench-tagging-") as tmp:
        os.environ["LAKEWARD_HOME"] = str(Path(tmp) / "home")
        os.environ.pop("LAKEWARD_CATALOG_URL", None)
        os.environ.setdefault("LAKEWARD_SPARK_MASTER", "local[*]")
        from lakeward.catalog import Catalog
        from lakeward.lake import MANIFEST_NAME, generate_lake, register_lake
        from lakeward.policy import acknowledge_purpose, engine_for

        catalog = Catalog.open()
        bundle = engine_for(catalog).bundle
        for purpose in ("catalog_maintenance", "data_governance"):
            acknowledge_purpose(catalog, bundle, "local-user", purpose)
        lake = Path(tmp) / "lake"
        generate_lake(lake, seed=args.seed, size_mb=args.size_mb)
        manifest = json.loads((lake / MANIFEST_NAME).read_text())
        names = sorted(register_lake(catalog, lake, principal="local-user").datasets)
        print(f"generated lake: {len(names)} datasets, {args.size_mb:g} MB")

        # Cost: profiling (which also warms Spark up), then sampling, one dataset at a time.
        profile_seconds(catalog, names[:3])  # warm-up
        profiled = profile_seconds(catalog, names)
        samples, sampled = sample_all(catalog, names, args.rows, args.seed)
        ratios = [sampled[n] / profiled[n] for n in names]
        print(
            f"\ncost per dataset ({len(names)} datasets, one at a time, warm session): "
            f"profile median {statistics.median(profiled.values()):.3f} s, "
            f"sample ({args.rows} rows) median {statistics.median(sampled.values()):.3f} s; "
            f"sample/profile median {statistics.median(ratios):.2f}, "
            f"total {sum(sampled.values()):.1f} s / {sum(profiled.values()):.1f} s = "
            f"{sum(sampled.values()) / sum(profiled.values()):.2f}; "
            f"sampling slower on {sum(r > 1 for r in ratios)} datasets"
        )
        for n in names:
            if sampled[n] > profiled[n]:
                print(f"  slower: {n} profile {profiled[n]:.3f} s, sample {sampled[n]:.3f} s")
        biggest = sorted(names, key=lambda n: -profiled[n])[:5]
        for n in biggest:
            print(f"  {n:<36} profile {profiled[n]:6.3f} s  sample {sampled[n]:6.3f} s")

        truth, negatives = generated_truth(manifest)
        results: dict[str, Any] = {
            "cost": {"profile_s": profiled, "sample_s": sampled},
            "generated": evaluate(
                "generated lake", catalog, names, truth, args, negatives, samples
            ),
        }
        if not args.no_external:
            external = Path(tmp) / "external"
            ext_truth, sources = external_lake(external, args.external_rows, args.seed)
            if sources:
                ext_names = sorted(register_lake(catalog, external).datasets)
                for name in ext_names:
                    profile_seconds(catalog, [name])
                for variant in ("named", "opaque"):
                    chosen = [n for n in ext_names if n.split(".", 1)[1].startswith(variant)]
                    chosen_truth = {k: v for k, v in ext_truth.items() if k[0] in chosen}
                    title = f"public data ({'+'.join(sources)}, {variant} columns)"
                    results[f"public_{variant}"] = evaluate(
                        title, catalog, chosen, chosen_truth, args
                    )
        catalog.dispose()
    print(f"\nbench took {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, set):
        return sorted(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


if __name__ == "__main__":
    main()
