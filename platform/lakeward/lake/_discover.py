"""Find the datasets under a lake root.

A **dataset** is either one data file (``.parquet``/``.pq``, ``.csv``, ``.json``/``.jsonl``/
``.ndjson``, each optionally ``.gz``) or a **directory of part files**: a directory without
subdirectories whose data files all share one format and are all named like part files
(``part-00000...``, ``part_1``, ``data-0003``, ``chunk-7``, ``00012``), or that holds a
``_SUCCESS`` marker (Spark/Hadoop output). Other directories are folders of the lake and are
walked. Names starting with ``_`` or ``.`` (``_SUCCESS``, ``.crc`` files, ``_delta_log``)
are not data.

A dataset's **name** is its path relative to the root with ``/`` → ``.`` and the data
extension dropped: ``sales/orders/`` → ``sales.orders``, ``hr/employees.csv`` →
``hr.employees``. Names are unique within a lake, whatever the paths: datasets that would
share a name (``a/b.csv`` and ``a/b.parquet``) each get their format appended (``a.b.csv``,
``a.b.parquet``); where that is not enough (``a.b.csv`` beside ``a/b.csv``), the dots
inside a path's own file or directory names become ``_`` (``a_b.csv``), and as a last
resort a short hash of the path is appended (``name~1a2b3c4d``). Each such renaming is
reported in :attr:`LakeDiscovery.notes`.

**Symbolic links** (local roots; object stores have none). A lake root is a confinement
boundary: nothing outside it is ever listed, profiled or read through the lake.

- A link to a *directory* is never followed, wherever it points: outside the root it would
  expose data that is not the lake's, inside it would find datasets twice or loop forever
  (``ln -s .. lake/d/up``). It is reported in :attr:`LakeDiscovery.skipped`.
- A link to a *file* is read only when its real path is a regular file inside the root
  (``latest.csv -> v3.csv``), not in a hidden directory. A link leading anywhere else is
  refused: as a dataset of its own it is skipped (and reported); as a part file of a
  directory dataset it is listed with an ``error``, so that dataset fails to profile,
  naming the file, instead of being read without it.
- A dangling link is listed with its error, like an unreadable file.
- Real directories are walked once each (by device and inode), so a loop through a bind
  mount ends too.

:func:`list_files` (the files of a registered dataset, listed again just before each read)
applies the same checks, to the dataset's own path as well, so a link swapped in after
registration is refused at read time. What remains is the moment between that check and
Spark opening the file; closing it would need the reader to open files by descriptor.

Local paths are listed with ``os`` (so dangling links and unreadable files are seen and
reported); other URIs (``s3://``, ``gs://``, ``hdfs://``) through ``pyarrow.fs``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from lakeward.errors import LakeError, LakewardInternalError

__all__ = [
    "DataFile",
    "DatasetSpec",
    "LakeDiscovery",
    "LakeRoot",
    "SkippedPath",
    "discover",
    "discover_lake",
    "list_files",
    "open_root",
]

_FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}
_COMPRESSION = (".gz", ".bz2", ".snappy", ".zst", ".lz4")
_PART_NAME = re.compile(r"^((part|data|chunk)[-_]?)?\d+([-_.].*)?$", re.IGNORECASE)


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset; ``error`` says why it cannot be read (``None`` if it can)."""

    path: str  # absolute path (local) or path within the filesystem (remote)
    relpath: str  # relative to the lake root, '/'-separated
    size: int
    mtime_ns: int
    error: str | None = None


@dataclass(frozen=True)
class LakeRoot:
    """A lake root: its canonical URI and how to reach its files."""

    uri: str  # file:///abs/path or scheme://bucket/prefix
    path: str  # path as the filesystem sees it
    local: bool

    def spark_path(self, relpath: str) -> str:
        """The path Spark reads for ``relpath`` under this root."""
        return f"{self.uri.rstrip('/')}/{relpath}" if relpath else self.uri


@dataclass
class DatasetSpec:
    """A dataset found under a lake root."""

    name: str
    relpath: str
    format: str
    layout: str  # "file" | "directory"
    root: LakeRoot
    files: list[DataFile] = field(default_factory=list)

    @property
    def uri(self) -> str:
        """The URI Spark reads."""
        return self.root.spark_path(self.relpath)

    @property
    def bytes(self) -> int:
        """Total size of the data files."""
        return sum(max(f.size, 0) for f in self.files)

    @property
    def signature(self) -> str:
        """Hash of the file list, sizes and mtimes: changes whenever a file does."""
        digest = hashlib.sha256()
        for f in sorted(self.files, key=lambda f: f.relpath):
            digest.update(f"{f.relpath}\0{f.size}\0{f.mtime_ns}\n".encode())
        return digest.hexdigest()


