"""Decisions: Cedar over the bundle and the catalog, with reasons, obligations and audit.

Semantics are Cedar's: default deny, any satisfied forbid wins, order-independent. Around
Cedar, Lakeward adds what admins need and Cedar lacks:

- **fail closed**: an unknown principal, action, purpose or tag, a missing resource, or any
  engine error is a deny whose reason says what was missing (never an exception);
- **explanations**: for a deny that no forbid decided, the *nearest permits* — the permit
  policies for this action ranked by how few of their parts failed, with each failed part
  (principal scope, resource scope, or one conjunct of a condition) as Cedar text. Each part
  is evaluated as its own policy, in one batch call;
- **obligations**: ``@obligation("a,b")`` annotations of the permits that decided an allow
  (``dp_required``, ``encryption_required``, ``approval_required``), plus ``mask:<column>``
  for every column of a dataset whose ``lake.read_column`` is denied when reading contents
  (or whose ``catalog.read_metadata`` is denied when reading the dataset's metadata).

What Cedar sees of tags: only **approved** ones (suggested and rejected tags steer nothing),
each with every tag it implies in ``tags.yaml`` (``type.email`` → ``pii``, ``pii_direct``). A
column's ``tags`` are its own and its dataset's; a dataset's ``tags`` are its own and its
columns' (a dataset holds what its columns hold), except ``not_sensitive`` and ``public``,
which would loosen decisions about its other columns. ``Column.classified``: the column has
an approved tag of its own, or its dataset is tagged public; ``Dataset.classified``: its
current version was classified and every current column is classified (or it is public).

Resources are written ``dataset:NAME`` (or just ``NAME``), ``column:DATASET/COLUMN``,
``document:ID`` or ``platform``.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import select

from lakeward.catalog import (
    AuditLog,
    Catalog,
    Classification,
    ColumnProfile,
    Dataset,
    DatasetVersion,
    PurposeAcknowledgement,
    Tag,
    TagStatus,
)
from lakeward.errors import PolicyDenied
from lakeward.policy._bundle import PolicyBundle, PolicyBundleError, PolicyInfo, load_bundle

__all__ = [
    "Decision",
    "DocumentFacts",
    "NearestPermit",
    "PolicyEngine",
    "decide",
    "default_engine",
    "enforce",
    "engine_for",
    "guard",
    "guard_documents",
]

NS = "Lakeward"
#: The guard that forbids using a purpose its principal has not acknowledged: a deny it
#: alone decided says which command lifts it.
ACKNOWLEDGEMENT_GUARD = "purpose-must-be-acknowledged"
_CONTEXT_BOOLS = ("encrypted", "dp", "approved")
# Dataset actions whose allow carries ``mask:<column>`` for each column that this column
# action denies: contents (read, encrypt) by ``lake.read_column``; catalog metadata (a column's
# min/max) by ``catalog.read_metadata`` on the column.
_COLUMN_ACTIONS = {
    "lake.read_content": "lake.read_column",
    "he.encrypt": "lake.read_column",
    "catalog.read_metadata": "catalog.read_metadata",
}
# Tags that say a column may be shown rather than protected: a column's tag is also its
# dataset's (a dataset holds what its columns hold), except these, which would loosen
# decisions about the dataset's other columns.
_COLUMN_ONLY_TAGS = frozenset({"not_sensitive", "public"})
#: Document decisions an engine remembers at most (then it forgets them all and starts over).
_DOCUMENT_DECISIONS_KEPT = 1_000_000
_PATH_PARENS = re.compile(r"\(((?:principal|action|resource|context)(?:\.\w+)*)\)")


@dataclass(frozen=True)
class NearestPermit:
    """A permit policy that would have allowed the request, and the parts of it that failed."""

    policy: str
    description: str
    failed: tuple[str, ...]


@dataclass(frozen=True)
class Decision:
    """The outcome of one request."""

    allowed: bool
    principal: str
    action: str
    resource: str
    purpose: str
    policy_ids: tuple[str, ...] = ()
    obligations: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    nearest: tuple[NearestPermit, ...] = ()
    errors: tuple[str, ...] = ()
    bundle_revision: str = ""
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def decision(self) -> str:
        """``allow`` or ``deny``."""
        return "allow" if self.allowed else "deny"

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        data = asdict(self)
        data["decision"] = self.decision
        return data

    def explain(self) -> str:
        """A human explanation, one fact per line."""
        lines = [
            f"{self.decision.upper()}: {self.principal} {self.action} {self.resource}"
            + (f" for purpose {self.purpose}" if self.purpose else "")
        ]
        if self.policy_ids:
            lines.append("decided by: " + ", ".join(self.policy_ids))
        lines += [f"reason: {r}" for r in self.reasons]
        if self.obligations:
            lines.append("obligations: " + ", ".join(self.obligations))
        for near in self.nearest:
            lines.append(f"nearest permit {near.policy}: {near.description}".rstrip(": "))
            lines += [f"  failed: {part}" for part in near.failed]
        lines += [f"error: {e}" for e in self.errors]
        lines.append(f"bundle revision: {self.bundle_revision[:12]}")
        return "\n".join(lines)


@dataclass(frozen=True)
class DocumentFacts:
    """What the policy layer sees of a document, or of a RAG store's label class.

    Every document of a class has the same facts, so one decision serves them all.

    ``users`` and ``groups``: the principals and groups its ``readers`` name; ``licence``
    and ``licence_rank``: its place in the licence lattice (public_domain 0 … restricted 3);
    ``tags``: its source dataset's approved tags.
    """

    uid: str
    store: str
    dataset: str
    users: frozenset[str]
    groups: frozenset[str]
    licence: str
    licence_rank: int
    tags: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        uid: str,
        store: str,
        dataset: str,
        readers: Iterable[str],
        licence: str,
        tags: Iterable[str] = (),
    ) -> DocumentFacts:
        """The facts of a document with ``readers`` and ``licence``.

        ``readers`` are ``user:``/``group:`` entries (malformed ones name nobody); the
        licence's rank comes from the lattice.
        """
        from lakeward.policy._labels import licence_rank, split_readers

        users, groups, _ = split_readers(readers)
        return cls(
            uid, store, dataset, users, groups, licence, licence_rank(licence), frozenset(tags)
        )


def _cedar_context(
    purpose: str, acknowledged: bool, context: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The request context Cedar sees: every attribute present (defaults filled)."""
    return {
        "purpose": purpose,
        "purpose_acknowledged": acknowledged,
        **{k: bool((context or {}).get(k, False)) for k in _CONTEXT_BOOLS},
    }


