"""Malformed, modified or foreign he files are refused through the CLI with exit code 2 and a
message naming the file: never a traceback, never "probably a bug", never a silent
computation on damaged ciphertexts. Key files are 0600 from their first byte."""

from __future__ import annotations

import io
import json
import os
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lakeward import he

Run = Callable[..., int]
Edit = Callable[[dict[str, bytes]], None]


@pytest.fixture
def made(lakeward: Run, tmp_path: Path) -> Path:
    """Owner keys, compute context and ``a.ct`` (a 4×6 array) in ``tmp_path``."""
    np.save(tmp_path / "a.npy", np.random.default_rng(3).standard_normal((4, 6)))
    assert (
        lakeward(
            "he",
            "keygen",
            "--keys",
            "owner.keys",
            "--context",
            "compute.ctx",
            "--for",
            "ij->ji=4x6",
        )
        == 0
    )
    assert lakeward("he", "encrypt", "a.npy", "--context", "compute.ctx", "--out", "a.ct") == 0
    return tmp_path


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write(path: Path, members: dict[str, bytes]) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    path.write_bytes(buffer.getvalue())


def _manifest(change: Callable[[dict[str, Any]], Any]) -> Edit:
    def edit(members: dict[str, bytes]) -> None:
        manifest = json.loads(members["manifest.json"])
        replaced = change(manifest)
        members["manifest.json"] = json.dumps(manifest if replaced is None else replaced).encode()

    return edit


def _raw_manifest(raw: bytes) -> Edit:
    def edit(members: dict[str, bytes]) -> None:
        members["manifest.json"] = raw

    return edit


def _tile(change: Callable[[bytes], bytes | None]) -> Edit:
    def edit(members: dict[str, bytes]) -> None:
        data = change(members["tile-000000"])
        if data is None:
            del members["tile-000000"]
        else:
            members["tile-000000"] = data

    return edit


DEEP = b'{"kind": "lakeward-he-ciphertext", "layout": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

