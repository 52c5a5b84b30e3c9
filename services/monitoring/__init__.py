"""The monitoring service: the action plan's 2027 targets tracked (渝府发〔2024〕18号 第（三十一）条) and the
producer-services map (第（二十三）条)."""

from pathlib import Path

SERVICE_DIR = Path(__file__).resolve().parent
# Recorded in every published snapshot: the computation that produced it. Change it whenever the arithmetic changes.
CODE_VERSION = "monitoring-1.0.0"
