"""dp releases: mechanism secrets sealed

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05

``dp_releases.noise``, ``counter_state`` and ``totals`` (noise = released - true) held in
clear become one AES-GCM ciphertext, ``sealed``, under the release key outside the catalog
(``lakeward.dp._sealed``); a pending row's outputs move into it too. Existing rows are
sealed here, so the key (``<home>/keys/dp-release.key``) is created by the upgrade only when
there are releases to seal.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_releases = sa.table(
    "dp_releases",
    sa.column("id", sa.Integer),
    sa.column("stream_id", sa.Integer),
    sa.column("period", sa.Integer),
    sa.column("state", sa.String),
    sa.column("outputs", sa.JSON),
    sa.column("noise", sa.JSON),
    sa.column("counter_state", sa.JSON),
    sa.column("totals", sa.JSON),
    sa.column("sealed", sa.Text),
)
_streams = sa.table("dp_streams", sa.column("id", sa.Integer), sa.column("name", sa.String))


def _rows() -> list[sa.Row]:
    query = sa.select(_releases, _streams.c.name).join(
        _streams, _streams.c.id == _releases.c.stream_id
    )
    return list(op.get_bind().execute(query))


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("dp_releases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed", sa.Text(), nullable=True))
    rows = _rows()
    if rows:
        from lakeward.dp._sealed import MechanismState, seal

        for r in rows:
            state = MechanismState(
                list(r.outputs["values"]),
                list(r.totals["values"]),
                list(r.noise["draws"]),
                dict(r.counter_state),
            )
            sealed = seal(state, stream_id=r.stream_id, stream=r.name, period=r.period)
            op.get_bind().execute(
                _releases.update()
                .where(_releases.c.id == r.id)
                .values(sealed=sealed, outputs=r.outputs if r.state == "released" else {})
            )
    with op.batch_alter_table("dp_releases", schema=None) as batch_op:
        batch_op.alter_column("sealed", existing_type=sa.Text(), nullable=False)
        batch_op.drop_column("noise")
        batch_op.drop_column("counter_state")
        batch_op.drop_column("totals")


def downgrade() -> None:
    """Revert this revision (unseals with the release key)."""
    with op.batch_alter_table("dp_releases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totals", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("counter_state", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("noise", sa.JSON(), nullable=True))
    rows = _rows()
    if rows:
        from lakeward.dp._sealed import unseal

        for r in rows:
            state = unseal(r.sealed, stream_id=r.stream_id, stream=r.name, period=r.period)
            op.get_bind().execute(
                _releases.update()
                .where(_releases.c.id == r.id)
                .values(
                    outputs={"values": state.outputs},
                    totals={"values": state.totals},
                    noise={"draws": state.draws},
                    counter_state=state.counter_state,
                )
            )
    with op.batch_alter_table("dp_releases", schema=None) as batch_op:
        batch_op.alter_column("totals", existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column("counter_state", existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column("noise", existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column("sealed")