def _uid(kind: str, ident: str) -> dict[str, str]:
    """An entity UID in Cedar's JSON form, for entities *and* requests.

    The id travels as data, never spliced into Cedar text, so any name (quotes,
    backslashes, spaces, any Unicode) names exactly that entity; no escaping is needed.
    """
    return {"type": f"{NS}::{kind}", "id": ident}


def _parse_resource(resource: str) -> tuple[str, str]:
    if resource == "platform":
        return "Platform", "lakeward"
    kind, sep, ident = resource.partition(":")
    if not sep:
        return "Dataset", resource
    kinds = {"dataset": "Dataset", "column": "Column", "document": "Document"}
    if kind not in kinds or not ident:
        raise ValueError(
            f"resource {resource!r} is not dataset:NAME, column:DATASET/COLUMN, document:ID or "
            "platform"
        )
    return kinds[kind], ident


def _scope_text(var: str, scope: dict[str, Any]) -> str | None:
    op = scope.get("op")
    if op in (None, "All"):
        return None
    if "entity" in scope:
        e = scope["entity"]
        return f'{var} {op} {e["type"]}::"{e["id"]}"'
    if "entities" in scope:
        items = ", ".join(f'{e["type"]}::"{e["id"]}"' for e in scope["entities"])
        return f"{var} {op} [{items}]"
    if op == "is":
        text = f"{var} is {scope['entity_type']}"
        if "in" in scope:
            inner = scope["in"]["entity"]
            text += f' in {inner["type"]}::"{inner["id"]}"'
        return text
    return f"{var} {op} ?"


def _conjuncts(body: dict[str, Any]) -> list[dict[str, Any]]:
    if "&&" in body:
        return _conjuncts(body["&&"]["left"]) + _conjuncts(body["&&"]["right"])
    return [body]


def _condition_text(kind: str, expr: dict[str, Any]) -> str:
    import cedarpy

    policy = {
        "effect": "permit",
        "principal": {"op": "All"},
        "action": {"op": "All"},
        "resource": {"op": "All"},
        "conditions": [{"kind": "when", "body": expr}],
    }
    text = cedarpy.policies_from_json_str(
        json.dumps({"staticPolicies": {"p": policy}, "templates": {}, "templateLinks": []})
    )
    inner = text[text.index("when") + 4 :].strip()
    inner = inner[1 : inner.rindex("}")].strip() if inner.startswith("{") else inner
    inner = " ".join(inner.split())
    while True:  # Cedar's printer parenthesises every attribute access: drop the noise
        simpler = _PATH_PARENS.sub(r"\1", inner)
        if simpler == inner:
            break
        inner = simpler
    return f"unless {inner}" if kind == "unless" else inner


