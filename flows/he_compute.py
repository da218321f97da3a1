"""Deployment entrypoints: ``flows/he_compute.py:he_encrypt`` and ``:he_compute``.

``he_encrypt`` is the data owner's job: numeric columns of a dataset (typically tagged
``encryption_required``) are encrypted per Spark partition with the public context; the
secret key never reaches Spark. ``he_compute`` evaluates an einsum over the ciphertext
blocks on Spark (``ni,nj->ij`` covariance, ``ni,i->n`` scores, ``ni->i`` sums), aggregates
across partitions homomorphically and leaves ciphertexts for the owner to decrypt
(``lakeward he decrypt`` or ``lakeward.he._spark.decrypt_result``). Both run as
the run's authenticated principal with a declared purpose; the policy layer decides
(``lake.read_content`` with
``encrypted``, ``he.compute``) and audits. A re-run of ``he_compute`` with the same inputs
reuses the stored result. Each flow publishes a markdown artifact.
"""

from __future__ import annotations

from typing import Any

from lakeward.orchestration import prepare_prefect_env

prepare_prefect_env()

from prefect import flow, task  # noqa: E402
from prefect.artifacts import create_markdown_artifact  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from pydantic import BaseModel, Field  # noqa: E402

from lakeward.catalog import Catalog  # noqa: E402

__all__ = ["EncryptParams", "HeComputeParams", "he_compute", "he_encrypt"]

ARTIFACT_KEY = "lakeward-he-compute"


class EncryptParams(BaseModel):
    """What the owner's encryption job reads and writes."""

    dataset: str = Field(description="Catalog dataset to encrypt columns of.")
    columns: list[str] = Field(description="Numeric columns (the block's second axis).")
    context: str = Field(description="Public context file (lakeward he keygen --context).")
    out: str = Field(description="Encrypted store directory to write.")
    purpose: str = Field(description="Declared purpose (acknowledged by the principal).")
    requested_by: str | None = Field(default=None, description="Who asked for the run (recorded).")
    block_rows: int = Field(default=256, ge=1, description="Rows per ciphertext block.")
    order_by: str | None = Field(default=None, description="Row order for per-row results.")
    outputs: list[str] = Field(
        default_factory=lambda: ["aggregate"],
        description="What the owner will decrypt: 'aggregate' (the row label summed away) "
        "and/or exact per-row einsums such as 'ni,i->n' (those also need he.row_level).",
    )


class HeComputeParams(BaseModel):
    """What the compute job evaluates and where the result goes."""

    store: str = Field(description="Encrypted store directory (he_encrypt's out).")
    expr: str = Field(description="Einsum; the block's labels are rows then columns.")
    operands: list[str] = Field(
        default_factory=lambda: ["data"],
        description="'data' for the encrypted block, or a .npy file of plaintext weights.",
    )
    context: str = Field(description="Public context the store was encrypted under.")
    out: str = Field(description="Result directory.")
    purpose: str = Field(description="Declared purpose (acknowledged by the principal).")
    requested_by: str | None = Field(default=None, description="Who asked for the run (recorded).")


@task(name="he-encrypt-dataset", cache_policy=NO_CACHE)
def encrypt_task(params: EncryptParams) -> dict[str, Any]:
    """Encrypt the columns per partition (policy-checked)."""
    from lakeward.orchestration._identity import run_as

    with run_as(params.requested_by) as me:
        return _encrypt(params, me.name)


def _encrypt(params: EncryptParams, principal: str) -> dict[str, Any]:
    from dataclasses import asdict

    from lakeward.he._spark import encrypt_dataset

    store = encrypt_dataset(
        Catalog.shared(),
        params.dataset,
        params.columns,
        params.context,
        params.out,
        principal=principal,
        purpose=params.purpose,
        block_rows=params.block_rows,
        order_by=params.order_by,
        outputs=tuple(params.outputs),
    )
    return asdict(store)


def _retry_unless_refused(task: Any, task_run: Any, state: Any) -> bool:
    """Retry transient failures only: a refusal or bad input would fail (and audit) again."""
    from lakeward.errors import InputError, PolicyDenied

    error = state.result(raise_on_failure=False)
    return not isinstance(error, PolicyDenied | InputError)


@task(
    name="he-compute-einsum",
    cache_policy=NO_CACHE,
    retries=1,
    retry_delay_seconds=2,
    retry_condition_fn=_retry_unless_refused,
)
def compute_task(params: HeComputeParams) -> dict[str, Any]:
    """Run the einsum over the blocks (policy-checked; a retry reuses a finished result)."""
    from lakeward.orchestration._identity import run_as

    with run_as(params.requested_by) as me:
        return _compute(params, me.name)


def _compute(params: HeComputeParams, principal: str) -> dict[str, Any]:
    import numpy as np

    from lakeward.he._spark import DATA, compute_encrypted

    operands: list[Any] = [op if op == DATA else np.load(op) for op in params.operands]
    result = compute_encrypted(
        Catalog.shared(),
        params.store,
        params.expr,
        operands,
        params.out,
        context_path=params.context,
        principal=principal,
        purpose=params.purpose,
    )
    return result.to_dict()


def _markdown(title: str, summary: dict[str, Any]) -> str:
    lines = [f"# {title}", "", "| field | value |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in summary.items()]
    return "\n".join(lines)


@flow(name="he_encrypt")
def he_encrypt(params: EncryptParams) -> dict[str, Any]:
    """The owner's job: encrypt dataset columns into a ciphertext store."""
    summary = encrypt_task(params)
    create_markdown_artifact(
        key=f"{ARTIFACT_KEY}-store", markdown=_markdown("Lakeward HE: encrypted store", summary)
    )
    return summary


@flow(name="he_compute")
def he_compute(params: HeComputeParams) -> dict[str, Any]:
    """Evaluate an einsum over an encrypted store; the result stays encrypted."""
    summary = compute_task(params)
    create_markdown_artifact(
        key=ARTIFACT_KEY, markdown=_markdown("Lakeward HE: encrypted computation", summary)
    )
    return summary


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(he_compute(HeComputeParams.model_validate_json(sys.argv[1])), indent=2))
