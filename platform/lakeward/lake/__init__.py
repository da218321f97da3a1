"""The data lake: find datasets, check their files, profile them on Spark, make sample lakes.

- ``_discover``: what counts as a dataset under a lake root, its name and files.
- ``_schema``: per-format file checks (Parquet footers, CSV/JSON heads) and the Spark read
  plan (explicit schema, CSV dialect, ``FAILFAST``) — errors name the dataset, the file,
  the line and the fix, never a value.
- ``_text``: CSV dialect sniffing (RFC 4180, delimiter, encoding, BOM), heads cut at whole
  records, the JSON nesting-depth scan, and locating a bad record by line.
- ``_profile``: one Spark aggregation per dataset: rows, per-column min/max/nulls/approx
  distinct, and the order-independent content fingerprint; columns whose later values do
  not fit are widened (int → bigint → double → string) and the widening recorded.
- ``_service``: register a lake and profile its datasets into the catalog, atomically per
  dataset, skipping unchanged ones.
- ``_external``: metadata-only datasets (``format`` ``schema``) from a schema file: tables
  known only by their columns, types and descriptions; profiling and dedup skip them.
- ``_generate``: the seeded sample enterprise lake with planted redundancy and its manifest.
"""

from typing import TYPE_CHECKING, Any

from lakeward.lake._discover import (
    DataFile,
    DatasetSpec,
    LakeDiscovery,
    LakeRoot,
    SkippedPath,
    discover,
    discover_lake,
    open_root,
)
from lakeward.lake._external import SCHEMA_FORMAT, ImportedTable, import_schema, spark_type_name
from lakeward.lake._service import (
    DatasetOutcome,
    ProfileReport,
    RegisterReport,
    profile_datasets,
    profile_one,
    register_lake,
    spec_for,
)

if TYPE_CHECKING:
    from lakeward.lake._generate import MANIFEST_NAME, GeneratedLake, generate_lake
    from lakeward.lake._profile import (
        DatasetProfile,
        content_fingerprint,
        profile_dataset,
        read_dataset,
        read_failure,
    )

__all__ = [
    "MANIFEST_NAME",
    "SCHEMA_FORMAT",
    "DataFile",
    "DatasetOutcome",
    "DatasetProfile",
    "DatasetSpec",
    "GeneratedLake",
    "ImportedTable",
    "LakeDiscovery",
    "LakeRoot",
    "ProfileReport",
    "RegisterReport",
    "SkippedPath",
    "content_fingerprint",
    "discover",
    "discover_lake",
    "generate_lake",
    "import_schema",
    "open_root",
    "profile_dataset",
    "profile_datasets",
    "profile_one",
    "read_dataset",
    "read_failure",
    "register_lake",
    "spark_type_name",
    "spec_for",
]

_LAZY = {
    "MANIFEST_NAME": "lakeward.lake._generate",
    "GeneratedLake": "lakeward.lake._generate",
    "generate_lake": "lakeward.lake._generate",
    "DatasetProfile": "lakeward.lake._profile",
    "content_fingerprint": "lakeward.lake._profile",
    "profile_dataset": "lakeward.lake._profile",
    "read_dataset": "lakeward.lake._profile",
    "read_failure": "lakeward.lake._profile",
}


def __getattr__(name: str) -> Any:
    """Import numpy/pyspark-heavy members on first use."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lakeward.lake' has no attribute {name!r}")