def open_root(root: str | os.PathLike[str]) -> LakeRoot:
    """Validate a lake root and return its canonical form.

    Raises:
        LakeError: the root does not exist, is not a directory or cannot be listed.
    """
    text = os.fspath(root)
    parsed = urlparse(text)
    if parsed.scheme in ("", "file") or (len(parsed.scheme) == 1 and os.name == "nt"):
        path = Path(parsed.path if parsed.scheme == "file" else text).expanduser().resolve()
        if not path.exists():
            raise LakeError(
                f"Lake root {path} does not exist. Fix: pass an existing directory (or set "
                "LAKEWARD_LAKE_ROOT); `lakeward lake generate --out DIR` makes a sample lake.",
                path=str(path),
            )
        if not path.is_dir():
            raise LakeError(f"Lake root {path} is a file, not a directory.", path=str(path))
        if not os.access(path, os.R_OK | os.X_OK):
            raise LakeError(
                f"Lake root {path} cannot be listed (permission denied). Fix: grant read and "
                "execute permission on it to this user.",
                path=str(path),
            )
        return LakeRoot(uri=path.as_uri(), path=str(path), local=True)
    import pyarrow.fs as pafs

    try:
        fs, path_in_fs = pafs.FileSystem.from_uri(text)
        info = fs.get_file_info(path_in_fs)
    except Exception as exc:
        raise LakeError(f"Cannot open lake root {text}: {exc}", path=text) from exc
    if info.type != pafs.FileType.Directory:
        raise LakeError(f"Lake root {text} is not a directory (or does not exist).", path=text)
    return LakeRoot(uri=text.rstrip("/"), path=path_in_fs, local=False)


def _data_format(name: str) -> str | None:
    lower = name.lower()
    for suffix in _COMPRESSION:
        if lower.endswith(suffix):
            lower = lower[: -len(suffix)]
            break
    return _FORMATS.get(os.path.splitext(lower)[1])


def _strip_data_ext(name: str) -> str:
    lower = name.lower()
    for suffix in _COMPRESSION:
        if lower.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return os.path.splitext(name)[0]


def _hidden(name: str) -> bool:
    return name.startswith(("_", ".")) or name.endswith(".crc")


@dataclass(frozen=True)
class SkippedPath:
    """A path under the lake root that discovery did not take, and why."""

    relpath: str
    reason: str

    def __str__(self) -> str:
        return f"{self.relpath}: skipped, {self.reason}"


_Tree = dict[str, tuple[list[DataFile], list[str], bool]]

_OUTSIDE = "a symbolic link leading outside the lake root (never followed or read)"


def _within(real_root: str, real_path: str) -> bool:
    return real_path == real_root or real_path.startswith(real_root.rstrip(os.sep) + os.sep)


def _link_refusal(real_root: str, full: str) -> str | None:
    """Why the file link ``full`` is not read (``None``: it is read; dangling: reported later).

    A file link is read only when its real path is a regular file inside the root and
    outside its hidden directories.
    """
    target = os.path.realpath(full)
    if not os.path.lexists(target):
        return None  # dangling: os.stat reports it like any unreadable file
    if not _within(real_root, target):
        return _OUTSIDE
    rel = os.path.relpath(target, real_root).replace(os.sep, "/")
    if any(_hidden(part) for part in rel.split("/")):
        return f"a symbolic link into the hidden path {rel} (never followed or read)"
    if not os.path.isfile(target):
        return f"a symbolic link to {rel}, which is not a regular file (never followed)"
    return None


def _path_refusal(root: LakeRoot, full: str) -> str | None:
    """Why ``full`` (a path under a local root, itself or a parent maybe a link) is not read."""
    real = os.path.realpath(full)
    if not _within(os.path.realpath(root.path), real):
        return _OUTSIDE
    if os.path.islink(full):
        return _link_refusal(os.path.realpath(root.path), full)
    return None


def _local_file(real_root: str, full: str, rel: str) -> tuple[DataFile, str | None]:
    """One data file as listed, and why it is refused (``None`` when it is not)."""
    refusal = _link_refusal(real_root, full) if os.path.islink(full) else None
    if refusal is not None:  # not even stat'ed: its size would tell about the target
        return DataFile(full, rel, -1, 0, refusal), refusal
    try:
        st = os.stat(full)
    except OSError as exc:
        return DataFile(full, rel, -1, 0, f"cannot stat: {exc.strerror}"), None
    error = None if os.access(full, os.R_OK) else "permission denied"
    return DataFile(full, rel, st.st_size, st.st_mtime_ns, error), None


