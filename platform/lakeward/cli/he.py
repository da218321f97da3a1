"""``lakeward he``: einsum on CKKS ciphertexts, files in and out.

``keygen`` (owner: keys file with the secret key + public context file), ``encrypt`` (array
file → ciphertext file, with the public context), ``einsum`` (compute side: ciphertext and
plaintext files → ciphertext file), ``decrypt`` (owner: ciphertext file → array),
``explain`` (the plan: layouts, operations, rotations, depth; nothing is encrypted).

Arrays are ``.npy`` or ``.csv`` files. Shapes are written ``16x32`` (``()`` for a scalar),
several separated by commas: ``--shapes 16x32,32x32``; ``--for "ik,kj->ij=16x32,32x32"``
pairs an expression with its shapes. Read commands take ``--json``. Exit codes: 0 ok,
2 usage or input error (bad subscripts, shapes, keys, depth, files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from lakeward.cli._output import emit_json, out, table

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _parse_shapes(text: str) -> list[tuple[int, ...]]:
    """``"16x32,32x32"`` → ``[(16, 32), (32, 32)]``; ``()`` or an empty item is a scalar."""
    shapes: list[tuple[int, ...]] = []
    for item in text.split(","):
        item = item.strip()
        if item in ("", "()"):
            shapes.append(())
            continue
        try:
            shape = tuple(int(n) for n in item.lower().split("x"))
        except ValueError:
            raise click.BadParameter(
                f"{item!r}: write a shape as sizes joined by 'x', e.g. 16x32 (() for a scalar)"
            ) from None
        if any(n < 1 for n in shape):
            raise click.BadParameter(f"{item!r}: sizes must be positive")
        shapes.append(shape)
    return shapes


def _parse_for(text: str) -> tuple[str, list[tuple[int, ...]]]:
    expr, sep, shapes = text.rpartition("=")
    if not sep or not expr:
        raise click.BadParameter(f"{text!r}: write EXPR=SHAPES, e.g. 'ik,kj->ij=16x32,32x32'")
    return expr, _parse_shapes(shapes)


def _read_array(path: Path) -> Any:
    import numpy as np

    from lakeward.he import HEInputError

    try:
        if path.suffix == ".npy":
            return np.load(path, allow_pickle=False)
        if path.suffix == ".csv":
            return np.loadtxt(path, delimiter=",", ndmin=1)
    except (OSError, ValueError) as exc:
        raise HEInputError(f"{path}: cannot read the array ({exc})") from exc
    raise HEInputError(f"{path}: arrays are .npy or .csv files")


def _write_array(path: Path, array: Any) -> None:
    import numpy as np

    from lakeward.he import HEInputError

    if path.suffix == ".npy":
        np.save(path, array)
    elif path.suffix == ".csv":
        np.savetxt(path, np.atleast_1d(array), delimiter=",")
    else:
        raise HEInputError(f"{path}: write arrays to a .npy or .csv file")


def _context(path: Path) -> Any:
    from lakeward.he import load_context

    return load_context(path)


@click.group()
def he() -> None:
    """Einsum on CKKS ciphertexts: keygen, encrypt, einsum, decrypt, explain."""


@he.command()
@click.option(
    "--keys",
    "keys_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Owner's keys file to write (secret key: keep it private).",
)
@click.option(
    "--context",
    "context_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Public context file to write (for the compute side).",
)
@click.option(
    "--for",
    "expressions",
    multiple=True,
    metavar="EXPR=SHAPES",
    help="An einsum the keys must serve (repeatable); sets depth and Galois keys.",
)
@click.option("--depth", type=int, default=None, help="Levels of the modulus chain.")
@click.option(
    "--ring-degree",
    type=click.Choice(["8192", "16384", "32768"]),
    default=None,
    help="Force the ring degree (default: the smallest that fits).",
)
@click.option(
    "--scale-bits", type=int, default=None, help="log2 of the scale (default: largest that fits)."
)
@click.option(
    "--packing",
    type=click.Choice(["row-major", "planned"]),
    default="row-major",
    show_default=True,
    help="How operands of --for expressions will be packed.",
)
@click.option(
    "--yes", is_flag=True, help="Overwrite existing files (old ciphertexts become undecryptable)."
)
@json_option
def keygen(
    keys_path: Path,
    context_path: Path,
    expressions: tuple[str, ...],
    depth: int | None,
    ring_degree: str | None,
    scale_bits: int | None,
    packing: str,
    yes: bool,
    as_json: bool,
) -> None:
    """Make the owner's keys and the public context the compute side uses."""
    from lakeward.he import keygen as make_keys

    existing = [str(p) for p in (keys_path, context_path) if p.exists()]
    if existing and not yes:
        raise click.UsageError(
            f"refusing to overwrite {', '.join(existing)}: ciphertexts made under those keys "
            "could no longer be decrypted; pass --yes to overwrite"
        )
    items = [(expr, *shapes) for expr, shapes in map(_parse_for, expressions)]
    keys = make_keys(
        items or None,
        depth=depth,
        ring_degree=int(ring_degree) if ring_degree else None,
        scale_bits=scale_bits,
        packing=packing,  # type: ignore[arg-type]
    )
    keys.save(keys_path)
    keys.public().save(context_path)
    ctx = keys.public()
    summary = {
        "keys": str(keys_path),
        "context": str(context_path),
        "context_id": ctx.context_id,
        "params": ctx.params.to_dict(),
        "galois_steps": sorted(ctx.galois_steps),
        "key_bytes": ctx.key_bytes,
    }
    if as_json:
        emit_json(summary)
        return
    click.echo(ctx.describe())
    click.echo(f"wrote {keys_path} (secret: keep private) and {context_path} (public)")


