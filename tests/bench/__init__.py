"""`make bench`: every performance figure beside its target and a ceiling measured in the same run.

Each module here exposes `async def run() -> {"figures": [...], "detail": {...}}` (figures built with
`tests.bench._report.figure`); modules whose name starts with "_" are helpers. See docs/performance.md.
"""
