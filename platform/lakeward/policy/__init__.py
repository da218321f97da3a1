"""The policy layer: every privileged action asks here first.

- ``_bundle``: load and validate the bundle (Cedar schema + policies, principals, purposes,
  tags, budget caps); its revision hash is recorded with every decision.
- ``_engine``: :func:`decide`, and :func:`guard` — the one enforcement point every
  privileged library function calls (decide, audit, raise or return obligations; a bundle
  that cannot load or an edited installed revision denies, audited; nobody acts on another
  authenticated principal's behalf).
- ``_governance``: tag changes, each decided as ``tag.assign`` and audited:
  :func:`assign_tag` / :func:`remove_tag` (a steward's own), :func:`suggest_tags` (a
  classifier's findings, auto-approved above the bundle's threshold; rejections remembered
  until the column changes), :func:`approve_tag` / :func:`reject_tag` (review),
  :func:`propagate_tags` (along containment edges); :func:`record_event` (``audit.append``).
- ``_purposes``: purpose acknowledgements.
- ``_budget``: :class:`BudgetLedger` — rho-zCDP reserve/commit/release under caps.
- ``_approvals``: :class:`Approvals` — two-person approvals, consumed once.
- ``_tests``: policy tests kept as data (``policies/tests/*.yaml``) with coverage.
- ``_revisions``: installed bundle revisions (apply, log) and the audit-replay diff.
"""

from lakeward.policy._approvals import Approvals
from lakeward.policy._budget import BudgetLedger, Reservation
from lakeward.policy._bundle import (
    BudgetCap,
    PolicyBundle,
    PolicyBundleError,
    PolicyInfo,
    TagSpec,
    load_bundle,
)
from lakeward.policy._engine import (
    Decision,
    DocumentFacts,
    NearestPermit,
    PolicyEngine,
    decide,
    default_engine,
    enforce,
    engine_for,
    guard,
    guard_documents,
)
from lakeward.policy._governance import (
    ClassificationRecord,
    TagChange,
    TagSource,
    TagSuggestion,
    approve_tag,
    assign_tag,
    propagate_tags,
    record_event,
    reject_tag,
    remove_tag,
    suggest_tags,
)
from lakeward.policy._purposes import acknowledge_purpose
from lakeward.policy._revisions import (
    DecisionChange,
    active_bundle,
    active_bundle_dir,
    apply_bundle,
    diff_bundles,
    revisions,
)
from lakeward.policy._tests import TestReport, run_policy_tests

__all__ = [
    "Approvals",
    "BudgetCap",
    "BudgetLedger",
    "ClassificationRecord",
    "Decision",
    "DecisionChange",
    "DocumentFacts",
    "NearestPermit",
    "PolicyBundle",
    "PolicyBundleError",
    "PolicyEngine",
    "PolicyInfo",
    "Reservation",
    "TagChange",
    "TagSource",
    "TagSpec",
    "TagSuggestion",
    "TestReport",
    "acknowledge_purpose",
    "active_bundle",
    "active_bundle_dir",
    "apply_bundle",
    "approve_tag",
    "assign_tag",
    "decide",
    "default_engine",
    "diff_bundles",
    "enforce",
    "engine_for",
    "guard",
    "guard_documents",
    "load_bundle",
    "propagate_tags",
    "record_event",
    "reject_tag",
    "remove_tag",
    "revisions",
    "run_policy_tests",
    "suggest_tags",
]
