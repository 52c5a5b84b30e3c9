"""The report of `make bench`: every figure the issues name, each beside its target and its ceiling.

A figure is one dict of one shape:
`{id, label, source, measured, unit, target, comparison, met, ceiling, ceiling_method, ratio_to_ceiling, notes}`.

`ratio_to_ceiling` is the fraction of the ceiling achieved, the same way round for every figure:
`measured / ceiling` where more is better (rows/s, requests/s), `ceiling / measured` where less is better
(milliseconds, seconds). 1.0 means as fast as the bare floor measured in the same run; 0.25 means four times
slower than it (or a quarter of its throughput). See docs/performance.md.
"""

import json
from dataclasses import dataclass
from typing import Any

LOWER = "lower"
HIGHER = "higher"


@dataclass(frozen=True)
class Spec:
    id: str
    label: str
    unit: str
    better: str  # LOWER or HIGHER
    source: str  # where the figure and its target are named
    target: float | None = None
    comparison: str | None = None  # "<", "<=", ">=", ">": measured <comparison> target meets the target

    @property
    def module(self) -> str:
        return self.id.split(".", 1)[0]


SPECS: tuple[Spec, ...] = (
    Spec("registry.import_create", "registry: import 100,000 enterprises + 1 year (new)", "rows/s", HIGHER,
         "issue 2", 20_000, ">="),
    Spec("registry.import_new_year", "registry: import 100,000 enterprises + 1 year (existing)", "rows/s", HIGHER,
         "issue 2", 20_000, ">="),
    Spec("registry.district_stats_median", "registry: district stats, 200,000 enterprise-years, median", "ms", LOWER,
         "issue 2", 300, "<"),
    Spec("registry.page_of_50_p95", "registry: filtered page of 50 of 100,000, p95", "ms", LOWER, "issue 2", 20, "<"),
    Spec("registry.import_peak_memory", "registry: import of 100,000 rows, peak RSS growth", "MiB", LOWER, "issue 19"),
    Spec("registry.import_xlsx", "registry: import 100,000 XLSX rows + 1 year (existing)", "rows/s", HIGHER,
         "issue 14"),
    Spec("registry.import_xlsx_peak_memory", "registry: XLSX import of 100,000 rows, peak RSS", "MiB", LOWER,
         "issue 14, issue 16 (< 256 MiB)", 256, "<"),
    Spec("eligibility.calculate_p50", "eligibility: /calculate in-process, p50", "ms", LOWER, "issue 3", 0.5, "<"),
    Spec("eligibility.batch_10000_median", "eligibility: batch of 10,000 in-process, median", "ms", LOWER,
         "issue 3", 500, "<"),
    Spec("eligibility.screening_100000_median", "eligibility: screening of 100,000 subjects, median", "ms", LOWER,
         "issue 3", 5_000, "<"),
    Spec("eligibility.calculate_http_p50", "eligibility: /calculate over HTTP, p50", "ms", LOWER, "issue 3 (context)"),
    Spec("eligibility.batch_10000_http_median", "eligibility: batch of 10,000 over HTTP, median", "ms", LOWER,
         "issue 3 (context)"),
    Spec("awards.create_recorded", "awards: 16 writers, distinct subjects (no registry check)", "awards/s", HIGHER,
         "issue 4"),
    Spec("awards.create_computable", "awards: 16 writers, distinct subjects (M01, registry check)", "awards/s", HIGHER,
         "issue 4"),
    Spec("awards.export_csv_seconds", "awards: CSV export of 100,000 awards", "s", LOWER, "issue 19"),
    Spec("awards.export_csv_peak_memory", "awards: CSV export of 100,000, peak RSS growth", "MiB", LOWER, "issue 19"),
    Spec("awards.export_xlsx_seconds", "awards: XLSX export of 100,000 awards", "s", LOWER, "issue 19"),
    Spec("awards.export_xlsx_peak_memory", "awards: XLSX export of 100,000, peak RSS growth", "MiB", LOWER,
         "issue 19"),
    Spec("ranking.run_median", "ranking: run over 200,000 enterprise-years, median", "ms", LOWER,
         "issue 5", 1_000, "<"),
    Spec("ranking.sensitivity_10000_median", "ranking: sensitivity, 10,000 draws, median", "ms", LOWER,
         "issue 5", 2_000, "<"),
    Spec("monitoring.assessment_median", "monitoring: assessment over 200,000 enterprise-years, median", "ms",
         LOWER, "issue 18"),
    Spec("monitoring.map_median", "monitoring: map over 200,000 enterprise-years, median", "ms", LOWER, "issue 18"),
    Spec("monitoring.workbook_median", "monitoring: assessment workbook (XLSX), median", "ms", LOWER, "issue 18"),
    Spec("monitoring.tile_map_median", "monitoring: tile map (SVG), median", "ms", LOWER, "issue 18"),
    Spec("gateway.throughput_ratio", "gateway: throughput proxied ÷ direct", "ratio", HIGHER, "issue 6", 0.6, ">="),
    Spec("gateway.added_median_latency", "gateway: added median latency", "ms", LOWER, "issue 6", 1, "<"),
    Spec("gateway.direct_median", "gateway: GET /districts direct, median", "ms", LOWER, "issue 6 (context)"),
    Spec("gateway.proxied_median", "gateway: GET /districts proxied, median", "ms", LOWER, "issue 6 (context)"),
    Spec("gateway.direct_throughput", "gateway: GET /districts direct, 16 clients", "req/s", HIGHER,
         "issue 6 (context)"),
    Spec("gateway.proxied_throughput", "gateway: GET /districts proxied, 16 clients", "req/s", HIGHER,
         "issue 6 (context)"),
    Spec("notifications.events_per_second", "notifications: events delivered to a local receiver", "events/s",
         HIGHER, "issue 17"),
    Spec("notifications.latency_p50", "notifications: commit to receipt, p50", "ms", LOWER, "issue 17"),
    Spec("notifications.latency_p99", "notifications: commit to receipt, p99", "ms", LOWER, "issue 17"),
    Spec("notifications.import_job_rows_per_second", "registry: import of 100,000 rows as a job", "rows/s", HIGHER,
         "issue 17"),
    Spec("notifications.import_job_progress_updates", "registry: import job, progress updates seen (50 ms polls)",
         "updates", HIGHER, "issue 17"),
)  # fmt: skip
SPEC_BY_ID = {spec.id: spec for spec in SPECS}


