"""Runs every bench module present and prints one JSON document of figures."""

import asyncio
import importlib
import json
import pkgutil
import sys

import tests.bench as bench_package


def main() -> None:
    only = set(sys.argv[1:])
    report: dict[str, object] = {}
    for module_info in sorted(pkgutil.iter_modules(bench_package.__path__), key=lambda m: m.name):
        if module_info.name.startswith("_") or (only and module_info.name not in only):
            continue
        module = importlib.import_module(f"tests.bench.{module_info.name}")
        print(f"bench: {module_info.name} …", file=sys.stderr, flush=True)
        report[module_info.name] = asyncio.run(module.run())
    print(json.dumps(report, indent=2, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
