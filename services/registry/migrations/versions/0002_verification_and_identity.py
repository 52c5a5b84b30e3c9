"""verification of money-deciding facts, the year's district, 主辅分离, held registrations, project identity, 隶属关系

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 09:40:00

Backfills (issue 12):
- verification of enterprise years, cluster evaluations, buildings, building years and projects from the audit log:
  the latest entry for the record (for enterprise years also the imports that wrote that year) by the city makes it
  verified by "city" at that time; by anyone else, submitted by that actor; no entry, submitted by "migration".
- enterprise_years.district_code from the enterprise's district.
- projects.name_key (NFKC, whitespace removed); of several projects with the same owner, kind, key and year, all
  but the lowest id are marked duplicate_of_id (the lowest id), and the unique indexes leave them out.
- clusters belong to their own district.
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migrations import refuse_data_loss

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table → (the audit entity type, the SQL of the audit entity id of a row of the table)
_VERIFIED_TABLES = {
    "enterprise_years": ("enterprise_year", "enterprise_years.uscc || '/' || CAST(enterprise_years.year AS TEXT)"),
    "cluster_evaluations": (
        "cluster_evaluation",
        "CAST(cluster_evaluations.cluster_id AS TEXT) || '/' || CAST(cluster_evaluations.year AS TEXT)",
    ),
    "buildings": ("building", "CAST(buildings.id AS TEXT)"),
    "building_years": (
        "building_year",
        "CAST(building_years.building_id AS TEXT) || '/' || CAST(building_years.year AS TEXT)",
    ),
    "projects": ("project", "CAST(projects.id AS TEXT)"),
}
_STATUS_CHECK = "verification_status IN ('submitted', 'verified', 'rejected')"
_STANDING = sa.text("duplicate_of_id IS NULL")
_BELONGS_TO_CHECK = (
    "(belongs_to_kind = 'district' AND belongs_to_district IS NOT NULL AND belongs_to_department IS NULL)"
    " OR (belongs_to_kind = 'city_department' AND belongs_to_department IS NOT NULL"
    " AND belongs_to_district IS NULL)"
)


def name_key(name: str) -> str:
    """As services.registry.projects.service.name_key (copied: a migration does not import the code it migrates)."""
    return "".join(char for char in unicodedata.normalize("NFKC", name) if not char.isspace())


# (entity id, audit id) of every enterprise-year an import entry wrote (the years under `after.years`).
_IMPORT_YEARS_SQL = (
    "SELECT a.entity_id || '/' || y.key AS entity_id, a.id AS id FROM audit_log a "
    "CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(a.after -> 'years') = 'object' "
    "THEN a.after -> 'years' ELSE '{}'::jsonb END) AS y "
    "WHERE a.entity_type = 'enterprise' AND a.action = 'import'"
)


def _add_verification_columns(table: str) -> None:
    op.add_column(table, sa.Column("verification_status", sa.String(length=16), nullable=True))
    op.add_column(table, sa.Column("submitted_by", sa.String(length=32), nullable=True))
    op.add_column(table, sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(table, sa.Column("verified_by", sa.String(length=32), nullable=True))
    op.add_column(table, sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(table, sa.Column("verification_reason", sa.String(length=1000), nullable=True))


def _backfill_verification(table: str, entity_type: str, entity_id_sql: str) -> None:
    entries = f"SELECT entity_id, id FROM audit_log WHERE entity_type = '{entity_type}'"  # noqa: S608 - constants
    if table == "enterprise_years":
        entries += " UNION ALL " + _IMPORT_YEARS_SQL
    op.execute(
        f"""
        UPDATE {table} SET
            verification_status = CASE WHEN latest.actor_role = 'city' THEN 'verified' ELSE 'submitted' END,
            submitted_by = CASE WHEN latest.actor_district IS NOT NULL
                THEN latest.actor_role || ':' || latest.actor_district ELSE latest.actor_role END,
            submitted_at = latest.occurred_at,
            verified_by = CASE WHEN latest.actor_role = 'city' THEN 'city' END,
            verified_at = CASE WHEN latest.actor_role = 'city' THEN latest.occurred_at END
        FROM (
            SELECT last.entity_id, audit_log.actor_role, audit_log.actor_district, audit_log.occurred_at
            FROM (SELECT entity_id, MAX(id) AS id FROM ({entries}) AS entries GROUP BY entity_id) AS last
            JOIN audit_log ON audit_log.id = last.id
        ) AS latest
        WHERE latest.entity_id = {entity_id_sql}
        """  # noqa: S608 - table names and SQL are this module's constants
    )
    op.execute(
        f"UPDATE {table} SET verification_status = 'submitted', submitted_by = 'migration', "  # noqa: S608
        "submitted_at = now() WHERE verification_status IS NULL"
    )
    op.alter_column(table, "verification_status", existing_type=sa.String(length=16), nullable=False)
    op.alter_column(table, "submitted_by", existing_type=sa.String(length=32), nullable=False)
    op.alter_column(table, "submitted_at", existing_type=sa.DateTime(timezone=True), nullable=False)
    op.create_check_constraint(op.f(f"ck_{table}_verification_status"), table, _STATUS_CHECK)


def upgrade() -> None:

    op.add_column("enterprises", sa.Column("parent_uscc", sa.String(length=18), nullable=True))
    op.add_column("enterprises", sa.Column("spun_off_on", sa.Date(), nullable=True))

    # The year's district, from the enterprise's district when the migration runs.
    op.add_column("enterprise_years", sa.Column("district_code", sa.String(length=6), nullable=True))
    op.execute(
        "UPDATE enterprise_years SET district_code = "
        "(SELECT enterprises.district_code FROM enterprises WHERE enterprises.uscc = enterprise_years.uscc)"
    )
    op.alter_column("enterprise_years", "district_code", existing_type=sa.String(length=6), nullable=False)
    op.create_foreign_key(
        op.f("fk_enterprise_years_district_code_districts"),
        "enterprise_years",
        "districts",
        ["district_code"],
        ["code"],
    )
    op.create_index(
        "ix_enterprise_years_year_district_code", "enterprise_years", ["year", "district_code"], unique=False
    )

    for table, (entity_type, entity_id_sql) in _VERIFIED_TABLES.items():
        _add_verification_columns(table)
        _backfill_verification(table, entity_type, entity_id_sql)

    # Projects: the national project code, the normalised name, duplicates marked.
    op.add_column("projects", sa.Column("name_key", sa.Text(), nullable=True))
    op.add_column("projects", sa.Column("project_code", sa.String(length=24), nullable=True))
    op.add_column("projects", sa.Column("duplicate_of_id", sa.Integer(), nullable=True))
    connection = op.get_bind()
    projects = sa.table("projects", sa.column("id", sa.Integer()), sa.column("name"), sa.column("name_key"))
    rows = connection.execute(sa.select(projects.c.id, projects.c.name)).all()
    if rows:
        connection.execute(
            projects.update().where(projects.c.id == sa.bindparam("the_id")).values(name_key=sa.bindparam("key")),
            [{"the_id": row.id, "key": name_key(row.name)} for row in rows],
        )
    op.execute(
        """
        UPDATE projects SET duplicate_of_id = (
            SELECT MIN(p0.id) FROM projects AS p0
            WHERE p0.owner_uscc = projects.owner_uscc AND p0.kind = projects.kind
              AND p0.name_key = projects.name_key AND p0.year = projects.year
        )
        WHERE id > (
            SELECT MIN(p0.id) FROM projects AS p0
            WHERE p0.owner_uscc = projects.owner_uscc AND p0.kind = projects.kind
              AND p0.name_key = projects.name_key AND p0.year = projects.year
        )
        """
    )
    op.alter_column("projects", "name_key", existing_type=sa.Text(), nullable=False)
    op.create_foreign_key(
        op.f("fk_projects_duplicate_of_id_projects"), "projects", "projects", ["duplicate_of_id"], ["id"]
    )
    op.create_index(
        "uq_projects_identity",
        "projects",
        ["owner_uscc", "kind", "name_key", "year"],
        unique=True,
        postgresql_where=_STANDING,
    )
    op.create_index(
        "uq_projects_project_code",
        "projects",
        ["project_code"],
        unique=True,
        postgresql_where=_STANDING,
    )

    # Clusters belong to their own district until the city records otherwise.
    op.add_column("clusters", sa.Column("belongs_to_kind", sa.String(length=16), nullable=True))
    op.add_column("clusters", sa.Column("belongs_to_district", sa.String(length=6), nullable=True))
    op.add_column("clusters", sa.Column("belongs_to_department", sa.String(length=200), nullable=True))
    op.execute("UPDATE clusters SET belongs_to_kind = 'district', belongs_to_district = district_code")
    op.alter_column("clusters", "belongs_to_kind", existing_type=sa.String(length=16), nullable=False)
    op.create_foreign_key(
        op.f("fk_clusters_belongs_to_district_districts"), "clusters", "districts", ["belongs_to_district"], ["code"]
    )
    op.create_check_constraint(op.f("ck_clusters_belongs_to"), "clusters", _BELONGS_TO_CHECK)

    op.create_table(
        "enterprise_registrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("district_code", sa.String(length=6), nullable=False),
        sa.Column("division_code", sa.String(length=6), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=32), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=32), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=1000), nullable=True),
        sa.CheckConstraint(
            "status IN ('held', 'confirmed', 'refused')", name=op.f("ck_enterprise_registrations_status")
        ),
        sa.ForeignKeyConstraint(
            ["district_code"], ["districts.code"], name=op.f("fk_enterprise_registrations_district_code_districts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enterprise_registrations")),
    )
    op.create_index("ix_enterprise_registrations_status_id", "enterprise_registrations", ["status", "id"], unique=False)
    op.create_index(op.f("ix_enterprise_registrations_uscc"), "enterprise_registrations", ["uscc"], unique=False)


def downgrade() -> None:
    refuse_data_loss(
        "drops table enterprise_registrations and the verification, identity and ownership columns of the registry's tables"
    )
    op.drop_index(op.f("ix_enterprise_registrations_uscc"), table_name="enterprise_registrations")
    op.drop_index("ix_enterprise_registrations_status_id", table_name="enterprise_registrations")
    op.drop_table("enterprise_registrations")

    op.drop_constraint(op.f("ck_clusters_belongs_to"), "clusters", type_="check")
    op.drop_constraint(op.f("fk_clusters_belongs_to_district_districts"), "clusters", type_="foreignkey")
    op.drop_column("clusters", "belongs_to_department")
    op.drop_column("clusters", "belongs_to_district")
    op.drop_column("clusters", "belongs_to_kind")

    op.drop_index("uq_projects_project_code", table_name="projects")
    op.drop_index("uq_projects_identity", table_name="projects")
    op.drop_constraint(op.f("fk_projects_duplicate_of_id_projects"), "projects", type_="foreignkey")
    op.drop_column("projects", "duplicate_of_id")
    op.drop_column("projects", "project_code")
    op.drop_column("projects", "name_key")

    for table in reversed(tuple(_VERIFIED_TABLES)):
        op.drop_constraint(op.f(f"ck_{table}_verification_status"), table, type_="check")
        for column in (
            "verification_reason",
            "verified_at",
            "verified_by",
            "submitted_at",
            "submitted_by",
            "verification_status",
        ):
            op.drop_column(table, column)

    op.drop_index("ix_enterprise_years_year_district_code", table_name="enterprise_years")
    op.drop_constraint(op.f("fk_enterprise_years_district_code_districts"), "enterprise_years", type_="foreignkey")
    op.drop_column("enterprise_years", "district_code")

    op.drop_column("enterprises", "spun_off_on")
    op.drop_column("enterprises", "parent_uscc")
