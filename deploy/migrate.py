"""Migrate a component's database to the newest revision: `python -m deploy.migrate registry [gateway …]`.

The containers run this before they serve; `make run` does the same for every component present. It connects as
the owner role (`<NAME>_MIGRATION_DATABASE_URL`; the runtime URL `<NAME>_DATABASE_URL` when unset, as in
development) and, when the runtime URL names another role, grants that role the app's privileges (shared.privileges)
and checks that it owns nothing. In production the two URLs must name different roles. Exit 2 with a sentence when
it refuses (one role in production, a declared append-only table without its trigger, the runtime role owning
something, the lock held longer than MIGRATION_LOCK_WAIT_SECONDS).
Any number of replicas may run it at once: one migrates, the others wait for it and find the database at head.

`--downgrade REV` goes back to revision REV (one component only); a downgrade that destroys data refuses unless
`--allow-data-loss` is given (take a backup first: docs/operations.md).
"""

import argparse
import importlib
import inspect
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from shared.migrations import DataLossRefused, MigrationLockTimeout, downgrade, upgrade
from shared.privileges import PrivilegeError
from shared.settings import PROJECT_ROOT, ServiceSettings

COMPONENTS = ("registry", "eligibility", "ranking", "monitoring", "notifications", "gateway")


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


def runtime_role(settings: ServiceSettings) -> str | None:
    """The role the app connects as, when it is not the one that migrates (None: one role, development)."""
    runtime = make_url(settings.database_url).username
    owner = make_url(settings.migration_database_url).username
    return runtime if runtime and runtime != owner else None


class OneRoleRefused(RuntimeError):
    """Production with the app connecting as the role that migrates (and so owns every table)."""


def migrate(name: str) -> None:
    settings = component_settings(name)
    role = runtime_role(settings)
    if role is None and settings.environment == "production":
        # The owner may disable a trigger or drop a table: in production the app never connects as it.
        upper = name.upper()
        raise OneRoleRefused(
            f"{name}: {upper}_MIGRATION_DATABASE_URL and {upper}_DATABASE_URL name the same role in production: the "
            f"app must connect as a runtime role that owns nothing (deploy/postgres/init-databases.sh makes both); "
            f"set {upper}_MIGRATION_DATABASE_URL to the owner role's URL"
        )
    upgrade(component_dir(name), settings.migration_database_url, runtime_role=role)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("components", nargs="+", choices=COMPONENTS)
    parser.add_argument("--downgrade", metavar="REVISION", help="go back to REVISION (one component only)")
    parser.add_argument("--allow-data-loss", action="store_true", help="let a downgrade drop tables or columns")
    arguments = parser.parse_args(argv)
    if arguments.downgrade is not None:
        if len(arguments.components) != 1:
            parser.error("--downgrade takes one component")
        (name,) = arguments.components
        try:
            downgrade(
                component_dir(name),
                component_settings(name).migration_database_url,
                arguments.downgrade,
                allow_data_loss=arguments.allow_data_loss,
            )
        except DataLossRefused as refused:
            print(f"{name}: {refused}", file=sys.stderr)
            return 2
        print(f"{name}: downgraded to {arguments.downgrade}", file=sys.stderr)
        return 0
    for name in arguments.components:
        try:
            migrate(name)
        except (OneRoleRefused, PrivilegeError, MigrationLockTimeout) as refused:
            print(str(refused), file=sys.stderr)
            return 2
        print(f"{name}: migrated to head", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
