"""`python -m tests.contract`: build the merged document in-process and run every contract check over it.

Prints each tool's findings grouped by rule and place, the component the place belongs to beside it, and a count per
component at the end. `--tool redocly` (repeatable) runs only some checks, `--part registry` shows one component's
findings,
`--keep DIR` writes the document, the generated clients and the TypeScript build there instead of a temp dir.
Exit status 0 when there is nothing left.
"""

import argparse
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

from tests.contract import findings as checks
from tests.contract.document import (
    merged_document,
    own_schema_names,
    schema_owners,
    service_specs_or_errors,
    write_document,
)

TOOLS = ("spec-validator", "structure", "redocly", "spectral", "python-client", "typescript")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.contract", description=__doc__.splitlines()[0])
    parser.add_argument("--tool", action="append", choices=TOOLS, help="only these checks (repeatable)")
    parser.add_argument(
        "--part", help="only the findings of this component (registry, eligibility, gateway, shared, …)"
    )
    parser.add_argument("--keep", type=Path, help="write everything to this directory, kept afterwards")
    parser.add_argument("--full", action="store_true", help="every place of every rule, not the first 12")
    arguments = parser.parse_args()
    wanted = arguments.tool or list(TOOLS)

    specs, errors = service_specs_or_errors()
    for service, error in errors.items():
        print(f"!! {service} does not build, left out of the document: {error}")
    document = merged_document(specs)
    owners = schema_owners(specs)
    with tempfile.TemporaryDirectory(prefix="contract-") as temporary:
        out = arguments.keep or Path(temporary)
        out.mkdir(parents=True, exist_ok=True)
        document_path = out / "openapi.json"
        write_document(document_path, document)
        print(
            f"merged document: {len(document.get('paths', {}))} paths, "
            f"{len(document.get('components', {}).get('schemas', {}))} schemas -> {document_path}"
        )
        runs: dict[str, Callable[[], list[checks.Finding]]] = {
            "spec-validator": lambda: checks.spec_validator(document),
            "structure": lambda: checks.structure(document, own_schema_names(specs)),
            "redocly": lambda: checks.redocly(document_path),
            "spectral": lambda: checks.spectral(document_path),
            "python-client": lambda: checks.python_client(document_path, out) + checks.python_client_use(out),
            "typescript": lambda: typescript(document_path, out),
        }
        per_part: Counter[str] = Counter()
        for tool in wanted:
            try:
                found = sorted(set(runs[tool]()))
            except checks.ToolMissing as missing:
                print(f"\n== {tool}: NOT RUN: {missing}")
                per_part["(tools missing)"] += 1
                continue
            shown = [f for f in found if arguments.part is None or checks.component_of(f, owners) == arguments.part]
            for finding in found:
                per_part[checks.component_of(finding, owners)] += 1
            report(tool, shown, len(found), owners, arguments.full)
    print(
        "\n== left per component: " + (", ".join(f"{part} {count}" for part, count in per_part.most_common()) or "none")
    )
    return 1 if per_part or errors else 0


def typescript(document_path: Path, out: Path) -> list[checks.Finding]:
    found = checks.typescript_schema(document_path, out)
    if (out / "schema.d.ts").exists():
        found += checks.typescript_loose_types(out)
        compiled = checks.typescript_programs(out, "client.ts", "client_wrong.ts")
        found += [finding for finding in compiled if not finding.where.startswith("client_wrong.ts:")]
        wrong = {finding.where for finding in compiled if finding.where.startswith("client_wrong.ts:")}
        for line in checks.wrong_lines():
            if line not in wrong:
                found.append(checks.Finding("tsc", "must-not-compile", line, "this deliberate mistake compiled"))
    found += checks.casts("client.ts") + checks.casts("client_wrong.ts")
    return found


def report(tool: str, found: list[checks.Finding], total: int, owners: dict[str, set[str]], full: bool) -> None:
    rules: dict[str, list[checks.Finding]] = defaultdict(list)
    for finding in found:
        rules[finding.rule].append(finding)
    shown = f" ({len(found)} shown)" if len(found) != total else ""
    print(f"\n== {tool}: {total} finding(s){shown}" + ("" if total else " - clean"))
    for rule, items in sorted(rules.items(), key=lambda entry: -len(entry[1])):
        messages = {item.message for item in items}
        common = next(iter(messages)) if len(messages) == 1 else None
        print(f"  {rule} ({len(items)})" + (f": {common}" if common else ""))
        for item in items if full else items[:12]:
            line = f"    [{checks.component_of(item, owners)}] {item.where}"
            print(line if common else f"{line}: {item.message}")
        if not full and len(items) > 12:
            print(f"    ... {len(items) - 12} more (--full)")


if __name__ == "__main__":
    sys.exit(main())
