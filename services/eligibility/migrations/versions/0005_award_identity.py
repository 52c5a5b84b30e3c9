"""award identity: awards name a registered policy and a recipient; stacking keys derived by one rule

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 10:40:00

Existing awards move to the new identity without losing history (services.eligibility.awards.identity):
- `policy` is normalised (〔〕[]【】(), spaces, 第/号) and linked to the register; a number not yet registered is
  registered as recorded ("recorded before the policy register"), in force from its first award's day;
- the recipient is the one the text names: M07a and the district subjects pay the district, a cluster pays its
  district government (the registry's default 隶属关系), the others the enterprise named;
- a year on a one-off subject (project, enterprise) is dropped; a yearly subject (cluster, building, district)
  without a year takes the year the award was recorded in; each such change is an event of the award;
- keys are rebuilt; where two standing awards now share a key, the highest stands (就高不重复): an unpaid lower one
  is superseded, a paid one stops standing (a higher unpaid one tops it up), and a second paid one is marked for
  recovery. Every change is an `migrate` event with its reason.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

from services.eligibility.policies.numbers import normalise_document_number
from shared.migrations import refuse_data_loss

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

THIS_POLICY = "渝发改规范〔2024〕7号"
ONE_OFF = ("project", "enterprise")
CHINA = ZoneInfo("Asia/Shanghai")

_AWARDS_NOT_REWRITTEN = """
CREATE OR REPLACE FUNCTION awards_refuse_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.policy, NEW.policy_id, NEW.measure_id, NEW.subject_type, NEW.subject_id, NEW.year, NEW.stacking_key,
        NEW.district_code, NEW.recipient_kind, NEW.recipient, NEW.amount_yuan, NEW.payable_yuan,
        NEW.tops_up_award_id, NEW.created_at, NEW.created_by)
       IS DISTINCT FROM
       (OLD.policy, OLD.policy_id, OLD.measure_id, OLD.subject_type, OLD.subject_id, OLD.year, OLD.stacking_key,
        OLD.district_code, OLD.recipient_kind, OLD.recipient, OLD.amount_yuan, OLD.payable_yuan,
        OLD.tops_up_award_id, OLD.created_at, OLD.created_by)
       OR NEW.calculation::text IS DISTINCT FROM OLD.calculation::text THEN
        RAISE EXCEPTION 'award %: what was granted is never rewritten', OLD.id;
    END IF;
    IF OLD.status IN ('rejected', 'withdrawn', 'superseded')
       AND (NEW.status, NEW.is_standing, NEW.publicised_on, NEW.notice_ends_on, NEW.paid_on)
           IS DISTINCT FROM (OLD.status, OLD.is_standing, OLD.publicised_on, OLD.notice_ends_on, OLD.paid_on) THEN
        RAISE EXCEPTION 'award % is closed (%): it does not change', OLD.id, OLD.status;
    END IF;
    IF OLD.status = 'paid' AND NEW.status <> 'paid' THEN
        RAISE EXCEPTION 'award % is paid: its status does not change', OLD.id;
    END IF;
    IF OLD.superseded_by_id IS NOT NULL AND NEW.superseded_by_id IS DISTINCT FROM OLD.superseded_by_id THEN
        RAISE EXCEPTION 'award %: superseded_by_id is set once', OLD.id;
    END IF;
    RETURN NEW;