CIPHERTEXT_CASES: list[tuple[str, Edit, str]] = [
    ("a [] manifest", _raw_manifest(b"[]"), "manifest.json is a JSON list, not an object"),
    ("100k-deep nesting", _raw_manifest(DEEP), "nests arrays/objects 100001 deep"),
    ("layout {}", _manifest(lambda m: m.update(layout={})), "field 'layout'"),
    ("tiles 0", _manifest(lambda m: m.update(tiles=0)), "field 'tiles' must be an integer in [1,"),
    ("tiles a string", _manifest(lambda m: m.update(tiles="1")), "field 'tiles'"),
    ("no layout", _manifest(lambda m: m.pop("layout") and None), "field 'layout' is missing"),
    (
        "overlapping layout",
        _manifest(lambda m: m["layout"].update(axes=[[4, 1, 4, 1], [6, 1, 8, 1]])),
        "slot digits overlap",
    ),
    ("truncated tile", _tile(lambda t: t[: len(t) // 2]), "tile 0 does not match its integrity"),
    (
        "zeroed tile",
        _tile(lambda t: t[:16] + bytes(len(t) - 16)),
        "tile 0 does not match its integrity tag",
    ),
    ("missing tile", _tile(lambda t: None), "tile-000000 is missing"),
    (
        "edited manifest",
        _manifest(lambda m: m.update(clean=not m["clean"])),
        "the manifest does not match its integrity tag",
    ),
    (
        "version 1 (untagged)",
        _manifest(lambda m: m.update(version=1)),
        "version 1 ciphertext file, written without integrity tags",
    ),
    ("kind", _manifest(lambda m: m.update(kind="x")), "field 'kind' must be one of"),
]


@pytest.mark.parametrize(
    ("edit", "message"),
    [case[1:] for case in CIPHERTEXT_CASES],
    ids=[case[0] for case in CIPHERTEXT_CASES],
)
def test_malformed_ciphertext_files_exit_2(
    lakeward: Run, made: Path, capsys: pytest.CaptureFixture[str], edit: Edit, message: str
) -> None:
    members = _members(made / "a.ct")
    edit(members)
    _write(made / "bad.ct", members)
    capsys.readouterr()
    code = lakeward("he", "einsum", "ij->ji", "bad.ct", "--context", "compute.ctx", "--out", "x.ct")
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2, err
    assert "bad.ct" in err and message in err
    assert "bug" not in err
    assert not (made / "x.ct").exists()


def test_damaged_ciphertexts_are_not_decrypted(
    lakeward: Run, made: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    members = _members(made / "a.ct")
    _tile(lambda t: t[:16] + bytes(len(t) - 16))(members)
    _write(made / "bad.ct", members)
    (made / "cut.ct").write_bytes((made / "a.ct").read_bytes()[:1000])
    capsys.readouterr()
    assert lakeward("he", "decrypt", "bad.ct", "--keys", "owner.keys") == 2
    assert "bad.ct: tile 0 does not match its integrity tag" in capsys.readouterr().err
    assert lakeward("he", "decrypt", "cut.ct", "--keys", "owner.keys") == 2
    assert "cut.ct: not a lakeward he ciphertext" in capsys.readouterr().err
    assert lakeward("he", "decrypt", "a.ct", "--keys", "owner.keys", "--out", "a2.npy") == 0
    np.testing.assert_allclose(np.load(made / "a2.npy"), np.load(made / "a.npy"), atol=1e-5)


def test_tiles_cannot_be_spliced_between_files(
    lakeward: Run, made: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A validly tagged tile of another file of the same key set is refused in this one."""
    np.save(made / "b.npy", np.ones((4, 6)))
    assert lakeward("he", "encrypt", "b.npy", "--context", "compute.ctx", "--out", "b.ct") == 0
    members = _members(made / "a.ct")
    members["tile-000000"] = _members(made / "b.ct")["tile-000000"]
    _write(made / "bad.ct", members)
    capsys.readouterr()
    assert lakeward("he", "decrypt", "bad.ct", "--keys", "owner.keys") == 2
    assert "tile 0 does not match its integrity tag" in capsys.readouterr().err


CONTEXT_CASES: list[tuple[str, Edit, str]] = [
    ("a [] manifest", _raw_manifest(b"[]"), "manifest.json is a JSON list, not an object"),
    ("params {}", _manifest(lambda m: m.update(params={})), "field 'ring_degree' is missing"),
    (
        "galois steps strings",
        _manifest(lambda m: m.update(galois_steps=["1"])),
        "field 'galois_steps' must be an array of integers",
    ),
    ("deep nesting", _raw_manifest(b"[" * 5000 + b"]" * 5000), "nests arrays/objects 5000 deep"),
]


@pytest.mark.parametrize(
    ("edit", "message"),
    [case[1:] for case in CONTEXT_CASES],
    ids=[case[0] for case in CONTEXT_CASES],
)
def test_malformed_context_files_exit_2(
    lakeward: Run, made: Path, capsys: pytest.CaptureFixture[str], edit: Edit, message: str
) -> None:
    members = _members(made / "compute.ctx")
    edit(members)
    _write(made / "bad.ctx", members)
    capsys.readouterr()
    code = lakeward("he", "einsum", "ij->ji", "a.ct", "--context", "bad.ctx", "--out", "x.ct")
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2, err
    assert "bad.ctx" in err and message in err


def test_a_public_key_from_another_key_set_is_refused(
    lakeward: Run, made: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert lakeward("he", "keygen", "--keys", "o2.keys", "--context", "c2.ctx", "--depth", "0") == 0
    members = _members(made / "compute.ctx")
    members["public_key"] = _members(made / "c2.ctx")["public_key"]
    _write(made / "bad.ctx", members)
    capsys.readouterr()
    code = lakeward("he", "encrypt", "a.npy", "--context", "bad.ctx", "--out", "x.ct")
    assert code == 2
    assert "bad.ctx: public_key does not match its digest" in capsys.readouterr().err


def test_keys_file_is_private_from_its_first_byte(
    tmp_path: Path, keys: he.Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With umask 0 and chmod on paths disabled, every byte of the keys file (and SEAL's
    temporary serialisation of the secret key) is written into a 0600 file."""

    def no_chmod(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("chmod on a path: the file existed with a wider mode first")

    modes: set[int] = set()
    real_writestr = zipfile.ZipFile.writestr
    real_read_bytes = Path.read_bytes

    def writestr(self: zipfile.ZipFile, name: Any, data: Any, *args: Any, **kwargs: Any) -> None:
        assert self.fp is not None
        modes.add(stat.S_IMODE(os.fstat(self.fp.fileno()).st_mode))
        real_writestr(self, name, data, *args, **kwargs)

    def read_bytes(self: Path) -> bytes:
        if self.name == "blob":  # SEAL's serialisation, read back
            modes.add(stat.S_IMODE(self.stat().st_mode))
        return real_read_bytes(self)

    monkeypatch.setattr(os, "chmod", no_chmod)
    monkeypatch.setattr(Path, "chmod", no_chmod)
    monkeypatch.setattr(zipfile.ZipFile, "writestr", writestr)
    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    previous = os.umask(0)
    try:
        path = keys.save(tmp_path / "private" / "owner.keys")
    finally:
        os.umask(previous)
    assert modes == {0o600}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["owner.keys"]  # no temporary left
    assert he.load_keys(path).context_id == keys.context_id


def test_keygen_cli_overwrites_keys_privately(
    lakeward: Run, made: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    previous = os.umask(0)
    try:
        code = lakeward(
            "he",
            "keygen",
            "--keys",
            "owner.keys",
            "--context",
            "compute.ctx",
            "--depth",
            "0",
            "--yes",
        )
    finally:
        os.umask(previous)
    assert code == 0
    assert stat.S_IMODE((made / "owner.keys").stat().st_mode) == 0o600