@dataclass(frozen=True)
class _DatasetFacts:
    name: str
    format: str
    owner: str
    tags: tuple[tuple[str, str], ...]  # approved (tag, column or ""): what policies see
    columns: list[str]
    classification_recorded: bool = False  # the current version was classified

    def column_classified(self, column: str) -> bool:
        """An approved tag of its own (a steward or the classifier decided), or public data."""
        return any(col == column for _, col in self.tags) or ("public", "") in self.tags

    @property
    def classified(self) -> bool:
        """The current version's classification is complete: run, and nothing awaits review."""
        if ("public", "") in self.tags:
            return True
        return self.classification_recorded and all(self.column_classified(c) for c in self.columns)


@dataclass(frozen=True)
class _Part:
    policy: str
    text: str


def _explain_set(
    bundle: PolicyBundle,
) -> tuple[dict[str, Any], dict[str, _Part], dict[str, list[str]]]:
    """One permit per part of every permit policy (scope parts, condition conjuncts)."""
    variants: dict[str, Any] = {}
    parts: dict[str, _Part] = {}
    by_policy: dict[str, list[str]] = {}
    for info in bundle.policies.values():
        if info.effect != "permit":
            continue
        body = info.est
        keys: list[str] = []
        for var in ("principal", "resource"):
            text = _scope_text(var, body[var])
            if text is None:
                continue
            key = f"{info.id}#{var}"
            variant = {
                "effect": "permit",
                "principal": body["principal"] if var == "principal" else {"op": "All"},
                "action": body["action"],
                "resource": body["resource"] if var == "resource" else {"op": "All"},
                "conditions": [],
            }
            variants[key] = variant
            parts[key] = _Part(info.id, text)
            keys.append(key)
        index = 0
        for condition in body.get("conditions", []):
            pieces = (
                _conjuncts(condition["body"])
                if condition["kind"] == "when"
                else [condition["body"]]
            )
            for piece in pieces:
                key = f"{info.id}#c{index}"
                index += 1
                variants[key] = {
                    "effect": "permit",
                    "principal": {"op": "All"},
                    "action": body["action"],
                    "resource": {"op": "All"},
                    "conditions": [{"kind": condition["kind"], "body": piece}],
                }
                parts[key] = _Part(info.id, _condition_text(condition["kind"], piece))
                keys.append(key)
        action_key = f"{info.id}#action"
        variants[action_key] = {
            "effect": "permit",
            "principal": {"op": "All"},
            "action": body["action"],
            "resource": {"op": "All"},
            "conditions": [],
        }
        by_policy[info.id] = [action_key, *keys]
    return {"staticPolicies": variants, "templates": {}, "templateLinks": []}, parts, by_policy


