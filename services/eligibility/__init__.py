"""Eligibility: 渝发改规范〔2024〕7号 as code — dated parameters, one rule per measure, traces, screening, what-if."""

from pathlib import Path

SERVICE_DIR = Path(__file__).resolve().parent
