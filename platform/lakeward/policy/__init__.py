"""The policy layer: every privileged action asks here first.

- ``_bundle``: load and validate the bundle (Cedar schema + policies, principals, purposes,
  tags, budget caps); its revision hash is recorded with every decision.
- ``_engine``: :func:`decide`, and :func:`guard` — the one enforcement point every
  privileged library function calls (decide, audit, raise or return obligations; a bundle
  that cannot load or an edited installed revision denies, audited; nobody acts on another
  authenticated principal's behalf).
- ``_governance``: :func:`assign_tag` / :func:`remove_tag` (``tag.assign``) and
  :func:`record_event` (``audit.append``).
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
    guard,
)
from lakeward.policy._governance import TagChange, assign_tag, record_event, remove_tag
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
    "Decision",
    "DecisionChange",
    "NearestPermit",
    "PolicyBundle",
    "PolicyBundleError",
    "PolicyEngine",
    "PolicyInfo",
    "Reservation",
    "TagChange",
    "TestReport",
    "acknowledge_purpose",
    "active_bundle",
    "active_bundle_dir",
    "apply_bundle",
    "assign_tag",
    "decide",
    "default_engine",
    "diff_bundles",
    "enforce",
    "engine_for",
    "guard",
    "load_bundle",
    "record_event",
    "remove_tag",
    "revisions",
    "run_policy_tests",
]