class PolicyEngine:
    """Decisions over one bundle and one catalog. Thread-safe; parse once, decide often."""

    def __init__(self, bundle: PolicyBundle, catalog: Catalog) -> None:
        import cedarpy

        self.bundle = bundle
        self.catalog = catalog
        self._policies = bundle.policy_set()
        self._schema = bundle.schema()
        # Revisions installed before Column.classified (or Dataset.classified) existed do not
        # declare it, and Cedar refuses entities with undeclared attributes: send it only
        # where it is declared.
        self._classified = bool(
            re.search(r'entity\s+Column\b[^}]*"classified"', bundle.schema_text)
        )
        self._dataset_classified = bool(
            re.search(r'entity\s+Dataset\b[^}]*"classified"', bundle.schema_text)
        )
        explain_est, self._parts, self._parts_by_policy = _explain_set(bundle)
        self._explain_policies = cedarpy.PolicySet.from_json_str(json.dumps(explain_est))
        self._purpose_hash = {
            name: hashlib.sha256(text.encode()).hexdigest()
            for name, text in bundle.purposes.items()
        }
        self._documents_decided: dict[tuple[Any, ...], bool] = {}
        self._documents_lock = threading.Lock()

    # -- entities ---------------------------------------------------------------------------
    def _principal_entities(self, principal: str) -> list[dict[str, Any]]:
        groups = self.bundle.users[principal]
        return [
            {
                "uid": _uid("User", principal),
                "attrs": {"name": principal},
                "parents": [_uid("Group", g) for g in groups],
            },
            *({"uid": _uid("Group", g), "attrs": {}, "parents": []} for g in groups),
        ]

    def _dataset_entity(self, dataset: _DatasetFacts) -> dict[str, Any]:
        own = {name for name, column in dataset.tags if not column}
        lifted = {name for name, column in dataset.tags if column and name not in _COLUMN_ONLY_TAGS}
        attrs: dict[str, Any] = {
            "name": dataset.name,
            "format": dataset.format,
            "owner": dataset.owner,
            "tags": sorted(self.bundle.expand_tags(own | lifted)),
        }
        if self._dataset_classified:
            attrs["classified"] = dataset.classified
        return {
            "uid": _uid("Dataset", dataset.name),
            "attrs": attrs,
            "parents": [_uid("Platform", "lakeward")],
        }

    def _column_entity(self, dataset: _DatasetFacts, column: str) -> dict[str, Any]:
        own = self.bundle.expand_tags(name for name, col in dataset.tags if col in ("", column))
        attrs: dict[str, Any] = {"name": column, "dataset": dataset.name, "tags": sorted(own)}
        if self._classified:
            attrs["classified"] = dataset.column_classified(column)
        return {
            "uid": _uid("Column", f"{dataset.name}/{column}"),
            "attrs": attrs,
            "parents": [_uid("Dataset", dataset.name)],
        }

    def _facts(
        self, dataset_name: str, principal: str, purpose: str
    ) -> tuple[_DatasetFacts | None, bool]:
        """Dataset, tags, current columns and the purpose acknowledgement: one connection."""
        with self.catalog.engine.connect() as conn:
            acknowledged = False
            if purpose:
                digest = conn.execute(
                    select(PurposeAcknowledgement.text_sha256).where(
                        PurposeAcknowledgement.principal == principal,
                        PurposeAcknowledgement.purpose == purpose,
                    )
                ).scalar()
                acknowledged = digest == self._purpose_hash[purpose]
            if not dataset_name:
                return None, acknowledged
            row = conn.execute(
                select(Dataset.id, Dataset.format, Dataset.owner, Dataset.current_version).where(
                    Dataset.name == dataset_name
                )
            ).first()
            if row is None:
                return None, acknowledged
            tags = conn.execute(
                select(Tag.name, Tag.column_name).where(
                    Tag.dataset_id == row.id, Tag.status == TagStatus.APPROVED.value
                )
            ).all()
            recorded = conn.execute(
                select(Classification.id).where(
                    Classification.dataset_id == row.id,
                    Classification.version == row.current_version,
                )
            ).first()
            columns = (
                conn.execute(
                    select(ColumnProfile.name)
                    .join(DatasetVersion, ColumnProfile.version_id == DatasetVersion.id)
                    .where(
                        DatasetVersion.dataset_id == row.id,
                        DatasetVersion.version == row.current_version,
                    )
                    .order_by(ColumnProfile.ordinal)
                )
                .scalars()
                .all()
            )
        facts = _DatasetFacts(
            dataset_name,
            row.format,
            row.owner or "",
            tuple((t.name, t.column_name) for t in tags),
            list(columns),
            recorded is not None and row.current_version > 0,
        )
        return facts, acknowledged

    # -- decisions --------------------------------------------------------------------------
    def decide(
        self,
        principal: str,
        action: str,
        resource: str,
        context: Mapping[str, Any] | None = None,
        *,
        columns: Sequence[str] = (),
        document: DocumentFacts | None = None,
    ) -> Decision:
        """Decide one request; never raises (errors deny, with the reason).

        ``document``: for a ``document:ID`` resource, what the policy sees of it (documents
        live in RAG stores, not in the catalog; a query decides them in one batch with
        :meth:`decide_documents`).

        ``columns``: for ``lake.read_content``, ``he.encrypt`` and ``catalog.read_metadata``,
        the dataset's columns as the reader sees them
        (they may not be in the catalog yet); each is checked for a ``mask:`` obligation.
        """
        context = dict(context or {})
        purpose = str(context.get("purpose") or "")
        base: dict[str, Any] = {
            "principal": principal,
            "action": action,
            "resource": resource,
            "purpose": purpose,
            "bundle_revision": self.bundle.revision,
        }
        try:
            return self._decide(
                principal, action, resource, purpose, context, base, columns, document
            )
        except Exception as exc:  # fail closed: any error is a deny that says why
            return Decision(
                False,
                **base,
                reasons=(f"could not evaluate the request: {exc}",),
                errors=(f"{type(exc).__name__}: {exc}",),
            )

    def _deny(self, base: dict[str, Any], reason: str) -> Decision:
        return Decision(False, **base, reasons=(reason,))

    def _decide(
        self,
        principal: str,
        action: str,
        resource: str,
        purpose: str,
        context: dict[str, Any],
        base: dict[str, Any],
        requested_columns: Sequence[str] = (),
        document: DocumentFacts | None = None,
    ) -> Decision:
        import cedarpy

        if principal not in self.bundle.users:
            return self._deny(base, f"unknown principal {principal!r}: add it to principals.yaml")
        if purpose and purpose not in self.bundle.purposes:
            return self._deny(
                base,
                f"unknown purpose {purpose!r}: known purposes are "
                f"{', '.join(sorted(self.bundle.purposes))}",
            )
        kind, ident = _parse_resource(resource)
        entities = self._principal_entities(principal)
        entities.append({"uid": _uid("Platform", "lakeward"), "attrs": {}, "parents": []})
        columns: list[str] = []
        dataset_name, _, column = ident.partition("/") if kind == "Column" else (ident, "", "")
        if kind == "Document":
            if document is None:
                return self._deny(
                    base,
                    "a document is decided with what its RAG store knows of it (readers, "
                    "licence, source): ask through lakeward rag query",
                )
            entities.append(self._document_entity(replace(document, uid=ident)))
        wants_dataset = kind in ("Dataset", "Column")
        facts, acknowledged = self._facts(dataset_name if wants_dataset else "", principal, purpose)
        if wants_dataset:
            if facts is None:
                return self._deny(base, f"dataset {dataset_name!r} is not in the catalog")
            unknown = sorted({name for name, _ in facts.tags} - set(self.bundle.tags))
            if unknown:
                return self._deny(
                    base,
                    f"dataset {dataset_name!r} carries tags unknown to the "
                    f"policy bundle: {unknown}; add them to tags.yaml",
                )
            columns = facts.columns + [c for c in requested_columns if c not in facts.columns]
            entities.append(self._dataset_entity(facts))
            for name in set(columns) | ({column} if column else set()):
                entities.append(self._column_entity(facts, name))
        cedar_context = _cedar_context(purpose, acknowledged, context)
        request = {
            "principal": _uid("User", principal),
            "action": _uid("Action", action),
            "resource": _uid(kind, ident),
            "context": cedar_context,
        }
        entity_json = json.dumps(entities)
        result = cedarpy.is_authorized(request, self._policies, entity_json, self._schema)
        errors = tuple(result.diagnostics.errors)
        ids = tuple(sorted(result.diagnostics.reasons))
        base = {**base, "context": cedar_context}
        if result.allowed and errors:
            # Cedar skips a policy whose evaluation errs: a skipped forbid must not let this in.
            return Decision(
                False,
                **base,
                reasons=(
                    "policy evaluation errors; denying rather than ignoring the failed policies",
                ),
                errors=errors,
            )
        if result.allowed:
            obligations: list[str] = []
            for pid in ids:
                obligations += [
                    o for o in self.bundle.policies[pid].obligations if o not in obligations
                ]
            column_action = _COLUMN_ACTIONS.get(action)
            if column_action is not None and kind == "Dataset" and columns:
                requests = [
                    {
                        **request,
                        "action": _uid("Action", column_action),
                        "resource": _uid("Column", f"{ident}/{c}"),
                    }
                    for c in columns
                ]
                results = cedarpy.is_authorized_batch(
                    requests, self._policies, entity_json, self._schema
                )
                obligations += [
                    f"mask:{c}" for c, r in zip(columns, results, strict=True) if not r.allowed
                ]
            reasons = tuple(
                f"permitted by {pid}: {self.bundle.policies[pid].description}".rstrip(": ")
                for pid in ids
            )
            return Decision(
                True,
                **base,
                policy_ids=ids,
                obligations=tuple(obligations),
                reasons=reasons,
                errors=errors,
            )
        if ids:  # a forbid decided
            reasons = tuple(
                f"forbidden by {pid}: {self.bundle.policies[pid].description}".rstrip(": ")
                for pid in ids
            )
            if ids == (ACKNOWLEDGEMENT_GUARD,):
                reasons += (self._acknowledgement_hint(request, entity_json, principal, purpose),)
            return Decision(False, **base, policy_ids=ids, reasons=reasons, errors=errors)
        nearest = self._nearest(request, entity_json)
        if errors:  # not the policies' answer: say so, never pass it off as a plain deny
            reason = (
                "could not evaluate the request (" + "; ".join(errors) + "); an error denies, "
                "so this is not a policy decision: report it with the request"
            )
            return Decision(False, **base, reasons=(reason,), nearest=nearest, errors=errors)
        reason = "no permit policy matched (default deny)"
        if not cedar_context["purpose_acknowledged"] and purpose:
            reason += f"; purpose {purpose!r} is not acknowledged by {principal}"
        return Decision(False, **base, reasons=(reason,), nearest=nearest, errors=errors)

    def decide_documents(
        self,
        principal: str,
        action: str,
        documents: Sequence[DocumentFacts],
        context: Mapping[str, Any] | None = None,
    ) -> tuple[tuple[bool, ...], tuple[str, ...]]:
        """Decide ``action`` on each document in one Cedar batch: (allowed per document, errors).

        Never raises: anything that cannot be checked (an unknown principal or purpose, a
        bundle whose schema predates documents, an evaluation error) denies every document,
        and the errors say why.
        """
        import cedarpy

        purpose = str((context or {}).get("purpose") or "")
        nobody = tuple(False for _ in documents)
        if principal not in self.bundle.users:
            return nobody, (f"unknown principal {principal!r}: add it to principals.yaml",)
        if purpose and purpose not in self.bundle.purposes:
            return nobody, (f"unknown purpose {purpose!r}",)
        if not re.search(r'entity\s+Document\b[^}]*"reader_groups"', self.bundle.schema_text):
            return nobody, (
                "the installed policy revision's schema has no Document readers: apply a "
                "bundle whose schema declares them (the default bundle does)",
            )
        if not documents:
            return (), ()
        try:
            _, acknowledged = self._facts("", principal, purpose)
            cedar_context = _cedar_context(purpose, acknowledged, context)
            # A decision is a function of this engine's bundle, the request and the document's
            # facts: decided documents are remembered (per engine, so a new revision starts
            # afresh) and Cedar sees only the others.
            base = (principal, action, json.dumps(cedar_context, sort_keys=True))
            with self._documents_lock:
                known = {d: self._documents_decided.get((*base, d)) for d in documents}
            todo = list(dict.fromkeys(d for d, v in known.items() if v is None))
            if todo:
                entities = self._principal_entities(principal)
                entities.append({"uid": _uid("Platform", "lakeward"), "attrs": {}, "parents": []})
                entities += [self._document_entity(d) for d in todo]
                requests = [
                    {
                        "principal": _uid("User", principal),
                        "action": _uid("Action", action),
                        "resource": _uid("Document", d.uid),
                        "context": cedar_context,
                    }
                    for d in todo
                ]
                results = cedarpy.is_authorized_batch(
                    requests, self._policies, json.dumps(entities), self._schema
                )
                errors = sorted({e for r in results for e in r.diagnostics.errors})
                if errors:  # a skipped forbid must not let anything in
                    return nobody, tuple(errors)
                with self._documents_lock:
                    if len(self._documents_decided) > _DOCUMENT_DECISIONS_KEPT:
                        self._documents_decided.clear()
                    for d, r in zip(todo, results, strict=True):
                        known[d] = bool(r.allowed)
                        self._documents_decided[(*base, d)] = bool(r.allowed)
        except Exception as exc:  # fail closed
            return nobody, (f"{type(exc).__name__}: {exc}",)
        return tuple(bool(known[d]) for d in documents), ()

    def _document_entity(self, document: DocumentFacts) -> dict[str, Any]:
        return {
            "uid": _uid("Document", document.uid),
            "attrs": {
                "store": document.store,
                "dataset": document.dataset,
                "readers": [_uid("User", u) for u in sorted(document.users)],
                "reader_groups": [_uid("Group", g) for g in sorted(document.groups)],
                "licence": document.licence,
                "licence_rank": document.licence_rank,
                "tags": sorted(self.bundle.expand_tags(document.tags)),
            },
            "parents": [_uid("Platform", "lakeward")],
        }

    def _acknowledgement_hint(
        self, request: dict[str, Any], entity_json: str, principal: str, purpose: str
    ) -> str:
        """How to lift a deny that only the acknowledgement guard decided, and whether it would."""
        import cedarpy

        acknowledged = {**request, "context": {**request["context"], "purpose_acknowledged": True}}
        lifted = cedarpy.is_authorized(acknowledged, self._policies, entity_json, self._schema)
        command = f"lakeward policy purpose ack {shlex.quote(purpose)}"
        if lifted.allowed and not lifted.diagnostics.errors:
            return (
                f"fix: as {principal}, run `{command}`; acknowledging purpose {purpose!r} "
                "lifts this denial"
            )
        return (
            f"{principal} has not acknowledged purpose {purpose!r} (`{command}`), but that "
            "alone would not allow this request"
        )

    def _nearest(self, request: dict[str, Any], entity_json: str) -> tuple[NearestPermit, ...]:
        import cedarpy

        result = cedarpy.is_authorized(request, self._explain_policies, entity_json, self._schema)
        satisfied = set(result.diagnostics.reasons)
        ranked: list[tuple[int, NearestPermit]] = []
        for pid, keys in self._parts_by_policy.items():
            if keys[0] not in satisfied:  # the permit is about another action
                continue
            failed = tuple(self._parts[k].text for k in keys[1:] if k not in satisfied)
            info: PolicyInfo = self.bundle.policies[pid]
            ranked.append((len(failed), NearestPermit(pid, info.description, failed)))
        ranked.sort(key=lambda item: (item[0], item[1].policy))
        return tuple(n for _, n in ranked[:3])

    def enforce(
        self,
        principal: str,
        action: str,
        resource: str,
        context: Mapping[str, Any] | None = None,
        *,
        columns: Sequence[str] = (),
        standing: bool = False,
    ) -> Decision:
        """Decide, append the decision to the audit log, then raise on deny.

        While an authenticated principal is bound (a server request, a CLI command, a
        service run), a request in any other principal's name is denied: nobody acts on
        another's behalf. The one exception is ``standing=True``: carrying out a standing
        grant the subject made itself (releasing the next period of a DP stream it
        registered); the subject is decided and charged, and the audit record names the
        bound principal that executed it.

        Raises:
            PolicyDenied: the request was denied; the message carries the explanation.
        """
        impostor = None if standing else on_behalf_refusal(principal)
        if impostor is not None:
            decision = Decision(
                False,
                principal,
                action,
                resource,
                str((context or {}).get("purpose") or ""),
                reasons=(impostor,),
                bundle_revision=self.bundle.revision,
            )
        else:
            decision = self.decide(principal, action, resource, context, columns=columns)
        _audit_decision(self.catalog, decision, self.bundle.revision)
        if not decision.allowed:
            raise PolicyDenied(decision.explain(), reasons=list(decision.reasons))
        return decision


