"""Policy tests kept as data: ``<bundle>/tests/*.yaml``, run against a scratch catalog.

Each file declares fixtures and cases::

    datasets:                      # catalog entries the cases refer to, with their tags
      sales.customers: {tags: [pii, financial], columns: {email: [pii_direct]},
                        classified: true}
    acknowledged: [[bob, fraud_detection]]
    cases:
      - name: fraud team reads payments, emails masked
        request: {principal: bob, action: lake.read_content, resource: sales.customers,
                  context: {purpose: fraud_detection}}
        expect: {decision: allow, policies: [fraud-reads-payments], obligations: [mask:email]}
      - name: a reader retrieves a document
        request: {principal: alice, action: rag.query, resource: "document:d1",
                  document: {readers: ["group:analysts"], licence: permissive},
                  context: {purpose: document_retrieval}}
        expect: {decision: allow}

A dataset's columns are ``id`` plus those listed. ``classified: true`` records a complete
classification of it, as ``lakeward tag classify`` leaves one: untagged columns are tagged
``not_sensitive``. Tags are approved (as a steward's are).

``expect.policies`` and ``expect.obligations`` are compared as sets when given. Coverage
lists, per policy id, how many cases it decided; a policy no case exercises is reported.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lakeward.catalog import (
    Catalog,
    Classification,
    ColumnStats,
    DatasetRepository,
    TagRepository,
)
from lakeward.errors import InputError
from lakeward.policy._bundle import PolicyBundle
from lakeward.policy._engine import DocumentFacts, PolicyEngine
from lakeward.policy._labels import DEFAULT_LICENCE
from lakeward.policy._purposes import record_acknowledgement

__all__ = ["CaseResult", "TestReport", "run_policy_tests", "seed_datasets"]


@dataclass
class CaseResult:
    """One case's outcome."""

    file: str
    name: str
    passed: bool
    expected: dict[str, Any]
    actual: dict[str, Any]


@dataclass
class TestReport:
    """All cases, and coverage per policy id."""

    cases: list[CaseResult] = field(default_factory=list)
    coverage: dict[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> list[CaseResult]:
        """Cases whose decision differed from the expectation."""
        return [c for c in self.cases if not c.passed]

    @property
    def uncovered(self) -> list[str]:
        """Policy ids no case exercised."""
        return sorted(pid for pid, n in self.coverage.items() if n == 0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "passed": len(self.cases) - len(self.failed),
            "failed": len(self.failed),
            "cases": [asdict(c) for c in self.cases],
            "coverage": self.coverage,
            "uncovered": self.uncovered,
        }


def seed_datasets(catalog: Catalog, datasets: dict[str, Any]) -> None:
    """Register profiled test datasets: ``{name: {tags: [..], columns: {col: [tags]}}}``.

    ``classified: true`` records a complete classification of the dataset's version, with
    ``not_sensitive`` on its untagged columns.
    """
    with catalog.session() as session:
        repo = DatasetRepository(session)
        tags = TagRepository(session)
        for name, ds in datasets.items():
            ds = ds or {}
            columns: dict[str, list[str]] = ds.get("columns") or {}
            dataset, _ = repo.register(
                name=name,
                uri=f"test://{name}",
                lake_root="test://",
                format="parquet",
                layout="file",
                file_count=1,
                bytes=0,
            )
            repo.record_profile(
                dataset,
                rows=0,
                bytes=0,
                file_count=1,
                fingerprint="0" * 64,
                file_signature="t",
                columns=[
                    ColumnStats(c, "string", True, None, None, 0, 0) for c in ["id", *columns]
                ],
                seconds=0.0,
                principal=None,
            )
            for tag in ds.get("tags") or []:
                tags._add(dataset, tag)
            for column, ctags in columns.items():
                for tag in ctags or []:
                    tags._add(dataset, tag, column=column)
            if ds.get("classified"):
                for column in ["id", *columns]:
                    if not columns.get(column):
                        tags._add(dataset, "not_sensitive", column=column, source="values")
                session.add(
                    Classification(
                        dataset_id=dataset.id,
                        version=dataset.current_version,
                        principal="policy-test",
                        purpose="data_governance",
                        seed=0,
                        sample_rows=0,
                        evidence={},
                        summary={},
                    )
                )


def _document(spec: dict[str, Any] | None) -> DocumentFacts | None:
    """A case's ``document`` (for ``document:ID`` resources): readers, licence, dataset, tags."""
    if spec is None:
        return None
    return DocumentFacts.of(
        "",
        str(spec.get("store", "policy-test")),
        str(spec.get("dataset", "")),
        spec.get("readers") or [],
        str(spec.get("licence", DEFAULT_LICENCE)),
        spec.get("tags") or [],
    )


def _fixtures(catalog: Catalog, bundle: PolicyBundle, spec: dict[str, Any]) -> None:
    seed_datasets(catalog, spec.get("datasets") or {})
    for principal, purpose in spec.get("acknowledged") or []:
        record_acknowledgement(catalog, bundle, principal, purpose)


def run_policy_tests(bundle: PolicyBundle) -> TestReport:
    """Run every ``tests/*.yaml`` case of ``bundle`` on a scratch SQLite catalog.

    Raises:
        InputError: a test file is malformed.
    """
    report = TestReport(coverage={pid: 0 for pid in bundle.policies})
    for path in sorted((bundle.directory / "tests").glob("*.yaml")):
        try:
            spec = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise InputError(f"{path.name}: not valid YAML ({exc})") from exc
        with tempfile.TemporaryDirectory(prefix="lakeward-policy-test-") as scratch:
            catalog = Catalog.open(f"sqlite:///{Path(scratch) / 'catalog.db'}")
            try:
                _fixtures(catalog, bundle, spec)
                engine = PolicyEngine(bundle, catalog)
                for i, case in enumerate(spec.get("cases") or []):
                    try:
                        req, expect = case["request"], case["expect"]
                        decision = engine.decide(
                            req["principal"],
                            req["action"],
                            req["resource"],
                            req.get("context"),
                            document=_document(req.get("document")),
                        )
                    except (KeyError, TypeError) as exc:
                        raise InputError(
                            f"{path.name}: case #{i + 1} is malformed ({exc})"
                        ) from exc
                    for pid in decision.policy_ids:
                        report.coverage[pid] = report.coverage.get(pid, 0) + 1
                    actual = {
                        "decision": decision.decision,
                        "policies": sorted(decision.policy_ids),
                        "obligations": sorted(decision.obligations),
                        "reasons": list(decision.reasons),
                    }
                    passed = expect.get("decision") == actual["decision"]
                    for key in ("policies", "obligations"):
                        if key in expect:
                            passed = passed and sorted(expect[key] or []) == actual[key]
                    report.cases.append(
                        CaseResult(
                            path.name,
                            str(case.get("name", f"case {i + 1}")),
                            passed,
                            dict(expect),
                            actual,
                        )
                    )
            finally:
                catalog.dispose()
    return report