def _walk_local(root: LakeRoot, below: str = "", skipped: list[SkippedPath] | None = None) -> _Tree:
    """Dir relpath → (data files, subdir names, has _SUCCESS); never follows a directory link.

    ``skipped`` collects the links not followed (and directories seen twice) with why.
    """
    skipped = [] if skipped is None else skipped
    real_root = os.path.realpath(root.path)
    tree: _Tree = {}
    walked: set[tuple[int, int]] = set()
    start = os.path.join(root.path, below) if below else root.path
    for dirpath, dirnames, filenames in os.walk(start, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root.path).replace(os.sep, "/")
        rel_dir = "" if rel_dir == "." else rel_dir
        try:
            st = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        if (st.st_dev, st.st_ino) in walked:  # a loop through a bind mount
            skipped.append(SkippedPath(rel_dir, "a directory already walked (a loop)"))
            dirnames[:] = []
            continue
        walked.add((st.st_dev, st.st_ino))
        subdirs: list[str] = []
        for name in sorted(d for d in dirnames if not _hidden(d)):
            full = os.path.join(dirpath, name)
            if not os.path.islink(full):
                subdirs.append(name)
                continue
            rel = f"{rel_dir}/{name}" if rel_dir else name
            target = os.path.realpath(full)
            if _within(real_root, target):
                where = os.path.relpath(target, real_root).replace(os.sep, "/")
                reason = (
                    f"a symbolic link to the directory {where or '.'} inside the lake (never "
                    "followed: that directory is discovered under its own path)"
                )
            else:
                reason = _OUTSIDE
            skipped.append(SkippedPath(rel, reason))
        dirnames[:] = subdirs
        files: list[DataFile] = []
        for name in sorted(filenames):
            if _hidden(name) or _data_format(name) is None:
                continue
            rel = f"{rel_dir}/{name}" if rel_dir else name
            data_file, refusal = _local_file(real_root, os.path.join(dirpath, name), rel)
            if refusal is not None:
                skipped.append(SkippedPath(rel, refusal))
            files.append(data_file)
        tree[rel_dir] = (files, subdirs, "_SUCCESS" in filenames)
    return tree


def _walk_remote(
    root: LakeRoot, below: str = ""
) -> dict[str, tuple[list[DataFile], list[str], bool]]:
    import pyarrow.fs as pafs

    fs, _ = pafs.FileSystem.from_uri(root.uri)
    start = f"{root.path.rstrip('/')}/{below}" if below else root.path
    tree: dict[str, tuple[list[DataFile], list[str], bool]] = defaultdict(lambda: ([], [], False))
    success: set[str] = set()
    for info in fs.get_file_info(pafs.FileSelector(start, recursive=True)):
        rel = info.path[len(root.path.rstrip("/")) + 1 :]
        parent, _, name = rel.rpartition("/")
        if any(_hidden(part) for part in rel.split("/")[:-1]):
            continue
        if info.type == pafs.FileType.Directory:
            if not _hidden(name):
                tree[parent][1].append(name)
                tree.setdefault(rel, ([], [], False))
        elif name == "_SUCCESS":
            success.add(parent)
        elif not _hidden(name) and _data_format(name):
            tree[parent][0].append(DataFile(info.path, rel, info.size or 0, info.mtime_ns or 0))
    return {
        k: (sorted(v[0], key=lambda f: f.relpath), sorted(v[1]), k in success)
        for k, v in tree.items()
    }


def _is_part_dir(files: list[DataFile], subdirs: list[str], has_success: bool) -> bool:
    if subdirs or not files:
        return False
    if len({_data_format(f.relpath) for f in files}) != 1:
        return False
    return has_success or all(_PART_NAME.match(f.relpath.rsplit("/", 1)[-1]) for f in files)


def _walk(root: LakeRoot, below: str = "", skipped: list[SkippedPath] | None = None) -> _Tree:
    return _walk_local(root, below, skipped) if root.local else _walk_remote(root, below)


@dataclass
class LakeDiscovery:
    """What :func:`discover_lake` found: the datasets, the paths it skipped, the renamings."""

    datasets: list[DatasetSpec]
    skipped: list[SkippedPath] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        """One line per skipped path and per renaming, for people."""
        return [str(s) for s in self.skipped] + self.notes


def _dotless_name(spec: DatasetSpec) -> str:
    """The name with the dots inside each path part as ``_`` (``a.b.csv`` → ``a_b``)."""
    stem = spec.relpath if spec.layout == "directory" else _strip_data_ext(spec.relpath)
    return ".".join(part.replace(".", "_") for part in stem.split("/"))


def _clashes(specs: list[DatasetSpec]) -> list[list[DatasetSpec]]:
    by_name: dict[str, list[DatasetSpec]] = defaultdict(list)
    for spec in specs:
        by_name[spec.name].append(spec)
    return [group for group in by_name.values() if len(group) > 1]