def on_behalf_refusal(principal: str) -> str | None:
    """Why a request in ``principal``'s name is refused, if another principal is bound."""
    from lakeward.identity import bound_principal

    acting = bound_principal()
    if acting is not None and acting.name != principal:
        return f"{acting.name} is authenticated and may not act on behalf of {principal}"
    return None


def _audit_decision(catalog: Catalog, decision: Decision, bundle_hash: str | None) -> None:
    from lakeward.identity import bound_principal

    request: dict[str, Any] = {
        "context": decision.context,
        "obligations": list(decision.obligations),
    }
    acting = bound_principal()
    if acting is not None:
        request["identity"] = {"principal": acting.name, **acting.audit_fields()}
    AuditLog(catalog)._append(
        principal=decision.principal,
        action=decision.action,
        resource=decision.resource,
        purpose=decision.purpose or None,
        decision=decision.decision,
        reasons=[*decision.policy_ids, *decision.reasons],
        request=request,
        bundle_hash=bundle_hash,
    )


_engines: dict[str, tuple[str, PolicyEngine]] = {}
_checked: dict[str, float] = {}  # catalog key → monotonic time of the last full check
_engines_lock = threading.Lock()


def forget_engines() -> None:
    """Make the next :func:`engine_for` check the active revision again (after an apply)."""
    with _engines_lock:
        _checked.clear()


