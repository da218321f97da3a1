"""Keys and contexts: the owner's :class:`Keys` and the compute side's :class:`PublicContext`.

:func:`keygen` chooses the CKKS parameters from the expressions to be run (the smallest ring
degree whose modulus chain covers the deepest plan) and makes Galois keys only for the
rotation steps those plans use; without expressions it makes a chain of ``depth`` levels and
the power-of-two rotation keys. The secret key never leaves :class:`Keys`;
:meth:`Keys.public` is what the compute side gets.

Files are zip archives: ``manifest.json`` (kind, parameters, key steps, context id, the
SHA-256 of each member) and SEAL's own serialisations. A context id (a hash of the public
key) ties ciphertexts to the keys they were made under; reading a file checks the manifest
strictly, every member's digest and that the id is the hash of the public key in the file
(see :mod:`lakeward.he._files`). The keys file (it holds the secret key) is 0600 from
creation.

Without expressions, :func:`keygen` makes a chain of :data:`DEFAULT_DEPTH` (4) levels at
N=16384: the planner's all-at-once plan for k encrypted operands takes at most one level
for a layout change, ⌈log2 k⌉ for the products and one for the mask of ``clean=True``, so
four levels cover every einsum of up to four encrypted operands that fits one broadcast
step (large shapes planned in pairwise steps can need more; the :class:`DepthExceeded`
message then names the ``keygen`` call that gives enough).
"""

from __future__ import annotations

import hashlib
import json
import uuid
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from lakeward.he._backend import Backend, PlaintextCache, SealBackend, SimBackend
from lakeward.he._errors import HEInputError, KeyFileError, SecretKeyRequired
from lakeward.he._files import (
    ManifestFields,
    file_key,
    parse_manifest,
    private_temp_file,
    sha256_hex,
    write_private_file,
)
from lakeward.he._layout import Layout
from lakeward.he._params import (
    DEFAULT_DEPTH,
    MAX_COEFF_BITS,
    RING_DEGREES,
    CkksParameters,
    choose_parameters,
    galois_element,
    power_of_two_steps,
)
from lakeward.he._path import PathPlan, plan_einsum
from lakeward.he._plan import Packing, Plan

__all__ = ["Keys", "PublicContext", "keygen", "load_context", "load_keys"]

#: Version 2 adds member digests (keys, contexts) and integrity tags (ciphertexts).
FORMAT_VERSION = 2
KIND_KEYS = "lakeward-he-keys"
KIND_CONTEXT = "lakeward-he-context"
_PUBLIC_MEMBERS = ("parms", "public_key", "relin_keys", "galois_keys")
_CONTEXT_ID = "[0-9a-f]{16}"


def _seal_bytes(obj: Any) -> bytes:
    """SEAL's serialisation of ``obj`` (through a 0600 temporary file: it may be a secret)."""
    with private_temp_file() as path:
        obj.save(str(path))
        return path.read_bytes()


def _seal_load(obj: Any, data: bytes, *context: Any, source: str = "", what: str = "") -> Any:
    """Load ``obj`` from SEAL bytes; SEAL's own validation errors become KeyFileError."""
    with private_temp_file(data) as path:
        try:
            obj.load(*context, str(path))
        except (RuntimeError, ValueError, TypeError, OSError) as exc:
            raise KeyFileError(
                f"{source or 'file'}: {what or 'a member'} is not a valid SEAL object for this "
                f"context ({exc}); the file is corrupted or was not made by lakeward"
            ) from exc
    return obj


def _seal_context(params: CkksParameters) -> Any:
    import tenseal.sealapi as seal

    parms = seal.EncryptionParameters(seal.SCHEME_TYPE.CKKS)
    parms.set_poly_modulus_degree(params.ring_degree)
    parms.set_coeff_modulus(seal.CoeffModulus.Create(params.ring_degree, params.coeff_bits))
    context = seal.SEALContext(parms, True, seal.SEC_LEVEL_TYPE.TC128)
    if not context.parameters_set():
        raise HEInputError(
            f"SEAL rejects {params.describe()}: {context.parameters_error_message()}"
        )
    return context