def _significant(value: float, digits: int = 3) -> float:
    return float(f"{value:.{digits}g}")


def meets(measured: float, comparison: str, target: float) -> bool:
    return {
        "<": measured < target,
        "<=": measured <= target,
        ">": measured > target,
        ">=": measured >= target,
    }[comparison]


def ratio_to_ceiling(spec: Spec, measured: float | None, ceiling: float | None) -> float | None:
    """The fraction of the ceiling achieved (see the module's docstring)."""
    if measured is None or ceiling is None or measured <= 0 or ceiling <= 0:
        return None
    return _significant(measured / ceiling if spec.better == HIGHER else ceiling / measured)


def figure(
    figure_id: str,
    measured: float | None,
    *,
    ceiling: float | None = None,
    ceiling_method: str | None = None,
    notes: str = "",
) -> dict[str, Any]:
    spec = SPEC_BY_ID[figure_id]
    met = (
        meets(measured, spec.comparison, spec.target)
        if measured is not None and spec.target is not None and spec.comparison is not None
        else None
    )
    return {
        "id": spec.id,
        "label": spec.label,
        "source": spec.source,
        "measured": measured,
        "unit": spec.unit,
        "target": spec.target,
        "comparison": spec.comparison,
        "met": met,
        "ceiling": ceiling,
        "ceiling_method": ceiling_method,
        "ratio_to_ceiling": ratio_to_ceiling(spec, measured, ceiling),
        "notes": notes,
    }