def _bundle_stamp(directory: Path) -> str:
    stats = [
        (str(p), p.stat().st_mtime_ns, p.stat().st_size)
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    ]
    return hashlib.sha256(repr(stats).encode()).hexdigest()


def engine_for(catalog: Catalog) -> PolicyEngine:
    """The engine for ``catalog``'s active bundle, reloaded when the bundle's files change.

    An installed revision is verified against the hash recorded when it was applied, on
    every (re)load: an edited revision directory does not load.

    Raises:
        PolicyBundleError: the active bundle is invalid, or its files no longer match the
            installed revision's hash.
    """
    import time

    from lakeward.policy._revisions import active_bundle
    from lakeward.settings import get_settings

    key = catalog.engine.url.render_as_string(hide_password=False)
    recheck = get_settings().policy.recheck_s
    now = time.monotonic()
    if recheck > 0:
        with _engines_lock:
            cached = _engines.get(key)
            if (
                cached is not None
                and cached[1].catalog is catalog
                and now - _checked.get(key, float("-inf")) < recheck
            ):
                return cached[1]
    directory, expected = active_bundle(catalog)
    stamp = f"{directory}:{_bundle_stamp(directory) if directory.is_dir() else ''}"
    with _engines_lock:
        cached = _engines.get(key)
        if cached is None or cached[0] != stamp or cached[1].catalog is not catalog:
            bundle = load_bundle(directory)
            if expected is not None and bundle.revision != expected:
                raise PolicyBundleError(
                    [
                        f"{directory}: the installed revision {expected[:12]} was modified after "
                        f"it was applied (its files now hash to {bundle.revision[:12]}); every "
                        "request is denied until it is restored. Remove the directory to "
                        "restore it from the catalog's copy, or apply a new revision."
                    ]
                )
            cached = (stamp, PolicyEngine(bundle, catalog))
            _engines[key] = cached
        _checked[key] = now
        return cached[1]