END;
$$
"""


def _recorded_at(value: Any) -> datetime:
    recorded = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return recorded if recorded.tzinfo else recorded.replace(tzinfo=UTC)


def _canonical(text: str) -> str:
    try:
        return normalise_document_number(text)
    except ValueError:
        return text.strip()


def _recipient(award: dict[str, Any], this_policy: bool) -> tuple[str, str | None]:
    subject_type, subject_id = award["subject_type"], award["subject_id"]
    if subject_type == "district" or (subject_type == "cluster"):
        return "district", award["district_code"]
    if subject_type == "enterprise":
        if this_policy and award["measure_id"] == "M07a":
            return "district", award["district_code"]
        return "enterprise", subject_id
    return "enterprise", award["recipient"]


def _key(subject_type: str, subject_id: str, year: int | None, recipient_kind: str) -> str:
    if subject_type == "enterprise":
        return f"enterprise:{subject_id}:{recipient_kind}"
    if subject_type in ONE_OFF:
        return f"{subject_type}:{subject_id}"
    return f"{subject_type}:{subject_id}:{year}"


class _Migration:
    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection
        self.today = datetime.now(CHINA).date()
        self.events: list[dict[str, Any]] = []

    def event(self, award: dict[str, Any], reason: str, to_status: str | None = None) -> None:
        self.events.append(
            {
                "award_id": award["id"],
                "event": "migrate",
                "from_status": award["status"],
                "to_status": to_status or award["status"],
                "effective_on": self.today,
                "reason": f"migration 0005 (award identity): {reason}",
                "actor_role": "service",
                "actor_district": None,
                "at": datetime.now(UTC),
                "request_id": None,
            }
        )

    def policy_ids(self, awards: list[dict[str, Any]]) -> dict[str, int]:
        known: dict[str, int] = dict(self.connection.execute(sa.text("SELECT document_number, id FROM policies")).all())
        first_day: dict[str, date] = {}
        for award in awards:
            number = _canonical(award["policy"])
            day = _recorded_at(award["created_at"]).astimezone(CHINA).date()
            first_day[number] = min(first_day.get(number, day), day)
        for number, day in sorted(first_day.items()):
            if number not in known:
                self.connection.execute(
                    sa.text(
                        "INSERT INTO policies (document_number, title, issuer, effective_from, effective_to, "
                        "created_at, created_by) VALUES (:number, :title, :issuer, :day, NULL, :now, 'migration')"
                    ),
                    {
                        "number": number,
                        "title": f"{number} (recorded before the policy register)",
                        "issuer": "unknown: recorded before the policy register",
                        "day": day,
                        "now": datetime.now(UTC),
                    },
                )
        return dict(self.connection.execute(sa.text("SELECT document_number, id FROM policies")).all())

    def run(self) -> None:
        rows = self.connection.execute(sa.text("SELECT * FROM awards ORDER BY id")).mappings().all()
        awards = [dict(row) for row in rows]
        if not awards:
            return
        ids = self.policy_ids(awards)
        for award in awards:
            number = _canonical(award["policy"])
            this_policy = number == THIS_POLICY
            if number != award["policy"]:
                self.event(award, f"policy {award['policy']!r} is the document {number}")
            kind, recipient = _recipient(award, this_policy)
            if (kind, recipient) != ("enterprise", award["recipient"]):
                self.event(award, f"pays the {kind} {recipient} (the recipient the text names)")
            year = award["year"]
            if award["subject_type"] in ONE_OFF and year is not None:
                self.event(award, f"a {award['subject_type']} is supported once: the year {year} is dropped")
                year = None
            elif award["subject_type"] not in ONE_OFF and year is None:
                year = _recorded_at(award["created_at"]).astimezone(CHINA).year
                self.event(award, f"a {award['subject_type']} is supported per year: the year recorded, {year}")
            award.update(
                policy=number,
                policy_id=ids[number],
                recipient_kind=kind,
                recipient=recipient,
                year=year,
                stacking_key=_key(award["subject_type"], award["subject_id"], year, kind),
            )
        self.untie(awards)
        self.merge(awards)
        for award in awards:
            self.connection.execute(
                sa.text(
                    "UPDATE awards SET policy = :policy, policy_id = :policy_id, recipient_kind = :recipient_kind, "
                    "recipient = :recipient, year = :year, stacking_key = :stacking_key, status = :status, "
                    "is_standing = :is_standing, superseded_by_id = :superseded_by_id, "
                    "tops_up_award_id = :tops_up_award_id, payable_yuan = :payable_yuan WHERE id = :id"
                ),
                {
                    name: award[name]
                    for name in (
                        "policy",
                        "policy_id",
                        "recipient_kind",
                        "recipient",
                        "year",
                        "stacking_key",
                        "status",
                        "is_standing",
                        "superseded_by_id",
                        "tops_up_award_id",
                        "payable_yuan",
                        "id",
                    )
                },
            )
        if self.events:
            events = sa.table("award_events", *(sa.column(name) for name in self.events[0]))
            self.connection.execute(events.insert(), self.events)

    def untie(self, awards: list[dict[str, Any]]) -> None:
        """A top-up across what are now two keys (M07a over M07b) was never a top-up: each pays in full, and a
        paid award no longer topped up on its own key stands again."""
        by_id = {award["id"]: award for award in awards}
        for award in awards:
            topped = by_id.get(award["tops_up_award_id"]) if award["tops_up_award_id"] else None
            if topped is not None and topped["stacking_key"] != award["stacking_key"]:
                self.event(
                    award,
                    f"no longer a top-up of award {topped['id']}: a different support ({topped['stacking_key']}), "
                    f"so it pays its amount in full",
                )
                award["tops_up_award_id"] = None
                award["payable_yuan"] = award["amount_yuan"]
        keys_standing = {award["stacking_key"] for award in awards if award["is_standing"]}
        topped_ids = {award["tops_up_award_id"] for award in awards if award["tops_up_award_id"]}
        for award in awards:
            if (
                award["status"] == "paid"
                and not award["is_standing"]
                and award["id"] not in topped_ids
                and award["stacking_key"] not in keys_standing
            ):
                self.event(award, f"stands again for {award['stacking_key']}: nothing else stands for it")
                award["is_standing"] = True
                keys_standing.add(award["stacking_key"])

    def merge(self, awards: list[dict[str, Any]]) -> None:
        """One standing award per key (就高不重复): the highest stands."""
        standing: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for award in awards:
            if award["is_standing"]:
                standing[award["stacking_key"]].append(award)
        for key, group in standing.items():
            if len(group) < 2:
                continue
            group.sort(key=lambda award: (Decimal(award["amount_yuan"]), award["status"] == "paid", -award["id"]))
            keep = group[-1]
            paid = [award for award in group[:-1] if award["status"] == "paid"]
            topped = max(paid, key=lambda award: Decimal(award["amount_yuan"])) if paid else None
            for award in group[:-1]:
                award["is_standing"] = False
                if award["status"] != "paid":
                    self.event(award, f"superseded by award {keep['id']}: the same subject ({key})", "superseded")
                    award["status"] = "superseded"
                    award["superseded_by_id"] = keep["id"]
                elif award is topped and keep["status"] != "paid":
                    self.event(award, f"topped up by award {keep['id']}: the same subject ({key})")
                else:
                    self.event(
                        award,
                        f"paid, as is award {keep['id']} for the same subject ({key}): 就高不重复 allows one; "
                        "the lower payment is to be recovered",
                    )
            if topped is not None and keep["status"] != "paid" and keep["tops_up_award_id"] is None:
                keep["tops_up_award_id"] = topped["id"]
                keep["payable_yuan"] = Decimal(keep["amount_yuan"]) - Decimal(topped["amount_yuan"])
                self.event(keep, f"tops up paid award {topped['id']} (the same subject, {key}): pays the difference")


def _standing_index() -> None:
    op.create_index(
        "uq_awards_standing_stacking_key",
        "awards",
        ["stacking_key"],
        unique=True,
        postgresql_where=sa.text("is_standing"),
    )


def upgrade() -> None:
    op.add_column("awards", sa.Column("policy_id", sa.BigInteger(), nullable=True))
    op.add_column("awards", sa.Column("recipient_kind", sa.String(length=16), nullable=True))
    op.alter_column("awards", "recipient", existing_type=sa.String(length=32), type_=sa.String(length=200))
    # The data move rewrites keys, policies and recipients, which the rule forbids the application.
    op.execute("ALTER TABLE awards DISABLE TRIGGER awards_not_rewritten")
    # Rows are rewritten one at a time: the one-standing-per-key index is checked again once all are moved.
    op.drop_index("uq_awards_standing_stacking_key", table_name="awards")
    _Migration(op.get_bind()).run()
    _standing_index()
    op.execute(_AWARDS_NOT_REWRITTEN)
    op.execute("ALTER TABLE awards ENABLE TRIGGER awards_not_rewritten")
    op.alter_column("awards", "policy_id", existing_type=sa.BigInteger(), nullable=False)
    op.alter_column("awards", "recipient_kind", existing_type=sa.String(length=16), nullable=False)
    op.create_foreign_key(op.f("fk_awards_policy_id_policies"), "awards", "policies", ["policy_id"], ["id"])
    op.create_index(op.f("ix_awards_policy_id"), "awards", ["policy_id"], unique=False)
    op.create_check_constraint(
        op.f("ck_awards_recipient_kind_known"),
        "awards",
        "recipient_kind IN ('enterprise', 'district', 'city_department')",
    )


def downgrade() -> None:
    refuse_data_loss(
        "drops columns awards.policy_id and awards.recipient_kind and shortens awards.recipient: each award's policy and recipient identity"
    )
    op.execute("DROP TRIGGER IF EXISTS awards_not_rewritten ON awards")
    op.drop_constraint(op.f("ck_awards_recipient_kind_known"), "awards", type_="check")
    op.drop_index(op.f("ix_awards_policy_id"), table_name="awards")
    op.drop_constraint(op.f("fk_awards_policy_id_policies"), "awards", type_="foreignkey")
    op.drop_column("awards", "recipient_kind")
    op.drop_column("awards", "policy_id")
    op.alter_column("awards", "recipient", existing_type=sa.String(length=200), type_=sa.String(length=32))
    # The rule of revision 0002, without the columns it no longer has.
    previous = _AWARDS_NOT_REWRITTEN
    for column in ("policy_id", "recipient_kind", "recipient"):
        previous = previous.replace(f"NEW.{column}, ", "").replace(f"OLD.{column}, ", "")
    op.execute(previous)
    op.execute(
        "CREATE TRIGGER awards_not_rewritten BEFORE UPDATE "
        "ON awards FOR EACH ROW EXECUTE FUNCTION awards_refuse_rewrite()"
    )