@he.command()
@click.argument("array_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--context",
    "context_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Public context (or the owner's keys) file.",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Ciphertext file to write.",
)
@click.option(
    "--pack-for",
    default=None,
    metavar="EXPR=SHAPES",
    help="Pack the array as this einsum's plan wants (no layout change later).",
)
@click.option(
    "--operand",
    type=int,
    default=0,
    show_default=True,
    help="Which operand of --pack-for the array is.",
)
@json_option
def encrypt(
    array_path: Path,
    context_path: Path,
    out_path: Path,
    pack_for: str | None,
    operand: int,
    as_json: bool,
) -> None:
    """Encrypt an array file (.npy or .csv) into a ciphertext file."""
    from lakeward.he import HEInputError, plan_einsum
    from lakeward.he import encrypt as encrypt_array

    context = _context(context_path)
    array = _read_array(array_path)
    layout = None
    if pack_for:
        expr, shapes = _parse_for(pack_for)
        if not 0 <= operand < len(shapes):
            raise HEInputError(f"--operand {operand}: {expr!r} has {len(shapes)} operand(s)")
        plan = plan_einsum(expr, *shapes, slots=context.slots, packing="planned")
        layout = plan.input_layouts[operand]
    ct = encrypt_array(context, array, layout=layout)
    ct.save(out_path)
    summary = {
        "out": str(out_path),
        "shape": list(ct.shape),
        "ciphertexts": len(ct.tiles),
        "layout": ct.layout.to_dict(),
        "context_id": ct.context_id,
    }
    if as_json:
        emit_json(summary)
    else:
        click.echo(f"wrote {out_path}: {ct.layout.describe()}")