def default_engine() -> PolicyEngine:
    """The engine for the configured catalog (``LAKEWARD_CATALOG_URL``) and its active bundle."""
    return engine_for(Catalog.shared())


def decide(
    principal: str, action: str, resource: str, context: Mapping[str, Any] | None = None
) -> Decision:
    """Decide with the default engine; a bundle that cannot load denies (fail closed)."""
    try:
        engine = default_engine()
    except Exception as exc:
        return _unavailable(principal, action, resource, context, exc)
    return engine.decide(principal, action, resource, context)


def _unavailable(
    principal: str,
    action: str,
    resource: str,
    context: Mapping[str, Any] | None,
    exc: Exception,
) -> Decision:
    return Decision(
        False,
        principal,
        action,
        resource,
        str((context or {}).get("purpose") or ""),
        reasons=(f"policy bundle unavailable: {exc}",),
        errors=(str(exc),),
    )


def guard(
    catalog: Catalog,
    principal: str,
    action: str,
    resource: str,
    context: Mapping[str, Any] | None = None,
    *,
    columns: Sequence[str] = (),
    standing: bool = False,
) -> Decision:
    """The one enforcement point: decide, audit, then raise or return the obligations.

    Every public privileged function of the library calls this before it acts, whoever
    called it. A bundle that cannot load (invalid, missing, or an installed revision whose
    files were edited) is a deny, audited with the reason (fail closed).

    Raises:
        PolicyDenied: the request was denied; the message carries the explanation.
    """
    try:
        engine = engine_for(catalog)
    except Exception as exc:
        decision = _unavailable(principal, action, resource, context, exc)
        _audit_decision(catalog, decision, None)
        raise PolicyDenied(decision.explain(), reasons=list(decision.reasons)) from exc
    return engine.enforce(principal, action, resource, context, columns=columns, standing=standing)