def _unique_names(specs: list[DatasetSpec]) -> list[str]:
    """Rename clashing datasets until every name is unique; returns notes on the renamings.

    First every dataset in a clash gets its format appended (``a/b.csv``, ``a/b.parquet``:
    documented, no note). Where names still clash, a dataset that still has its own plain
    name keeps it when it is the only one, and the others are renamed: the dots inside
    their path parts made ``_`` (with the format), then, last, a hash of the path
    appended (unique because paths are).
    """
    plain = {id(spec): spec.name for spec in specs}
    notes: list[str] = []

    def dotless(spec: DatasetSpec) -> str:
        return f"{_dotless_name(spec)}.{spec.format}"

    def hashed(spec: DatasetSpec) -> str:
        return f"{spec.name}~{hashlib.sha256(spec.relpath.encode()).hexdigest()[:8]}"

    for group in _clashes(specs):
        for spec in group:
            spec.name = f"{spec.name}.{spec.format}"
    for step in (dotless, hashed):
        for group in _clashes(specs):
            clashed = group[0].name
            keepers = [s for s in group if s.name == plain[id(s)]]
            movers = [s for s in group if len(keepers) != 1 or s is not keepers[0]]
            for spec in movers:
                spec.name = step(spec)
            paths = " and ".join(sorted(s.relpath for s in group))
            renamed = ", ".join(f"{s.relpath} → {s.name}" for s in movers)
            notes.append(
                f"{paths} would all be named {clashed!r}; renamed {renamed}. Fix: rename one "
                "of the paths for plainer names."
            )
    if _clashes(specs):  # cannot happen: paths are unique, and so are their hashes
        raise LakewardInternalError(f"dataset names still clash: {_clashes(specs)}")
    return notes


def discover_lake(root: str | os.PathLike[str] | LakeRoot) -> LakeDiscovery:
    """Every dataset under ``root``, sorted by name, with the paths skipped and why.

    Raises:
        LakeError: the root cannot be opened.
    """
    lake = root if isinstance(root, LakeRoot) else open_root(root)
    skipped: list[SkippedPath] = []
    tree = _walk(lake, skipped=skipped)
    refused = {s.relpath for s in skipped}
    specs: list[DatasetSpec] = []
    for rel_dir in sorted(tree):
        files, subdirs, has_success = tree[rel_dir]
        if rel_dir and _is_part_dir(files, subdirs, has_success):
            fmt = _data_format(files[0].relpath)
            assert fmt is not None
            specs.append(
                DatasetSpec(rel_dir.replace("/", "."), rel_dir, fmt, "directory", lake, files)
            )
            continue
        for f in files:
            if f.relpath in refused:  # a link leading out of the lake is no dataset
                continue
            fmt = _data_format(f.relpath)
            assert fmt is not None
            name = _strip_data_ext(f.relpath).replace("/", ".")
            specs.append(DatasetSpec(name, f.relpath, fmt, "file", lake, [f]))
    notes = _unique_names(specs)
    return LakeDiscovery(sorted(specs, key=lambda s: s.name), skipped, notes)


def discover(root: str | os.PathLike[str] | LakeRoot) -> list[DatasetSpec]:
    """Every dataset under ``root``, sorted by name (see :func:`discover_lake`).

    Raises:
        LakeError: the root cannot be opened.
    """
    return discover_lake(root).datasets


def _stat_one(root: LakeRoot, relpath: str) -> DataFile | None:
    if root.local:
        full = os.path.join(root.path, relpath)
        if not os.path.lexists(full):
            return None
        refusal = _path_refusal(root, full)
        if refusal is not None:
            return DataFile(full, relpath, -1, 0, refusal)
        return _local_file(os.path.realpath(root.path), full, relpath)[0]
    import pyarrow.fs as pafs

    fs, _ = pafs.FileSystem.from_uri(root.uri)
    path = f"{root.path.rstrip('/')}/{relpath}"
    info = fs.get_file_info(path)
    if info.type != pafs.FileType.File:
        return None
    return DataFile(path, relpath, info.size or 0, info.mtime_ns or 0)


def list_files(root: LakeRoot, relpath: str, layout: str) -> list[DataFile]:
    """The current files of one registered dataset (empty if it is gone).

    Listed with the same link checks as discovery, and the dataset's own path is checked
    too: a file or directory that now leads outside the root is one file with an ``error``.
    """
    if layout == "file":
        one = _stat_one(root, relpath)
        return [one] if one else []
    if root.local:
        full = os.path.join(root.path, relpath)
        if not os.path.isdir(full):
            return []
        refusal = _path_refusal(root, full)
        if refusal is not None:
            return [DataFile(full, relpath, -1, 0, refusal)]
    files, _, _ = _walk(root, relpath).get(relpath, ([], [], False))
    return files
