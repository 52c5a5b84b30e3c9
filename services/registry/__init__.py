"""The registry: the system of record for districts, enterprises, clusters, buildings and projects."""

from pathlib import Path

SERVICE_DIR = Path(__file__).resolve().parent
