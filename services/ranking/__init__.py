"""The ranking service: the yearly composite ranking of the 38 districts (第（六）条), reproducible, published."""

from pathlib import Path

SERVICE_DIR = Path(__file__).resolve().parent
# Recorded in every run: the computation that produced it. Change it whenever the arithmetic changes.
CODE_VERSION = "ranking-1.1.0"