def not_measured(module: str, reason: str) -> list[dict[str, Any]]:
    """The module's figures, without values: the report lists every figure even when a module could not run."""
    return [figure(spec.id, None, notes=f"not measured: {reason}") for spec in SPECS if spec.module == module]


def complete(module: str, figures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`figures` in catalogue order, with any figure of `module` the module did not return marked as missing."""
    by_id = {item["id"]: item for item in figures}
    ordered = [
        by_id.get(spec.id) or figure(spec.id, None, notes="not measured: the module did not return it")
        for spec in SPECS
        if spec.module == module
    ]
    extra = [item for item in figures if item["id"] not in SPEC_BY_ID]
    return ordered + extra


# --- the table ---


def _number(value: float) -> str:
    """Three significant figures below 100, whole numbers with thousands separators above."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    return _number(value) if unit == "ratio" else f"{_number(value)} {unit}"


def _target(item: dict[str, Any]) -> str:
    if item["target"] is None:
        return "—"
    comparison = {"<=": "≤", ">=": "≥"}.get(item["comparison"], item["comparison"])
    return f"{comparison} {format_value(item['target'], item['unit'])}"


def _met(item: dict[str, Any]) -> str:
    return {True: "yes", False: "**no**", None: "—"}[item["met"]]


def _ratio(item: dict[str, Any]) -> str:
    ratio = item["ratio_to_ceiling"]
    if ratio is None:
        return "—"
    return f"{ratio:.2f}" if ratio >= 0.1 else f"{ratio:.2g}"


COLUMNS = ("figure", "measured", "target", "met", "ceiling", "ratio")


def table(figures: list[dict[str, Any]]) -> str:
    """A Markdown table, padded so that it reads in a terminal too."""
    rows = [
        (
            item["label"],
            format_value(item["measured"], item["unit"]),
            _target(item),
            _met(item),
            format_value(item["ceiling"], item["unit"]),
            _ratio(item),
        )
        for item in figures
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(COLUMNS, *rows, strict=True)]
    right = (False, True, True, False, True, True)

    def line(cells: tuple[str, ...]) -> str:
        padded = [
            cell.rjust(width) if align else cell.ljust(width)
            for cell, width, align in zip(cells, widths, right, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    dashes = [
        ("-" * (width + 1) + ":") if align else "-" * (width + 2) for width, align in zip(widths, right, strict=True)
    ]
    rule = "|" + "|".join(dashes) + "|"
    return "\n".join([line(COLUMNS), rule, *(line(row) for row in rows)])


def render(document: dict[str, Any]) -> str:
    """The table of a whole report, with the run's circumstances under it."""
    machine = document.get("machine", {})
    lines = [table(document["figures"]), ""]
    lines.append(
        "ratio = fraction of the ceiling achieved (measured ÷ ceiling for rates, ceiling ÷ measured for times); "
        "ceilings are measured in the same run, see docs/performance.md"
    )
    facts = [
        f"{machine.get('cpus', '?')} CPUs ({machine.get('cpu_model') or '?'})",
        f"load (1 min) {(machine.get('load_average_start') or ['?'])[0]} → {(machine.get('load_average_end') or ['?'])[0]}",
        f"PostgreSQL {machine.get('postgresql') or 'not reachable'}",
        f"Python {machine.get('python', '?')}",
        f"{document.get('seconds', '?')} s",
        f"commit {document.get('commit', '?')}",
    ]
    lines.append("run: " + document.get("started_at", "?") + " · " + " · ".join(facts))
    missing = {item["id"].split(".")[0]: item["notes"] for item in document["figures"] if item["measured"] is None}
    for module, notes in missing.items():
        lines.append(f"{module}: {notes}")
    for module, error in document.get("errors", {}).items():
        lines.append(f"ERROR in {module}: {error.strip().splitlines()[-1]}")
    return "\n".join(lines)


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, default=str)