@dataclass
class PublicContext:
    """The compute side's context: parameters, public, relinearisation and Galois keys.

    It can encrypt (with the public key) and evaluate, never decrypt.

    Attributes:
        params: The CKKS parameters.
        galois_steps: Left-rotation steps that have a Galois key.
        context_id: Identifies the key set; ciphertexts carry it.
        simulated: A cleartext simulation context (no SEAL objects, nothing secret).
        sim_slots: Slot count of a simulated context when it should differ from the
            parameters' (tests use tiny rings to exercise tiling).
        packed_for: The ``(expr, shapes)`` the keys were made for with ``packing="planned"``:
            their Galois keys serve operands packed as those plans want, so
            :func:`~lakeward.he.encrypt` packs an operand of such a shape that way by default
            (:meth:`planned_layout`).
        public_key_digest: SHA-256 of the serialised public key (the context id is its
            first 16 hex digits; the file tag key derives from it).
    """

    params: CkksParameters
    galois_steps: frozenset[int]
    context_id: str
    simulated: bool = False
    sim_slots: int | None = None
    packed_for: tuple[tuple[str, tuple[tuple[int, ...], ...]], ...] = ()
    public_key_digest: bytes = field(default=b"", repr=False)
    _key_bytes: dict[str, int] = field(default_factory=dict, repr=False)
    _seal: dict[str, Any] = field(default_factory=dict, repr=False)
    _plaintexts: PlaintextCache = field(default_factory=PlaintextCache, repr=False, compare=False)

    @property
    def key_bytes(self) -> dict[str, int]:
        """Serialised sizes of the public, relinearisation and Galois keys (bytes)."""
        if not self._key_bytes and not self.simulated:
            self._key_bytes = {
                "public": len(_seal_bytes(self._seal["public_key"])),
                "relin": len(_seal_bytes(self._seal["relin_keys"])),
                "galois": len(_seal_bytes(self._seal["galois_keys"])) if self.galois_steps else 0,
            }
        return self._key_bytes

    @property
    def file_key(self) -> bytes:
        """The key of the integrity tags on this key set's files (see ``_files``)."""
        if not self.public_key_digest:
            raise HEInputError("a simulated context has no files; use real keys")
        return file_key(self.public_key_digest, self.context_id)

    @property
    def slots(self) -> int:
        """Slots per ciphertext."""
        return self.sim_slots if self.simulated and self.sim_slots else self.params.slots

    def backend(self, secret_key: Any = None) -> Backend:
        """A fresh backend (with zeroed operation counts) over this context."""
        if self.simulated:
            return SimBackend(self.slots, self.params.depth, self.galois_steps)
        return SealBackend(
            self._seal["context"],
            public_key=self._seal["public_key"],
            relin_keys=self._seal["relin_keys"],
            galois_keys=self._seal["galois_keys"],
            available_steps=self.galois_steps,
            scale=float(2**self.params.scale_bits),
            base_primes=len(self.params.coeff_bits) - self.params.depth - 1,
            secret_key=secret_key,
            plaintexts=self._plaintexts,
        )

    @property
    def seal_context(self) -> Any:
        """The ``tenseal.sealapi.SEALContext`` (``None`` when simulated)."""
        return self._seal.get("context")

    def describe(self) -> str:
        """Parameters, key steps and key sizes in one line."""
        kind = "simulated " if self.simulated else ""
        sizes = ", ".join(f"{k} {v / 2**20:.1f} MiB" for k, v in self.key_bytes.items())
        return (
            f"{kind}context {self.context_id}: {self.params.describe()}; "
            f"{len(self.galois_steps)} Galois keys" + (f"; {sizes}" if sizes else "")
        )

    def planned_layout(self, shape: tuple[int, ...]) -> Layout | None:
        """The layout the planned expressions want for an operand of ``shape``, if any.

        Raises:
            HEInputError: operands of that shape want different layouts; choose one with
                ``encrypt(..., layout=plan.input_layouts[n])`` (CLI: ``--pack-for``).
        """
        wanted: dict[Layout, str] = {}
        for expr, shapes in self.packed_for:
            if shape not in shapes:
                continue
            plan = plan_einsum(expr, *shapes, slots=self.slots, packing="planned")
            for n, (operand, layout) in enumerate(zip(shapes, plan.input_layouts, strict=True)):
                if operand == shape and layout is not None:
                    wanted.setdefault(layout, f"operand {n} of {expr!r}")
        if len(wanted) > 1:
            raise HEInputError(
                f"encrypt: the keys were made for planned packing and an array of shape "
                f"{shape} could be {' or '.join(wanted.values())}, which want different "
                "layouts; pass layout=plan.input_layouts[n] (CLI: --pack-for EXPR=SHAPES "
                "--operand N)"
            )
        return next(iter(wanted), None)

    def _manifest(self, kind: str, members: dict[str, str]) -> dict[str, Any]:
        return {
            "kind": kind,
            "version": FORMAT_VERSION,
            "params": self.params.to_dict(),
            "galois_steps": sorted(self.galois_steps),
            "context_id": self.context_id,
            "key_bytes": self.key_bytes,
            "packed_for": [
                {"expr": expr, "shapes": [list(s) for s in shapes]}
                for expr, shapes in self.packed_for
            ],
            "members": members,
        }

    def _write_archive(self, handle: IO[bytes], kind: str, extra: dict[str, bytes]) -> None:
        if self.simulated:
            raise HEInputError("a simulated context has nothing to save; use real keys")
        members = {name: _seal_bytes(self._seal[name]) for name in _PUBLIC_MEMBERS} | extra
        digests = {name: sha256_hex(data) for name, data in members.items()}
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr("manifest.json", json.dumps(self._manifest(kind, digests), indent=2))
            for name, data in members.items():
                archive.writestr(name, data)

    def save(self, path: str | Path) -> Path:
        """Write the public context (no secret key) to ``path``."""
        if self.simulated:
            raise HEInputError("a simulated context has nothing to save; use real keys")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as handle:
            self._write_archive(handle, KIND_CONTEXT, {})
        return target


