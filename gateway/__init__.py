"""The API gateway: one front door for the registry, eligibility, ranking, monitoring and
notifications services.

`uvicorn --factory gateway.main:create_app`. Keys: `python -m gateway.keys create --role city`.
"""

from pathlib import Path

GATEWAY_DIR = Path(__file__).resolve().parent
