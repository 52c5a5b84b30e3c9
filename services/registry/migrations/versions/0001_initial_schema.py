"""initial schema: reference data seeded, audit log append-only on PostgreSQL

Revision ID: 0001
Revises:
Create Date: 2026-11-22 03:06:51.125900
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migrations import refuse_data_loss

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DISTRICTS = [
    ("500101", "万州区", "district"),
    ("500102", "涪陵区", "district"),
    ("500103", "渝中区", "district"),
    ("500104", "大渡口区", "district"),
    ("500105", "江北区", "district"),
    ("500106", "沙坪坝区", "district"),
    ("500107", "九龙坡区", "district"),
    ("500108", "南岸区", "district"),
    ("500109", "北碚区", "district"),
    ("500110", "綦江区", "district"),
    ("500111", "大足区", "district"),
    ("500112", "渝北区", "district"),
    ("500113", "巴南区", "district"),
    ("500114", "黔江区", "district"),
    ("500115", "长寿区", "district"),
    ("500116", "江津区", "district"),
    ("500117", "合川区", "district"),
    ("500118", "永川区", "district"),
    ("500119", "南川区", "district"),
    ("500120", "璧山区", "district"),
    ("500151", "铜梁区", "district"),
    ("500152", "潼南区", "district"),
    ("500153", "荣昌区", "district"),
    ("500154", "开州区", "district"),
    ("500155", "梁平区", "district"),
    ("500156", "武隆区", "district"),
    ("500229", "城口县", "county"),
    ("500230", "丰都县", "county"),
    ("500231", "垫江县", "county"),
    ("500233", "忠县", "county"),
    ("500235", "云阳县", "county"),
    ("500236", "奉节县", "county"),
    ("500237", "巫山县", "county"),
    ("500238", "巫溪县", "county"),
    ("500240", "石柱土家族自治县", "autonomous_county"),
    ("500241", "秀山土家族苗族自治县", "autonomous_county"),
    ("500242", "酉阳土家族苗族自治县", "autonomous_county"),
    ("500243", "彭水苗族土家族自治县", "autonomous_county"),
]

_SECTORS = [
    ("tech_rnd", "科技研发服务", "Technology R&D services"),
    ("industrial_design", "工业设计", "Industrial design"),
    ("testing_inspection", "检验检测", "Testing and inspection"),
    ("smart_maintenance", "智能运维", "Intelligent operation and maintenance"),
    ("low_carbon_environmental", "低碳环保服务", "Low-carbon and environmental services"),
    ("engineering_technical", "工程技术服务", "Engineering and technical services"),
    ("integrated_contracting", "总集成总承包", "General integration and general contracting"),
    ("supply_chain", "供应链管理", "Supply chain management"),
    ("industrial_ecommerce", "产业电商", "Industrial e-commerce"),
    ("software_it", "软件信息服务", "Software and information services"),
    ("data_resources", "数据资源服务", "Data resource services"),
    ("producer_finance", "生产性金融", "Producer finance"),
    ("modern_logistics", "现代物流", "Modern logistics"),
    ("business_exhibitions", "商务会展", "Business services and exhibitions"),
    ("human_resources", "人力资源服务", "Human resources services"),
    ("producer_leasing", "生产性租赁", "Producer leasing"),
    ("accounting_audit_tax", "会计审计税务", "Accounting, auditing and tax"),
    ("legal_ip", "法律和知识产权", "Legal and intellectual property services"),
]

_APPEND_ONLY_FUNCTION = """
CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END;
$$
"""


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("actor_district", sa.String(length=6), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("district_code", sa.String(length=6), nullable=True),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_district_code"), "audit_log", ["district_code"], unique=False)
    op.create_index("ix_audit_log_entity", "audit_log", ["entity_type", "entity_id", "id"], unique=False)
    op.create_table(
        "districts",
        sa.Column("code", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.CheckConstraint("kind IN ('district', 'county', 'autonomous_county')", name=op.f("ck_districts_kind")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_districts")),
    )
    op.create_table(
        "idempotent_requests",
        sa.Column("principal", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("principal", "key", name=op.f("pk_idempotent_requests")),
    )
    op.create_table(
        "sectors",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.String(length=32), nullable=False),
        sa.Column("name_en", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_sectors")),
    )
    op.create_table(
        "buildings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("district_code", sa.String(length=6), nullable=False),
        sa.Column("stars", sa.SmallInteger(), nullable=False),
        sa.Column("operator_uscc", sa.String(length=18), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("stars BETWEEN 1 AND 5", name=op.f("ck_buildings_stars_range")),
        sa.ForeignKeyConstraint(
            ["district_code"], ["districts.code"], name=op.f("fk_buildings_district_code_districts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buildings")),
    )
    op.create_index(op.f("ix_buildings_district_code"), "buildings", ["district_code"], unique=False)
    op.create_table(
        "clusters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("district_code", sa.String(length=6), nullable=False),
        sa.Column("manager_uscc", sa.String(length=18), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_code"], ["districts.code"], name=op.f("fk_clusters_district_code_districts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clusters")),
    )
    op.create_index(op.f("ix_clusters_district_code"), "clusters", ["district_code"], unique=False)
    op.create_table(
        "enterprises",
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("district_code", sa.String(length=6), nullable=False),
        sa.Column("sector", sa.String(length=32), nullable=False),
        sa.Column("established_on", sa.Date(), nullable=False),
        sa.Column("spun_off_from_manufacturer", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_code"], ["districts.code"], name=op.f("fk_enterprises_district_code_districts")
        ),
        sa.ForeignKeyConstraint(["sector"], ["sectors.code"], name=op.f("fk_enterprises_sector_sectors")),
        sa.PrimaryKeyConstraint("uscc", name=op.f("pk_enterprises")),
    )
    op.create_index("ix_enterprises_district_code_uscc", "enterprises", ["district_code", "uscc"], unique=False)
    op.create_index("ix_enterprises_sector_uscc", "enterprises", ["sector", "uscc"], unique=False)
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("owner_uscc", sa.String(length=18), nullable=False),
        sa.Column("district_code", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("platform_domain", sa.String(length=32), nullable=True),
        sa.Column("verified_investment_yuan", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("actual_spend_yuan", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("special_major_approved", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('investment', 'platform', 'event')", name=op.f("ck_projects_kind")),
        sa.CheckConstraint(
            "actual_spend_yuan IS NULL OR actual_spend_yuan >= 0", name=op.f("ck_projects_spend_non_negative")
        ),
        sa.CheckConstraint(
            "verified_investment_yuan IS NULL OR verified_investment_yuan >= 0", name=op.f("ck_projects_investment_nn")
        ),
        sa.ForeignKeyConstraint(
            ["district_code"], ["districts.code"], name=op.f("fk_projects_district_code_districts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
    )
    op.create_index("ix_projects_district_code_id", "projects", ["district_code", "id"], unique=False)
    op.create_index(op.f("ix_projects_owner_uscc"), "projects", ["owner_uscc"], unique=False)
    op.create_index(op.f("ix_projects_year"), "projects", ["year"], unique=False)
    op.create_table(
        "building_years",
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("revenue_yuan", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("revenue_yuan >= 0", name=op.f("ck_building_years_revenue_non_negative")),
        sa.ForeignKeyConstraint(
            ["building_id"], ["buildings.id"], name=op.f("fk_building_years_building_id_buildings"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("building_id", "year", name=op.f("pk_building_years")),
    )
    op.create_table(
        "cluster_evaluations",
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("grade", sa.String(length=1), nullable=False),
        sa.Column("score", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("tier", sa.SmallInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("grade IN ('A', 'B', 'C', 'D')", name=op.f("ck_cluster_evaluations_grade")),
        sa.CheckConstraint("score >= 0 AND score <= 100", name=op.f("ck_cluster_evaluations_score_range")),
        sa.CheckConstraint("tier IS NULL OR tier BETWEEN 1 AND 9", name=op.f("ck_cluster_evaluations_tier_range")),
        sa.ForeignKeyConstraint(
            ["cluster_id"], ["clusters.id"], name=op.f("fk_cluster_evaluations_cluster_id_clusters"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("cluster_id", "year", name=op.f("pk_cluster_evaluations")),
    )
    op.create_table(
        "enterprise_years",
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("revenue_yuan", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("employees", sa.Integer(), nullable=False),
        sa.Column("above_scale", sa.Boolean(), nullable=False),
        sa.Column("top500_service", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("employees >= 0", name=op.f("ck_enterprise_years_employees_non_negative")),
        sa.CheckConstraint("revenue_yuan >= 0", name=op.f("ck_enterprise_years_revenue_non_negative")),
        sa.ForeignKeyConstraint(
            ["uscc"], ["enterprises.uscc"], name=op.f("fk_enterprise_years_uscc_enterprises"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("uscc", "year", name=op.f("pk_enterprise_years")),
    )
    op.create_index("ix_enterprise_years_year_above_scale", "enterprise_years", ["year", "above_scale"], unique=False)

    # Reference data as it stands in the migration, so a later change to shared.reference needs a migration too.
    districts = sa.table("districts", sa.column("code"), sa.column("name"), sa.column("kind"))
    op.bulk_insert(districts, [{"code": d[0], "name": d[1], "kind": d[2]} for d in _DISTRICTS])
    sectors = sa.table("sectors", sa.column("code"), sa.column("name_zh"), sa.column("name_en"))
    op.bulk_insert(sectors, [{"code": s[0], "name_zh": s[1], "name_en": s[2]} for s in _SECTORS])
    op.execute(_APPEND_ONLY_FUNCTION)
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()"
    )


def downgrade() -> None:
    refuse_data_loss(
        "drops every registry table: enterprises, projects, clusters, buildings, their yearly data and the audit log"
    )
    op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS audit_log_refuse_change()")
    op.drop_index("ix_enterprise_years_year_above_scale", table_name="enterprise_years")
    op.drop_table("enterprise_years")
    op.drop_table("cluster_evaluations")
    op.drop_table("building_years")
    op.drop_index(op.f("ix_projects_year"), table_name="projects")
    op.drop_index(op.f("ix_projects_owner_uscc"), table_name="projects")
    op.drop_index("ix_projects_district_code_id", table_name="projects")
    op.drop_table("projects")
    op.drop_index("ix_enterprises_sector_uscc", table_name="enterprises")
    op.drop_index("ix_enterprises_district_code_uscc", table_name="enterprises")
    op.drop_table("enterprises")
    op.drop_index(op.f("ix_clusters_district_code"), table_name="clusters")
    op.drop_table("clusters")
    op.drop_index(op.f("ix_buildings_district_code"), table_name="buildings")
    op.drop_table("buildings")
    op.drop_table("sectors")
    op.drop_table("idempotent_requests")
    op.drop_table("districts")
    op.drop_index("ix_audit_log_entity", table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_district_code"), table_name="audit_log")
    op.drop_table("audit_log")
