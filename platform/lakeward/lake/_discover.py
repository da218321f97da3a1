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
``hr.employees``. Two datasets that would share a name (``a/b.csv`` and ``a/b.parquet``)
each get their format appended (``a.b.csv``, ``a.b.parquet``).

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

from lakeward.errors import LakeError

__all__ = ["DataFile", "DatasetSpec", "LakeRoot", "discover", "list_files", "open_root"]

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


def _walk_local(
    root: LakeRoot, below: str = ""
) -> dict[str, tuple[list[DataFile], list[str], bool]]:
    """Dir relpath → (data files, subdir names, has _SUCCESS)."""
    tree: dict[str, tuple[list[DataFile], list[str], bool]] = {}
    start = os.path.join(root.path, below) if below else root.path
    for dirpath, dirnames, filenames in os.walk(start, followlinks=True):
        rel_dir = os.path.relpath(dirpath, root.path).replace(os.sep, "/")
        rel_dir = "" if rel_dir == "." else rel_dir
        dirnames[:] = sorted(d for d in dirnames if not _hidden(d))
        files: list[DataFile] = []
        for name in sorted(filenames):
            if _hidden(name) or _data_format(name) is None:
                continue
            full = os.path.join(dirpath, name)
            rel = f"{rel_dir}/{name}" if rel_dir else name
            try:
                st = os.stat(full)
            except OSError as exc:
                files.append(DataFile(full, rel, -1, 0, f"cannot stat: {exc.strerror}"))
                continue
            error = None if os.access(full, os.R_OK) else "permission denied"
            files.append(DataFile(full, rel, st.st_size, st.st_mtime_ns, error))
        tree[rel_dir] = (files, list(dirnames), "_SUCCESS" in filenames)
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


def _walk(root: LakeRoot, below: str = "") -> dict[str, tuple[list[DataFile], list[str], bool]]:
    return _walk_local(root, below) if root.local else _walk_remote(root, below)


def discover(root: str | os.PathLike[str] | LakeRoot) -> list[DatasetSpec]:
    """Every dataset under ``root``, sorted by name.

    Raises:
        LakeError: the root cannot be opened.
    """
    lake = root if isinstance(root, LakeRoot) else open_root(root)
    tree = _walk(lake)
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
            fmt = _data_format(f.relpath)
            assert fmt is not None
            name = _strip_data_ext(f.relpath).replace("/", ".")
            specs.append(DatasetSpec(name, f.relpath, fmt, "file", lake, [f]))
    by_name: dict[str, list[DatasetSpec]] = defaultdict(list)
    for spec in specs:
        by_name[spec.name].append(spec)
    for name, clash in by_name.items():
        if len(clash) > 1:
            for spec in clash:
                spec.name = f"{name}.{spec.format}"
    return sorted(specs, key=lambda s: s.name)


def _stat_one(root: LakeRoot, relpath: str) -> DataFile | None:
    if root.local:
        full = os.path.join(root.path, relpath)
        if not os.path.lexists(full):
            return None
        try:
            st = os.stat(full)
        except OSError as exc:
            return DataFile(full, relpath, -1, 0, f"cannot stat: {exc.strerror}")
        error = None if os.access(full, os.R_OK) else "permission denied"
        return DataFile(full, relpath, st.st_size, st.st_mtime_ns, error)
    import pyarrow.fs as pafs

    fs, _ = pafs.FileSystem.from_uri(root.uri)
    path = f"{root.path.rstrip('/')}/{relpath}"
    info = fs.get_file_info(path)
    if info.type != pafs.FileType.File:
        return None
    return DataFile(path, relpath, info.size or 0, info.mtime_ns or 0)


def list_files(root: LakeRoot, relpath: str, layout: str) -> list[DataFile]:
    """The current files of one registered dataset (empty if it is gone)."""
    if layout == "file":
        one = _stat_one(root, relpath)
        return [one] if one else []
    if root.local and not os.path.isdir(os.path.join(root.path, relpath)):
        return []
    files, _, _ = _walk(root, relpath).get(relpath, ([], [], False))
    return files
