"""``lakeward he``: the owner/compute/owner round trip through files, and exit code 2 on
every kind of bad input (through ``lakeward.cli.main``, the real error boundary)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

Run = Callable[..., int]  # the ``lakeward`` fixture (conftest): the CLI in tmp_path


@pytest.fixture
def files(lakeward: Run, tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(11)
    np.save(tmp_path / "a.npy", rng.standard_normal((4, 6)))
    np.save(tmp_path / "b.npy", rng.standard_normal((6, 3)))
    np.savetxt(tmp_path / "v.csv", rng.standard_normal(6), delimiter=",")
    code = lakeward(
        "he",
        "keygen",
        "--keys",
        "owner.keys",
        "--context",
        "compute.ctx",
        "--for",
        "ik,kj->ij=4x6,6x3",
        "--for",
        "ik,k->i=4x6,6",
    )
    assert code == 0
    for name in ("a", "b"):
        assert (
            lakeward(
                "he", "encrypt", f"{name}.npy", "--context", "compute.ctx", "--out", f"{name}.ct"
            )
            == 0
        )
    return {n: tmp_path / n for n in ("owner.keys", "compute.ctx", "a.ct", "b.ct")}


def test_round_trip(
    lakeward: Run, files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert (
        lakeward(
            "he",
            "einsum",
            "ik,kj->ij",
            "a.ct",
            "b.ct",
            "--context",
            "compute.ctx",
            "--out",
            "r.ct",
            "--json",
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["rotations"] == report["predicted"]["rotations"]
    assert lakeward("he", "decrypt", "r.ct", "--keys", "owner.keys", "--out", "r.npy") == 0
    a, b = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    np.testing.assert_allclose(np.load(tmp_path / "r.npy"), a @ b, atol=1e-4)
    # a plaintext operand from a CSV file, result printed as JSON
    assert (
        lakeward(
            "he", "einsum", "ik,k->i", "a.ct", "v.csv", "--context", "compute.ctx", "--out", "s.ct"
        )
        == 0
    )
    capsys.readouterr()
    assert lakeward("he", "decrypt", "s.ct", "--keys", "owner.keys", "--json") == 0
    values = np.array(json.loads(capsys.readouterr().out)["values"])
    v = np.loadtxt(tmp_path / "v.csv", delimiter=",")
    np.testing.assert_allclose(values, a @ v, atol=1e-4)


def test_planned_packing(
    lakeward: Run, files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        lakeward(
            "he",
            "keygen",
            "--keys",
            "p.keys",
            "--context",
            "p.ctx",
            "--packing",
            "planned",
            "--for",
            "ik,kj->ij=4x6,6x3",
        )
        == 0
    )
    for n, name in enumerate(("a", "b")):
        assert (
            lakeward(
                "he",
                "encrypt",
                f"{name}.npy",
                "--context",
                "p.ctx",
                "--out",
                f"{name}p.ct",
                "--pack-for",
                "ik,kj->ij=4x6,6x3",
                "--operand",
                str(n),
            )
            == 0
        )
    capsys.readouterr()
    assert (
        lakeward(
            "he",
            "einsum",
            "ik,kj->ij",
            "ap.ct",
            "bp.ct",
            "--context",
            "p.ctx",
            "--out",
            "rp.ct",
            "--json",
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["ct_pt"] == 0  # no layout change, no mask
    assert report["depth"] == 1
    assert lakeward("he", "decrypt", "rp.ct", "--keys", "p.keys", "--out", "rp.npy") == 0
    a, b = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    np.testing.assert_allclose(np.load(tmp_path / "rp.npy"), a @ b, atol=1e-4)


def test_explain(lakeward: Run, capsys: pytest.CaptureFixture[str]) -> None:
    assert lakeward("he", "explain", "ik,kj->ij", "--shapes", "16x32,32x32") == 0
    text = capsys.readouterr().out
    assert "broadcast layout" in text and "totals: rotations" in text
    assert (
        lakeward(
            "he",
            "explain",
            "ik,k->i",
            "--shapes",
            "128x128,128",
            "--plaintext",
            "1",
            "--slots",
            "16384",
            "--json",
        )
        == 0
    )
    plan = json.loads(capsys.readouterr().out)
    assert plan["rotations"] == 7 and plan["depth"] == 1 and plan["encrypted"] == [True, False]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["einsum", "ik,kj->ij", "a.ct", "b.ct", "--context", "compute.ctx", "--out", "x.ct"],
            None,
        ),
        (
            ["einsum", "ik,kj-ij", "a.ct", "b.ct", "--context", "compute.ctx", "--out", "x.ct"],
            "'->'",
        ),
        (
            ["einsum", "...k,kj->ij", "a.ct", "b.ct", "--context", "compute.ctx", "--out", "x.ct"],
            "ellipsis",
        ),
        (
            ["einsum", "ik,ij->kj", "a.ct", "b.ct", "--context", "compute.ctx", "--out", "x.ct"],
            "label 'i' has size 4",
        ),
        (
            [
                "einsum",
                "ij,ij,ij,ij,ij->ij",
                *["a.ct"] * 5,
                "--context",
                "compute.ctx",
                "--out",
                "x.ct",
            ],
            "needs 3 multiplicative level(s) but the ciphertexts have 2",
        ),
        (
            ["einsum", "ij->ji", "a.ct", "--context", "other.ctx", "--out", "x.ct"],
            "encrypted under context",
        ),
        (["decrypt", "a.ct", "--keys", "compute.ctx"], "without the secret key"),
        (["decrypt", "a.ct", "--keys", "other.keys"], "encrypted under context"),
        (["explain", "ij->i", "--shapes", "4xq"], "sizes joined by 'x'"),
        (["keygen", "--keys", "owner.keys", "--context", "compute.ctx"], "--yes"),
        (["encrypt", "missing.npy", "--context", "compute.ctx", "--out", "m.ct"], "missing.npy"),
    ],
)
def test_bad_input_exits_2(
    lakeward: Run,
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str | None,
) -> None:
    assert (
        lakeward("he", "keygen", "--keys", "other.keys", "--context", "other.ctx", "--depth", "1")
        == 0
    )
    capsys.readouterr()
    code = lakeward("he", *args)
    if message is None:  # the control: the same command with good input succeeds
        assert code == 0
        return
    assert code == 2
    assert message in capsys.readouterr().err.replace("\n", " ")


def test_missing_galois_keys_exit_2(
    lakeward: Run, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    # the keys were made for two expressions; an outer product needs other rotations
    code = lakeward(
        "he", "einsum", "ij,kl->ijkl", "a.ct", "b.ct", "--context", "compute.ctx", "--out", "x.ct"
    )
    assert code == 2
    assert "Galois key" in capsys.readouterr().err