@dataclass
class Keys:
    """The data owner's keys: the public context plus the secret key."""

    context: PublicContext
    _secret_key: Any = field(repr=False)

    def public(self) -> PublicContext:
        """The compute side's context, without the secret key."""
        return self.context

    @property
    def context_id(self) -> str:
        """The key set's id."""
        return self.context.context_id

    def backend(self) -> Backend:
        """A backend that can also decrypt."""
        return self.context.backend(secret_key=self._secret_key)

    def save(self, path: str | Path) -> Path:
        """Write the owner's keys (secret key included), 0600 from creation.

        The file is written under a temporary name opened 0600 with ``O_EXCL | O_NOFOLLOW``
        and then renamed over ``path``: it is never readable by others, whatever the umask.
        """
        if self.context.simulated:
            raise HEInputError("a simulated context has nothing to save; use real keys")
        secret = {"secret_key": _seal_bytes(self._secret_key)}
        return write_private_file(
            path, lambda handle: self.context._write_archive(handle, KIND_KEYS, secret)
        )


def _read_archive(path: str | Path) -> tuple[ManifestFields, zipfile.ZipFile]:
    source = Path(path)
    if not source.is_file():
        raise KeyFileError(f"{source}: no such file")
    try:
        archive = zipfile.ZipFile(source)
        raw = _member(archive, "manifest.json", str(source))
    except zipfile.BadZipFile as exc:
        raise KeyFileError(
            f"{source}: not a lakeward he file ({exc}); make one with `lakeward he keygen`"
        ) from exc
    try:
        manifest = parse_manifest(raw, str(source))
        manifest.choice("kind", (KIND_KEYS, KIND_CONTEXT, "lakeward-he-ciphertext"))
        manifest.choice("version", (1, FORMAT_VERSION))
    except KeyFileError:
        archive.close()
        raise
    return manifest, archive


