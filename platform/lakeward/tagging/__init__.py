"""Dataset tagging: column semantic types and sensitivity tags from names and sampled values.

- ``_service``: :func:`classify` (per changed dataset: decide ``lake.read_content``, sample,
  detect, write suggestions and approvals with their evidence through the policy layer,
  record the classification; then :func:`propagate` along containment edges),
  :func:`list_tags`, :func:`explain_column`, :func:`resolve_target` (``DATASET.COLUMN``).
- ``_sample``: the Spark sampling job (a bounded, seeded sample of every leaf column).
- ``_detectors``: what names and sampled values say about a column's type, and how the
  findings combine into one confidence per type (``_detect_*``, ``_validators``: the checks).

Tags change only through :mod:`lakeward.policy` (``tag.assign``, audited): approve, reject,
add and remove them with :func:`lakeward.policy.approve_tag`, ``reject_tag``, ``assign_tag``
and ``remove_tag``.
"""

from lakeward.tagging._sample import ColumnSample, sample_dataset
from lakeward.tagging._service import (
    SUGGEST_FLOOR,
    ClassifiedDataset,
    ClassifyReport,
    ClassifyStatus,
    ColumnExplanation,
    Sampler,
    TagRecord,
    classify,
    explain_column,
    list_tags,
    propagate,
    resolve_target,
)

__all__ = [
    "SUGGEST_FLOOR",
    "ClassifiedDataset",
    "ClassifyReport",
    "ClassifyStatus",
    "ColumnExplanation",
    "ColumnSample",
    "Sampler",
    "TagRecord",
    "classify",
    "explain_column",
    "list_tags",
    "propagate",
    "resolve_target",
    "sample_dataset",
]
