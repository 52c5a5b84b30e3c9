"""Migrate a component's database to the newest revision: `python -m deploy.migrate registry [gateway …]`.

The containers run this before they serve; `make run` does the same for every component present. The database
URL is the component's own setting (`REGISTRY_DATABASE_URL`, …), required (`make run` sets it for its local server).
"""

import argparse
import importlib
import inspect
import sys
from pathlib import Path

from shared.migrations import upgrade
from shared.settings import PROJECT_ROOT, ServiceSettings

COMPONENTS = ("registry", "eligibility", "ranking", "monitoring", "gateway")


def component_dir(name: str) -> Path:
    return PROJECT_ROOT / ("gateway" if name == "gateway" else f"services/{name}")


def component_settings(name: str) -> ServiceSettings:
    """The settings of `name`: the ServiceSettings subclass its settings module defines."""
    module_name = "gateway.settings" if name == "gateway" else f"services.{name}.settings"
    module = importlib.import_module(module_name)
    for _, candidate in inspect.getmembers(module, inspect.isclass):
        if issubclass(candidate, ServiceSettings) and candidate.__module__ == module.__name__:
            return candidate()
    raise RuntimeError(f"{module_name} defines no ServiceSettings subclass")


def migrate(name: str) -> None:
    upgrade(component_dir(name), component_settings(name).database_url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("components", nargs="+", choices=COMPONENTS)
    arguments = parser.parse_args(argv)
    for name in arguments.components:
        migrate(name)
        print(f"{name}: migrated to head", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
