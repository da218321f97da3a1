"""The policy layer: every privileged action asks here first.

- ``_bundle``: load and validate the bundle (Cedar schema + policies, principals, purposes,
  tags, budget caps); its revision hash is recorded with every decision.
- ``_engine``: :func:`decide` / :func:`enforce` — Cedar decisions with fail-closed checks,
  nearest-permit explanations, obligations, audit.
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
    load_bundle,
)
from lakeward.policy._engine import (
    Decision,
    NearestPermit,
    PolicyEngine,
    decide,
    default_engine,
    enforce,
    engine_for,
)
from lakeward.policy._purposes import acknowledge_purpose
from lakeward.policy._revisions import (
    DecisionChange,
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
    "Decision",
    "DecisionChange",
    "NearestPermit",
    "PolicyBundle",
    "PolicyBundleError",
    "PolicyEngine",
    "PolicyInfo",
    "Reservation",
    "TestReport",
    "acknowledge_purpose",
    "active_bundle_dir",
    "apply_bundle",
    "decide",
    "default_engine",
    "diff_bundles",
    "enforce",
    "engine_for",
    "load_bundle",
    "revisions",
    "run_policy_tests",
]
