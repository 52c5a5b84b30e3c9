"""`python -m gateway.keys create --role city|district|auditor [--district CODE] [--label TEXT]`, `list`, `revoke`.

The plain key is printed once, by `create`, and never stored: only its SHA-256 is kept.
"""

import argparse
import json
import sys
from collections.abc import Sequence

from gateway.keys.admin import run_in_session
from gateway.keys.service import KeyProblem, KeyRecord, create_key, list_keys, revoke_key
from gateway.settings import GatewaySettings


def _record_json(record: KeyRecord) -> dict[str, object]:
    return {
        "key_id": record.key_id,
        "role": str(record.role),
        "district_code": record.district_code,
        "label": record.label,
        "created_at": record.created_at.isoformat(),
        "revoked_at": record.revoked_at.isoformat() if record.revoked_at else None,
    }


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m gateway.keys", description="Manage the gateway's API keys.")
    commands = root.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="make a key and print it (once)")
    create.add_argument("--role", required=True, choices=["city", "district", "auditor"])
    create.add_argument("--district", help="the district code of a district key, e.g. 500103")
    create.add_argument("--label", default="", help="who the key is for")
    create.add_argument("--json", action="store_true", help="print JSON instead of text")
    listing = commands.add_parser("list", help="list keys (never the keys themselves)")
    listing.add_argument("--active", action="store_true", help="leave revoked keys out")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    revoke = commands.add_parser("revoke", help="revoke a key by its id (the part after `cqk_`)")
    revoke.add_argument("key_id")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = GatewaySettings()
    try:
        if args.command == "create":
            key, record = run_in_session(
                settings.database_url, lambda s: create_key(s, args.role, args.district, args.label)
            )
            if args.json:
                print(json.dumps({"key": key, **_record_json(record)}))
            else:
                print(key)
                print(
                    f"key id {record.key_id}, role {record.role}"
                    + (f", district {record.district_code}" if record.district_code else "")
                    + ". Store the key now: it is not shown again.",
                    file=sys.stderr,
                )
        elif args.command == "list":
            records = run_in_session(settings.database_url, lambda s: list_keys(s, include_revoked=not args.active))
            if args.json:
                print(json.dumps([_record_json(r) for r in records], ensure_ascii=False))
            else:
                print(f"{'key_id':<14}{'role':<10}{'district':<10}{'created_at':<27}{'revoked_at':<27}label")
                for r in records:
                    print(
                        f"{r.key_id:<14}{r.role:<10}{r.district_code or '-':<10}"
                        f"{r.created_at.isoformat(timespec='seconds'):<27}"
                        f"{r.revoked_at.isoformat(timespec='seconds') if r.revoked_at else '-':<27}{r.label}"
                    )
        else:
            run_in_session(settings.database_url, lambda s: revoke_key(s, args.key_id))
            print(f"revoked {args.key_id}")
    except KeyProblem as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