def guard_documents(
    catalog: Catalog,
    principal: str,
    action: str,
    resource: str,
    documents: Sequence[DocumentFacts],
    context: Mapping[str, Any] | None = None,
) -> tuple[bool, ...]:
    """Decide ``action`` on many documents at once (one Cedar batch), audited as one record.

    The enforcement point for document retrieval: ``resource`` names what was asked (a RAG
    store); the audit record says how many documents (label classes) were allowed, never
    which. Never raises: a bundle that cannot load, a principal bound to someone else, or
    any evaluation error denies every document (fail closed), audited with the reason.
    """
    purpose = str((context or {}).get("purpose") or "")
    impostor = on_behalf_refusal(principal)
    allowed: tuple[bool, ...] = tuple(False for _ in documents)
    errors: tuple[str, ...] = ()
    revision: str | None = None
    if impostor is not None:
        errors = (impostor,)
    else:
        try:
            engine = engine_for(catalog)
        except Exception as exc:
            errors = (f"policy bundle unavailable: {exc}",)
        else:
            revision = engine.bundle.revision
            allowed, errors = engine.decide_documents(principal, action, documents, context)
    count = sum(allowed)
    reasons = (
        *errors,
        f"{count} of {len(documents)} document classes readable",
    )
    decision = Decision(
        count > 0,
        principal,
        action,
        resource,
        purpose,
        reasons=reasons,
        errors=errors,
        bundle_revision=revision or "",
        context={"purpose": purpose},
    )
    _audit_decision(catalog, decision, revision)
    return allowed


def enforce(
    principal: str, action: str, resource: str, context: Mapping[str, Any] | None = None
) -> Decision:
    """:func:`guard` with the configured catalog (``LAKEWARD_CATALOG_URL``).

    Raises:
        PolicyDenied: the request was denied.
    """
    return guard(Catalog.shared(), principal, action, resource, context)
