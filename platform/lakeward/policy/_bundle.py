"""The policy bundle: Cedar schema and policies, principals, purposes, tags, budget caps.

A bundle is a directory (``policies/`` by default, ``LAKEWARD_POLICY_DIR``)::

    schema.cedarschema   Cedar schema (entity types, actions, context)
    *.cedar              policies; each needs a unique @id annotation
    principals.yaml      users, their groups, and how each is authenticated: ``os_users``
                         (embedded mode; ``"*"`` matches any OS user, an explicit name wins)
                         and ``oidc_subjects`` (OIDC ``sub`` claims at the server)
    purposes.yaml        purposes and the text a principal acknowledges
    tags.yaml            the tag vocabulary policies and the catalog may use: ``name:
                         description``, or ``name: {description, implies: [tags],
                         auto_approve: 0..1}`` (what the tag implies for policies, and the
                         confidence from which a classifier's suggestion is approved
                         without a steward)
    budgets.yaml         rho-zCDP caps per (unit, principal, purpose)
    units.yaml           privacy units and the dataset columns that identify each one; a DP
                         stream's ``unit_column`` must be declared here for its ``unit``
                         (optional file: without it no DP stream can be created)
    tests/*.yaml         policy tests as data (``lakeward policy test``)

Loading validates everything and fails with :class:`PolicyBundleError` naming file and line:
Cedar syntax, schema validation (unknown actions, attributes, entity types), missing or
duplicate ``@id``, tags that are not in the vocabulary (or imply unknown tags, or carry an
``auto_approve`` outside [0, 1]), unknown groups or purposes. The
bundle's **revision** is the SHA-256 of every file's name and bytes; each decision records it.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from lakeward.errors import InputError

__all__ = [
    "BudgetCap",
    "PolicyBundle",
    "PolicyBundleError",
    "PolicyInfo",
    "TagSpec",
    "UnitColumn",
    "load_bundle",
]

_ID = re.compile(r'@id\(\s*"((?:[^"\\]|\\.)*)"\s*\)')
#: A privacy unit's name: no "/" (the ledger keeps "<unit>/period" and "<unit>/event").
_UNIT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_TAG_METHODS = ("contains", "containsAll", "containsAny")


class PolicyBundleError(InputError):
    """The policy bundle is invalid; ``problems`` lists each one with file and line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("Invalid policy bundle:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class PolicyInfo:
    """Where a policy lives and what it says about itself."""

    id: str
    effect: str  # "permit" | "forbid"
    file: str
    line: int
    description: str
    obligations: tuple[str, ...]
    est: dict[str, Any]  # Cedar JSON (EST) of the policy


@dataclass(frozen=True)
class TagSpec:
    """One tag of the vocabulary (``tags.yaml``).

    ``implies``: the tags it implies, directly and through them (closed, without itself);
    ``auto_approve``: a classifier's suggestion of this tag at this confidence or above is
    approved without a steward (``None``: a steward always decides).
    """

    name: str
    description: str
    implies: frozenset[str] = frozenset()
    auto_approve: float | None = None


@dataclass(frozen=True)
class BudgetCap:
    """A lifetime rho-zCDP cap for (unit, principal, purpose); ``*`` matches any."""

    unit: str
    principal: str
    purpose: str
    rho: float


@dataclass(frozen=True)
class UnitColumn:
    """A column that identifies a privacy unit; ``dataset`` is a glob over dataset names."""

    unit: str
    dataset: str
    column: str

    def matches(self, dataset: str, column: str) -> bool:
        """Whether this declaration covers ``column`` of ``dataset``."""
        return column == self.column and fnmatchcase(dataset, self.dataset)


@dataclass
class PolicyBundle:
    """A loaded, validated policy bundle."""

    directory: Path
    revision: str
    schema_text: str
    policies: dict[str, PolicyInfo]
    users: dict[str, tuple[str, ...]]  # user → groups
    groups: tuple[str, ...]
    os_users: dict[str, str]  # OS user name (or "*") → principal
    oidc_subjects: dict[str, str]  # OIDC subject → principal
    purposes: dict[str, str]  # purpose → acknowledgement text
    tags: dict[str, str]
    caps: list[BudgetCap]
    est: dict[str, Any] = field(repr=False, default_factory=dict)
    units: dict[str, tuple[UnitColumn, ...]] = field(default_factory=dict)
    vocabulary: dict[str, TagSpec] = field(default_factory=dict)

    def expand_tags(self, names: Iterable[str]) -> set[str]:
        """``names`` with every tag they imply (``type.email`` → ``pii``, ``pii_direct``)."""
        expanded: set[str] = set()
        for name in names:
            expanded.add(name)
            spec = self.vocabulary.get(name)
            if spec is not None:
                expanded |= spec.implies
        return expanded

    def auto_approve(self, tag: str) -> float | None:
        """The confidence from which a suggested ``tag`` is approved automatically, if any."""
        spec = self.vocabulary.get(tag)
        return None if spec is None else spec.auto_approve

    def units_identified_by(self, dataset: str, column: str) -> list[str]:
        """The privacy units ``units.yaml`` says ``column`` of ``dataset`` identifies."""
        return sorted(
            {
                unit
                for unit, columns in self.units.items()
                for declared in columns
                if declared.matches(dataset, column)
            }
        )

    def cap_for(self, unit: str, principal: str, purpose: str) -> BudgetCap | None:
        """The most specific cap matching the triple (exact beats ``*``), or ``None``."""
        best: tuple[int, BudgetCap] | None = None
        for cap in self.caps:
            if cap.unit != unit:
                continue
            if cap.principal not in ("*", principal) or cap.purpose not in ("*", purpose):
                continue
            score = (cap.principal != "*") * 2 + (cap.purpose != "*")
            if best is None or score > best[0]:
                best = (score, cap)
        return best[1] if best else None

    def principal_for_os_user(self, os_user: str) -> str | None:
        """The principal an OS user acts as: an explicit listing wins over ``"*"``."""
        return self.os_users.get(os_user) or self.os_users.get("*")

    def policy_set(self) -> Any:
        """The parsed Cedar policy set (ids are the @id annotations)."""
        import cedarpy

        return cedarpy.PolicySet.from_json_str(json.dumps(self.est))

    def schema(self) -> Any:
        """The parsed Cedar schema."""
        import cedarpy

        return cedarpy.Schema.from_str(self.schema_text)


def _yaml(path: Path, problems: list[str]) -> dict[str, Any]:
    if not path.exists():
        problems.append(f"{path.name}: missing")
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        problems.append(f"{path.name}: not valid YAML ({exc})")
        return {}
    if not isinstance(data, dict):
        problems.append(f"{path.name}: must be a mapping")
        return {}
    return data


def _tag_literals(node: Any) -> list[str]:
    """Every string literal compared against a ``.tags`` attribute in an EST expression."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _TAG_METHODS and isinstance(value, dict):
                left = value.get("left", {})
                if isinstance(left, dict) and left.get(".", {}).get("attr") in ("tags", "labels"):
                    right = value.get("right", {})
                    items = right.get("Set", [right]) if isinstance(right, dict) else []
                    found += [i["Value"] for i in items if isinstance(i.get("Value"), str)]
            found += _tag_literals(value)
    elif isinstance(node, list):
        for item in node:
            found += _tag_literals(item)
    return found


def _is_purpose(node: Any) -> bool:
    return (
        isinstance(node, dict)
        and node.get(".", {}).get("attr") == "purpose"
        and node.get(".", {}).get("left") == {"Var": "context"}
    )


def _purpose_literals(node: Any) -> list[str]:
    """String literals compared with ``context.purpose`` (``==``, ``!=``, ``in [..]``)."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("==", "!=") and isinstance(value, dict):
                for this, other in (("left", "right"), ("right", "left")):
                    lit = value.get(other, {})
                    if _is_purpose(value.get(this)) and isinstance(lit, dict):
                        if isinstance(lit.get("Value"), str) and lit["Value"]:
                            found.append(lit["Value"])
            if key == "contains" and isinstance(value, dict) and _is_purpose(value.get("right")):
                items = value.get("left", {}).get("Set", [])
                found += [i["Value"] for i in items if isinstance(i.get("Value"), str)]
            found += _purpose_literals(value)
    elif isinstance(node, list):
        for item in node:
            found += _purpose_literals(item)
    return found


def _load_policies(
    directory: Path,
    schema_text: str,
    tags: dict[str, str],
    purposes: dict[str, str],
    problems: list[str],
) -> tuple[dict[str, PolicyInfo], dict[str, Any]]:
    import cedarpy

    policies: dict[str, PolicyInfo] = {}
    merged: dict[str, Any] = {"staticPolicies": {}, "templates": {}, "templateLinks": []}
    files = sorted(directory.glob("*.cedar"))
    if not files:
        problems.append(f"{directory}: no *.cedar policy files")
    for path in files:
        text = path.read_text()
        try:
            est = json.loads(cedarpy.policies_to_json_str(text))
        except ValueError as exc:
            problems.append(f"{path.name}: Cedar syntax error: {exc}")
            continue
        id_lines = [(m.group(1), text[: m.start()].count("\n") + 1) for m in _ID.finditer(text)]
        positional = list(est.get("staticPolicies", {}).items())
        if est.get("templates"):
            problems.append(f"{path.name}: templates are not supported in the bundle yet")
        validation = cedarpy.validate_policies(text, schema_text)
        lines_by_pos: dict[str, int] = {}
        for index, (pos_id, body) in enumerate(positional):
            annotations = body.get("annotations", {})
            pid = annotations.get("id")
            line = next((ln for i, ln in id_lines if i == pid), 0)
            lines_by_pos[pos_id] = line
            where = f"{path.name}:{line or '?'}"
            if not pid:
                problems.append(f"{path.name}: policy #{index + 1} has no @id annotation")
                continue
            if pid in policies:
                other = policies[pid]
                problems.append(f"{where}: duplicate @id {pid!r} (also {other.file}:{other.line})")
                continue
            for tag in _tag_literals(body.get("conditions", [])):
                if tag not in tags:
                    problems.append(
                        f"{where}: policy {pid!r} names unknown tag {tag!r}; add it to "
                        "tags.yaml or fix the spelling"
                    )
            for purpose in _purpose_literals(body.get("conditions", [])):
                if purpose not in purposes:
                    problems.append(
                        f"{where}: policy {pid!r} names unknown purpose {purpose!r}; add it to "
                        "purposes.yaml or fix the spelling"
                    )
            obligations = tuple(
                o.strip() for o in annotations.get("obligation", "").split(",") if o.strip()
            )
            policies[pid] = PolicyInfo(
                id=pid,
                effect=body["effect"],
                file=path.name,
                line=line,
                description=annotations.get("description", ""),
                obligations=obligations,
                est=body,
            )
            merged["staticPolicies"][pid] = body
        for error in validation.errors:
            pos = error.policy_id
            body = dict(positional).get(pos, {})
            pid = body.get("annotations", {}).get("id", pos)
            problems.append(
                f"{path.name}:{lines_by_pos.get(pos, '?')}: policy {pid!r} fails schema "
                f"validation: {error.error.replace(f'for policy `{pos}`, ', '')}"
            )
    return policies, merged


def _load_units(directory: Path, problems: list[str]) -> dict[str, tuple[UnitColumn, ...]]:
    """``units.yaml``: ``units: {name: [{dataset: glob, column: name}, ...]}`` (optional)."""
    if not (directory / "units.yaml").exists():
        return {}
    units: dict[str, tuple[UnitColumn, ...]] = {}
    owner: dict[tuple[str, str], str] = {}
    for name, entries in (_yaml(directory / "units.yaml", problems).get("units") or {}).items():
        unit = str(name)
        if not _UNIT_NAME.match(unit):
            problems.append(
                f"units.yaml: unit {unit!r} is not a valid name (a letter, then letters, "
                "digits, '_' or '-'; no '/')"
            )
            continue
        if not isinstance(entries, list) or not entries:
            problems.append(
                f"units.yaml: unit {unit!r} must list the columns that identify it, e.g. "
                "`- {dataset: 'sales.*', column: customer_id}`"
            )
            continue
        columns = []
        for i, entry in enumerate(entries):
            dataset = entry.get("dataset") if isinstance(entry, dict) else None
            column = entry.get("column") if isinstance(entry, dict) else None
            if not (isinstance(dataset, str) and dataset and isinstance(column, str) and column):
                problems.append(
                    f"units.yaml: unit {unit!r} entry #{i + 1} needs `dataset` (a name or "
                    "glob) and `column` (a name)"
                )
                continue
            other = owner.setdefault((dataset, column), unit)
            if other != unit:
                problems.append(
                    f"units.yaml: column {column!r} of {dataset!r} is declared for both "
                    f"{other!r} and {unit!r}; a column identifies one privacy unit"
                )
            columns.append(UnitColumn(unit, dataset, column))
        units[unit] = tuple(columns)
    return units


_TAG_KEYS = frozenset({"description", "implies", "auto_approve"})


def _load_vocabulary(raw: Any, problems: list[str]) -> dict[str, TagSpec]:
    """``tags.yaml``'s ``tags``: each ``name: description`` or ``name: {description, ...}``."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append("tags.yaml: `tags` must be a mapping of tag name to its description")
        return {}
    direct: dict[str, tuple[str, list[str], float | None]] = {}
    for key, entry in raw.items():
        name = str(key)
        where = f"tags.yaml: tag {name!r}"
        if isinstance(entry, str):
            direct[name] = (entry, [], None)
            continue
        if not isinstance(entry, dict):
            problems.append(
                f"{where} must be a description, or a mapping with `description` (and "
                "optionally `implies`, `auto_approve`)"
            )
            continue
        unknown = sorted(str(k) for k in entry if k not in _TAG_KEYS)
        if unknown:
            problems.append(f"{where} has unknown keys {unknown}; use {sorted(_TAG_KEYS)}")
        description = entry.get("description")
        if not isinstance(description, str) or not description.strip():
            problems.append(f"{where} needs a non-empty `description`")
            description = ""
        implies = entry.get("implies") or []
        if not isinstance(implies, list) or not all(isinstance(t, str) for t in implies):
            problems.append(f"{where}: `implies` must be a list of tag names")
            implies = []
        threshold = entry.get("auto_approve")
        if threshold is not None:
            if (
                isinstance(threshold, bool)
                or not isinstance(threshold, int | float)
                or not math.isfinite(threshold)
                or not 0.0 <= threshold <= 1.0
            ):
                problems.append(
                    f"{where}: `auto_approve` must be a confidence in [0, 1], got {threshold!r}"
                )
                threshold = None
            else:
                threshold = float(threshold)
        direct[name] = (description, list(implies), threshold)
    for name, (_, implies, _) in direct.items():
        for implied in implies:
            if implied not in direct:
                problems.append(
                    f"tags.yaml: tag {name!r} implies unknown tag {implied!r}; add it to the "
                    "vocabulary or fix the spelling"
                )
    vocabulary: dict[str, TagSpec] = {}
    for name, (description, _, threshold) in direct.items():
        closure: set[str] = set()
        pending = [t for t in direct[name][1] if t in direct]
        while pending:
            tag = pending.pop()
            if tag not in closure:
                closure.add(tag)
                pending += [t for t in direct[tag][1] if t in direct]
        vocabulary[name] = TagSpec(name, description, frozenset(closure - {name}), threshold)
    return vocabulary


def load_bundle(directory: str | Path | None = None) -> PolicyBundle:
    """Load and validate a bundle (default: ``LAKEWARD_POLICY_DIR``).

    Raises:
        PolicyBundleError: anything is invalid; every problem is listed with file and line.
    """
    from lakeward.settings import get_settings

    directory = Path(directory).resolve() if directory else get_settings().policy.bundle_dir()
    if not directory.is_dir():
        raise PolicyBundleError(
            [f"{directory}: not a directory (set LAKEWARD_POLICY_DIR to the policy bundle)"]
        )
    problems: list[str] = []
    schema_path = directory / "schema.cedarschema"
    schema_text = schema_path.read_text() if schema_path.exists() else ""
    if not schema_text:
        problems.append("schema.cedarschema: missing or empty")
    else:
        import cedarpy

        try:
            cedarpy.Schema.from_str(schema_text)
        except ValueError as exc:
            problems.append(f"schema.cedarschema: {exc}")
            schema_text = ""
    vocabulary = _load_vocabulary(_yaml(directory / "tags.yaml", problems).get("tags"), problems)
    tags = {name: spec.description for name, spec in vocabulary.items()}
    principals = _yaml(directory / "principals.yaml", problems)
    groups = tuple(str(g) for g in principals.get("groups") or [])
    users: dict[str, tuple[str, ...]] = {}
    os_users: dict[str, str] = {}
    oidc_subjects: dict[str, str] = {}
    for user, spec in (principals.get("users") or {}).items():
        spec = spec or {}
        member_of = tuple(str(g) for g in spec.get("groups", []))
        for g in member_of:
            if g not in groups:
                problems.append(f"principals.yaml: user {user!r} is in unknown group {g!r}")
        users[str(user)] = member_of
        for key, mapping in (("os_users", os_users), ("oidc_subjects", oidc_subjects)):
            names = spec.get(key) or []
            if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
                problems.append(f"principals.yaml: user {user!r}: {key} must be a list of names")
                continue
            for name in names:
                if name in mapping and mapping[name] != str(user):
                    problems.append(
                        f"principals.yaml: {key[:-1].replace('_', ' ')} {name!r} is listed under "
                        f"both {mapping[name]!r} and {user!r}; list it under one principal"
                    )
                mapping[name] = str(user)
    purposes = {
        str(name): str((spec or {}).get("text", ""))
        for name, spec in (
            _yaml(directory / "purposes.yaml", problems).get("purposes") or {}
        ).items()
    }
    for name, text in purposes.items():
        if not text:
            problems.append(f"purposes.yaml: purpose {name!r} has no acknowledgement text")
    caps: list[BudgetCap] = []
    for i, entry in enumerate(_yaml(directory / "budgets.yaml", problems).get("caps") or []):
        try:
            cap = BudgetCap(
                str(entry["unit"]),
                str(entry["principal"]),
                str(entry["purpose"]),
                float(entry["rho"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"budgets.yaml: cap #{i + 1} is malformed ({exc})")
            continue
        if not (cap.rho > 0 and cap.rho < float("inf")):
            problems.append(
                f"budgets.yaml: cap #{i + 1} has rho {cap.rho}; it must be finite and > 0"
            )
        if cap.purpose != "*" and cap.purpose not in purposes:
            problems.append(f"budgets.yaml: cap #{i + 1} names unknown purpose {cap.purpose!r}")
        caps.append(cap)
    units = _load_units(directory, problems)
    policies: dict[str, PolicyInfo] = {}
    est: dict[str, Any] = {}
    if schema_text:
        policies, est = _load_policies(directory, schema_text, tags, purposes, problems)
    if problems:
        raise PolicyBundleError(problems)
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(directory)).encode() + b"\0" + path.read_bytes() + b"\0")
    return PolicyBundle(
        directory=directory,
        revision=digest.hexdigest(),
        schema_text=schema_text,
        policies=policies,
        users=users,
        groups=groups,
        os_users=os_users,
        oidc_subjects=oidc_subjects,
        purposes=purposes,
        tags=tags,
        caps=caps,
        est=est,
        units=units,
        vocabulary=vocabulary,
    )