@he.command()
@click.argument("expr")
@click.argument(
    "operands",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option(
    "--context",
    "context_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Public context file the ciphertexts were made under.",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Result ciphertext file.",
)
@click.option("--clean", is_flag=True, help="Zero the result's free slots (may cost a level).")
@json_option
def einsum(
    expr: str,
    operands: tuple[Path, ...],
    context_path: Path,
    out_path: Path,
    clean: bool,
    as_json: bool,
) -> None:
    """Evaluate EXPR over ciphertext (.ct) and plaintext (.npy/.csv) operand files."""
    import time

    from lakeward.he import CipherTensor
    from lakeward.he import einsum as run_einsum

    context = _context(context_path)
    values = [
        _read_array(p) if p.suffix in (".npy", ".csv") else CipherTensor.load(p, context)
        for p in operands
    ]
    started = time.perf_counter()
    result = run_einsum(expr, *values, clean=clean)
    seconds = time.perf_counter() - started
    if not isinstance(result, CipherTensor):
        from lakeward.he import HEInputError

        raise HEInputError(f"{expr!r}: no operand is encrypted; use numpy for plaintext")
    result.save(out_path)
    assert result.plan is not None and result.counts is not None
    summary = {
        "out": str(out_path),
        "expr": result.plan.expr,
        "shape": list(result.shape),
        "seconds": round(seconds, 4),
        "depth": result.plan.depth,
        "counts": result.counts.to_dict(),
        "predicted": result.plan.counts.to_dict(),
    }
    if as_json:
        emit_json(summary)
        return
    c = result.counts
    click.echo(
        f"wrote {out_path}: shape {result.shape}, {seconds:.3f} s, rotations {c.rotations}, "
        f"ct×ct {c.ct_ct}, ct×pt {c.ct_pt}, depth {result.plan.depth}"
    )


@he.command()
@click.argument("ct_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--keys",
    "keys_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The owner's keys file (with the secret key).",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the array here (.npy or .csv) instead of printing.",
)
@json_option
def decrypt(ct_path: Path, keys_path: Path, out_path: Path | None, as_json: bool) -> None:
    """Decrypt a ciphertext file with the owner's keys."""
    from lakeward.he import CipherTensor, load_keys
    from lakeward.he import decrypt as decrypt_ct

    keys = load_keys(keys_path)
    array = decrypt_ct(keys, CipherTensor.load(ct_path, keys))
    if out_path is not None:
        _write_array(out_path, array)
        if not as_json:
            click.echo(f"wrote {out_path}: shape {array.shape}")
            return
    if as_json:
        emit_json({"shape": list(array.shape), "values": array.tolist()})
    elif array.ndim <= 1:
        click.echo(" ".join(f"{v:.6g}" for v in array.reshape(-1)))
    elif array.ndim == 2:
        table([str(n) for n in range(array.shape[1])], [[f"{v:.6g}" for v in row] for row in array])
    else:
        out.print(repr(array), highlight=False, markup=False)


@he.command()
@click.argument("expr")
@click.option("--shapes", required=True, help="Operand shapes, e.g. 16x32,32x32.")
@click.option(
    "--plaintext",
    "plaintext",
    default="",
    metavar="N,...",
    help="Positions of plaintext operands (default: all encrypted).",
)
@click.option(
    "--slots",
    type=int,
    default=None,
    help="Slots per ciphertext (default: the smallest ring degree that fits).",
)
@click.option(
    "--context",
    "context_path",
    default=None,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Plan for this context's slots and Galois keys.",
)
@click.option(
    "--packing",
    type=click.Choice(["row-major", "planned"]),
    default="row-major",
    show_default=True,
    help="How the encrypted operands are packed.",
)
@click.option("--clean", is_flag=True, help="Plan a result with zeroed free slots.")
@json_option
def explain(
    expr: str,
    shapes: str,
    plaintext: str,
    slots: int | None,
    context_path: Path | None,
    packing: str,
    clean: bool,
    as_json: bool,
) -> None:
    """Print the plan for EXPR: layouts, operations, rotations, depth (runs nothing)."""
    from lakeward.he import plan_einsum

    operand_shapes = _parse_shapes(shapes)
    try:
        plain = {int(n) for n in plaintext.split(",") if n.strip()}
    except ValueError:
        raise click.BadParameter(
            f"--plaintext {plaintext!r}: give operand positions like 1,2"
        ) from None
    steps = None
    if context_path is not None:
        context = _context(context_path)
        slots, steps = context.slots, context.galois_steps
    plan = plan_einsum(
        expr,
        *operand_shapes,
        encrypted=[n not in plain for n in range(len(operand_shapes))],
        slots=slots,
        galois_steps=steps,
        clean=clean,
        packing=packing,  # type: ignore[arg-type]
    )
    if as_json:
        emit_json(plan.to_dict())
    else:
        out.print(plan.explain(), highlight=False, markup=False)
