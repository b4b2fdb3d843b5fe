"""Known people and their face samples; events keep a recognised face's name and similarity.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("identity", sa.String(100), nullable=True))
        batch.add_column(sa.Column("similarity", sa.Float, nullable=True))
    op.create_table(
        "known_people",
        sa.Column("id", Seq, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_known_people"),
        sa.UniqueConstraint("name", name="uq_known_people_name"),
    )
    op.create_table(
        "face_samples",
        sa.Column("id", Seq, primary_key=True, autoincrement=True),
        sa.Column("person_id", Seq, nullable=False),
        sa.Column("embedding", sa.LargeBinary, nullable=False),
        sa.Column("face_jpeg", sa.LargeBinary, nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_face_samples"),
        sa.ForeignKeyConstraint(
            ["person_id"], ["known_people.id"], name="fk_face_samples_person_id_known_people", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_face_samples_person", "face_samples", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_face_samples_person", table_name="face_samples")
    op.drop_table("face_samples")
    op.drop_table("known_people")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("similarity")
        batch.drop_column("identity")
