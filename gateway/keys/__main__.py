"""`python -m gateway.keys create --role city|district|auditor [--district CODE] [--label TEXT]
[--expires-in 90d | --expires-at TIME]`, `rotate KEY_ID [--grace 7d]`, `revoke KEY_ID`, `list`, `events [KEY_ID]`.

The plain key is printed once, by `create` and `rotate`, and never stored: only its SHA-256 is kept. Every
issuance, rotation and revocation is recorded in key_events with the operator (`--operator`, else the OS user), the
OS user and the database role that wrote it, at the database's time. `create`, `rotate` and `revoke` connect as the
owner role (GATEWAY_MIGRATION_DATABASE_URL), `list` and `events` as the runtime role (GATEWAY_DATABASE_URL); every
command refuses (exit 2) unless the database is at this code's head (`python -m deploy.migrate gateway`).
"""

import argparse
import json
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from gateway.keys.admin import CannotRun, run_reading, run_writing
from gateway.keys.service import (
    KeyEventRecord,
    KeyProblem,
    KeyRecord,
    create_key,
    key_events,
    list_keys,
    revoke_key,
    rotate_key,
)
from gateway.settings import GatewaySettings

_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def duration(text: str) -> timedelta:
    """`90d`, `12h`, `30m`, `45s`, `2w`."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90d, 12h, 30m, 45s or 2w")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def instant(text: str) -> datetime:
    """An ISO 8601 time; without a zone, UTC."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time like 2027-03-01T00:00:00+08:00") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _record_json(record: KeyRecord) -> dict[str, object]:
    return {
        "key_id": record.key_id,
        "role": str(record.role),
        "district_code": record.district_code,
        "label": record.label,
        "created_at": record.created_at.isoformat(),
        "revoked_at": _time(record.revoked_at),
        "expires_at": _time(record.expires_at),
        "last_used_at": _time(record.last_used_at),
    }


def _event_json(event: KeyEventRecord) -> dict[str, object]:
    return {
        "key_id": event.key_id,
        "event": str(event.event),
        "operator": event.operator,
        "at": event.at.isoformat(),
        "related_key_id": event.related_key_id,
        "expires_at": _time(event.expires_at),
        "db_role": event.db_role,
        "os_user": event.os_user,
    }


def _cell(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "-"


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m gateway.keys", description="Manage the gateway's API keys.")
    commands = root.add_subparsers(dest="command", required=True)
    audited = argparse.ArgumentParser(add_help=False)
    audited.add_argument("--operator", help="who does this, for the audit trail (default: the OS user)")
    expiring = argparse.ArgumentParser(add_help=False)
    expiry = expiring.add_mutually_exclusive_group()
    expiry.add_argument("--expires-in", type=duration, help="the key's lifetime, e.g. 90d (default: no expiry)")
    expiry.add_argument("--expires-at", type=instant, help="when the key expires (ISO 8601; UTC if no zone)")

    create = commands.add_parser("create", parents=[audited, expiring], help="make a key and print it (once)")
    create.add_argument("--role", required=True, choices=["city", "district", "auditor"])
    create.add_argument("--district", help="the district code of a district key, e.g. 500103")
    create.add_argument("--label", default="", help="who the key is for")
    create.add_argument("--json", action="store_true", help="print JSON instead of text")
    rotate = commands.add_parser(
        "rotate",
        parents=[audited, expiring],
        help="make a successor of a key (same role, district and label), print it (once), end the old key after "
        "the grace period; the successor's expiry defaults to the old key's lifetime",
    )
    rotate.add_argument("key_id")
    rotate.add_argument("--grace", type=duration, default=timedelta(days=7), help="how long the old key stays valid")
    rotate.add_argument("--json", action="store_true", help="print JSON instead of text")
    listing = commands.add_parser("list", help="list keys (never the keys themselves)")
    listing.add_argument("--active", action="store_true", help="leave revoked and expired keys out")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    revoke = commands.add_parser("revoke", parents=[audited], help="revoke a key by its id (the part after `cqk_`)")
    revoke.add_argument("key_id")
    events = commands.add_parser("events", help="the audit trail of every key, or of one")
    events.add_argument("key_id", nargs="?")
    events.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return root


def _run(args: argparse.Namespace, settings: GatewaySettings) -> None:
    if args.command == "create":
        key, record = run_writing(
            settings,
            lambda s: create_key(
                s,
                args.role,
                args.district,
                args.label,
                expires_at=args.expires_at,
                expires_in=args.expires_in,
                operator=args.operator,
            ),
        )
        if args.json:
            print(json.dumps({"key": key, **_record_json(record)}, ensure_ascii=False))
            return
        print(key)
        print(
            f"key id {record.key_id}, role {record.role}"
            + (f", district {record.district_code}" if record.district_code else "")
            + (f", expires {_cell(record.expires_at)}" if record.expires_at else "")
            + ". Store the key now: it is not shown again.",
            file=sys.stderr,
        )
    elif args.command == "rotate":
        key, new, old = run_writing(
            settings,
            lambda s: rotate_key(
                s,
                args.key_id,
                args.grace,
                expires_at=args.expires_at,
                expires_in=args.expires_in,
                operator=args.operator,
            ),
        )
        if args.json:
            print(json.dumps({"key": key, **_record_json(new), "replaces": _record_json(old)}, ensure_ascii=False))
            return
        print(key)
        print(
            f"key id {new.key_id} replaces {old.key_id}"
            + (f", expires {_cell(new.expires_at)}" if new.expires_at else "")
            + f"; {old.key_id} stays valid until {_cell(old.expires_at)}. Store the key now: it is not shown again.",
            file=sys.stderr,
        )
    elif args.command == "list":
        records = run_reading(settings, lambda s: list_keys(s, active_only=args.active))
        if args.json:
            print(json.dumps([_record_json(r) for r in records], ensure_ascii=False))
            return
        print(
            f"{'key_id':<14}{'role':<10}{'district':<10}{'created_at':<27}{'expires_at':<27}{'revoked_at':<27}"
            f"{'last_used_at':<27}label"
        )
        for r in records:
            print(
                f"{r.key_id:<14}{r.role:<10}{r.district_code or '-':<10}{_cell(r.created_at):<27}"
                f"{_cell(r.expires_at):<27}{_cell(r.revoked_at):<27}{_cell(r.last_used_at):<27}{r.label}"
            )
    elif args.command == "events":
        trail = run_reading(settings, lambda s: key_events(s, args.key_id))
        if args.json:
            print(json.dumps([_event_json(e) for e in trail], ensure_ascii=False))
            return
        print(
            f"{'at':<27}{'key_id':<14}{'event':<9}{'related':<14}{'expires_at':<27}{'db_role':<20}{'os_user':<16}operator"
        )
        for e in trail:
            print(
                f"{_cell(e.at):<27}{e.key_id:<14}{e.event:<9}{e.related_key_id or '-':<14}"
                f"{_cell(e.expires_at):<27}{e.db_role:<20}{e.os_user or '-':<16}{e.operator}"
            )
    else:
        run_writing(settings, lambda s: revoke_key(s, args.key_id, operator=args.operator))
        print(f"revoked {args.key_id}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        _run(args, GatewaySettings())
    except (KeyProblem, CannotRun) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