def _member(archive: zipfile.ZipFile, name: str, source: str, limit: int = 1 << 31) -> bytes:
    """One member's bytes; a missing, oversized or unreadable member is a KeyFileError."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise KeyFileError(
            f"{source}: {name} is missing; the file is truncated or not a lakeward he file"
        ) from None
    if info.file_size > limit:
        raise KeyFileError(f"{source}: {name} is {info.file_size} bytes, more than {limit}")
    try:
        return archive.read(name)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise KeyFileError(f"{source}: {name} cannot be read ({exc}); the file is damaged") from exc


def _parameters(manifest: ManifestFields) -> CkksParameters:
    p = manifest.object("params")
    ring = p.choice("ring_degree", tuple(RING_DEGREES))
    try:
        params = CkksParameters(
            ring,
            p.integer("depth", 0, 64),
            p.integer("scale_bits", 20, 59),
            p.integer("integer_bits", 10, 60),
        )
    except HEInputError as exc:
        raise KeyFileError(f"{p.where}: {exc}") from exc
    if params.total_bits > MAX_COEFF_BITS[ring]:  # pragma: no cover - CkksParameters refuses
        raise KeyFileError(f"{p.where}: the chain exceeds ring degree {ring}")
    return params


def _packed_for(
    manifest: ManifestFields,
) -> tuple[tuple[str, tuple[tuple[int, ...], ...]], ...]:
    if not manifest.has("packed_for"):
        return ()
    items = []
    for item in manifest.objects("packed_for", 64):
        item.only({"expr", "shapes"})
        expr = item.string("expr", r"[A-Za-z,\- >]{1,200}", "einsum subscripts")
        shapes = item.array("shapes", 32)
        if not all(
            isinstance(shape, list)
            and len(shape) <= 32
            and all(
                isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 1 << 31 for n in shape
            )
            for shape in shapes
        ):
            raise item.problem("shapes", "an array of shapes (arrays of positive integers)")
        items.append((expr, tuple(tuple(shape) for shape in shapes)))
    return tuple(items)


def _load_context(manifest: ManifestFields, archive: zipfile.ZipFile, source: str) -> PublicContext:
    import tenseal.sealapi as seal

    params = _parameters(manifest)
    galois_steps = manifest.ints("galois_steps", params.slots, 1, params.slots - 1)
    context_id = manifest.string("context_id", _CONTEXT_ID, "16 lowercase hex digits")
    key_bytes: dict[str, int] = {}
    if manifest.has("key_bytes"):
        sizes = manifest.object("key_bytes")
        sizes.only({"public", "relin", "galois"})
        key_bytes = {name: sizes.integer(name, 0, 1 << 40) for name in sizes.data}
    packed_for = _packed_for(manifest)
    names = _PUBLIC_MEMBERS + (("secret_key",) if manifest.data.get("kind") == KIND_KEYS else ())
    blobs = {name: _member(archive, name, source) for name in names}
    if manifest.data.get("version") == FORMAT_VERSION:
        members = manifest.object("members")
        members.only(set(names))
        for name, data in blobs.items():
            if sha256_hex(data) != members.digest(name):
                raise KeyFileError(
                    f"{source}: {name} does not match its digest in the manifest: the file "
                    "was modified or damaged after it was written"
                )
    digest = hashlib.sha256(blobs["public_key"]).digest()
    if digest.hex()[:16] != context_id:
        raise KeyFileError(
            f"{source}: the public key does not belong to context {context_id} (its hash is "
            f"{digest.hex()[:16]}): the file was modified or assembled from two key sets"
        )
    context = _seal_context(params)
    objects: dict[str, Any] = {"context": context}
    objects["parms"] = _seal_load(
        seal.EncryptionParameters(seal.SCHEME_TYPE.CKKS),
        blobs["parms"],
        source=source,
        what="parms",
    )
    for name, cls in (("public_key", seal.PublicKey), ("relin_keys", seal.RelinKeys)):
        objects[name] = _seal_load(cls(), blobs[name], context, source=source, what=name)
    objects["galois_keys"] = seal.GaloisKeys()
    if galois_steps:  # SEAL refuses to load an empty key set as invalid
        _seal_load(
            objects["galois_keys"], blobs["galois_keys"], context, source=source, what="galois_keys"
        )
    if "secret_key" in blobs:
        objects["secret_key"] = _seal_load(
            seal.SecretKey(), blobs["secret_key"], context, source=source, what="secret_key"
        )
    missing = [
        s
        for s in galois_steps
        if not objects["galois_keys"].has_key(galois_element(s, params.ring_degree))
    ]
    if missing:
        raise KeyFileError(
            f"{source}: the manifest lists Galois steps {missing[:5]} that the Galois keys lack"
        )
    return PublicContext(
        params=params,
        galois_steps=frozenset(galois_steps),
        context_id=context_id,
        packed_for=packed_for,
        public_key_digest=digest,
        _key_bytes=key_bytes,
        _seal=objects,
    )


def load_context(path: str | Path) -> PublicContext:
    """Read a public context (or the public part of an owner's keys file).

    Raises:
        KeyFileError: the file is missing, malformed, modified or of another kind.
    """
    manifest, archive = _read_archive(path)
    with archive:
        kind = manifest.data["kind"]
        if kind not in (KIND_CONTEXT, KIND_KEYS):
            raise KeyFileError(f"{path}: a {kind} file, not a context")
        context = _load_context(manifest, archive, str(path))
    context._seal.pop("secret_key", None)  # a context never holds the secret key
    return context


def load_keys(path: str | Path) -> Keys:
    """Read the owner's keys.

    Raises:
        SecretKeyRequired: ``path`` is a public context (it has no secret key).
        KeyFileError: the file is missing, malformed, modified or of another kind.
    """
    manifest, archive = _read_archive(path)
    with archive:
        kind = manifest.data["kind"]
        if kind == KIND_CONTEXT:
            raise SecretKeyRequired(
                f"{path} is a public context without the secret key; decrypt with the "
                "owner's keys file (written by `lakeward he keygen --keys ...`)"
            )
        if kind != KIND_KEYS:
            raise KeyFileError(f"{path}: a {kind} file, not keys")
        context = _load_context(manifest, archive, str(path))
    secret = context._seal.pop("secret_key")
    return Keys(context, secret)


def _plans_for(
    expressions: Iterable[Any], ring_degree: int, packing: Packing
) -> list[Plan | PathPlan]:
    plans: list[Plan | PathPlan] = []
    for item in expressions:
        if isinstance(item, Plan | PathPlan):
            if item.slots != ring_degree // 2:
                raise HEInputError(
                    f"plan for {item.expr!r} was made for {item.slots} slots, not "
                    f"{ring_degree // 2}; plan with slots=None or pass (expr, *shapes)"
                )
            plans.append(item)
            continue
        if isinstance(item, str) or not isinstance(item, Sequence) or not item:
            raise HEInputError(f"expressions: give (expr, *shapes) tuples or plans, got {item!r}")
        expr, *shapes = item
        plans.append(plan_einsum(expr, *shapes, slots=ring_degree // 2, packing=packing))
    return plans


def keygen(
    expressions: Iterable[Any] | None = None,
    *,
    depth: int | None = None,
    ring_degree: int | None = None,
    scale_bits: int | None = None,
    integer_bits: int = 20,
    galois_steps: Iterable[int] | None = None,
    packing: Packing = "row-major",
    simulated: bool = False,
) -> Keys:
    """Generate the owner's keys.

    Args:
        expressions: Einsums the keys must serve: ``(expr, *shapes)`` tuples (every operand
            encrypted) or :class:`~lakeward.he.Plan` objects. The ring degree is the
            smallest whose chain covers the deepest plan; Galois keys are made for exactly
            the steps the plans rotate by.
        depth: Levels of the chain (at least the plans' depth). Default without
            expressions: :data:`~lakeward.he._params.DEFAULT_DEPTH` (4, N=16384), enough
            for any one-step einsum of up to four encrypted operands.
        ring_degree: Force N (8192, 16384 or 32768).
        scale_bits: Encoding scale 2**scale_bits (precision); default: the largest, up to
            2**50, that the chosen ring degree holds.
        integer_bits: Headroom for results up to about 2**integer_bits.
        galois_steps: Extra rotation steps to make keys for. Without expressions and without
            this, the power-of-two steps (any rotation composes from them).
        packing: How the plans assume operands are packed (see ``plan_einsum``). With
            ``"planned"`` the context remembers the ``(expr, *shapes)`` items and
            :func:`~lakeward.he.encrypt` packs an array of an operand's shape as its plan
            wants (the Galois keys are only the planned plans' steps).
        simulated: Make a cleartext simulation context instead (same plans, counts and
            levels; nothing is encrypted).

    Returns:
        The owner's :class:`Keys`; ``keys.public()`` is the compute side's context.
    """
    items = list(expressions or [])
    rings = [ring_degree] if ring_degree else list(RING_DEGREES)
    params: CkksParameters | None = None
    plans: list[Plan | PathPlan] = []
    problem: Exception | None = None
    for ring in rings:
        try:
            plans = _plans_for(items, ring, packing)
            needed = max(
                [p.depth for p in plans]
                + [depth if depth is not None else (0 if items else DEFAULT_DEPTH)]
            )
            params = choose_parameters(
                needed, scale_bits=scale_bits, integer_bits=integer_bits, ring_degree=ring
            )
            break
        except HEInputError as exc:
            problem = exc
    if params is None:
        raise problem if problem else HEInputError("no parameters fit")
    steps: set[int] = set()
    for plan in plans:
        steps |= plan.galois_steps
    if galois_steps is not None:
        steps |= {int(s) % params.slots for s in galois_steps} - {0}
    elif not items:
        steps |= power_of_two_steps(params.slots)
    packed_for = tuple(
        (str(item[0]), tuple(tuple(int(n) for n in shape) for shape in item[1:]))
        for item in items
        if packing == "planned" and not isinstance(item, Plan | PathPlan)
    )
    if simulated:
        context = PublicContext(
            params,
            frozenset(steps),
            "sim-" + uuid.uuid4().hex[:12],
            simulated=True,
            packed_for=packed_for,
        )
        return Keys(context, None)
    import tenseal.sealapi as seal

    seal_context = _seal_context(params)
    generator = seal.KeyGenerator(seal_context)
    public_key = seal.PublicKey()
    generator.create_public_key(public_key)
    relin_keys = seal.RelinKeys()
    generator.create_relin_keys(relin_keys)
    galois_keys = seal.GaloisKeys()
    if steps:
        generator.create_galois_keys(
            sorted(galois_element(s, params.ring_degree) for s in steps), galois_keys
        )
    parms = seal.EncryptionParameters(seal.SCHEME_TYPE.CKKS)
    parms.set_poly_modulus_degree(params.ring_degree)
    parms.set_coeff_modulus(seal.CoeffModulus.Create(params.ring_degree, params.coeff_bits))
    digest = hashlib.sha256(_seal_bytes(public_key)).digest()
    context = PublicContext(
        params=params,
        galois_steps=frozenset(steps),
        context_id=digest.hex()[:16],
        packed_for=packed_for,
        public_key_digest=digest,
        _seal={
            "context": seal_context,
            "parms": parms,
            "public_key": public_key,
            "relin_keys": relin_keys,
            "galois_keys": galois_keys,
        },
    )
    return Keys(context, generator.secret_key())
