"""The policy as data: one file per measure's parameters, the catalogue and the ranking methodology.

Every number the code pays or ranks by is read from these files (through the pydantic models of this package),
each with a reference (document, clause, quoted sentence) into the texts vendored under docs/policy/.
docs/policy/README.md maps every measure to its clause, parameter file, rule module and tests.
"""

from pathlib import Path

POLICY_DIR = Path(__file__).resolve().parent
