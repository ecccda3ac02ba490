"""The tables of docs/benchmarks.md, regenerated from a `coopcast bench` report.

Each table sits between `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->`; everything
outside the markers (the prose) is kept. A benchmark the report lacks (left out with --only, or
skipped) keeps its previous table; a table with no markers yet is added at the end of the page
under its own heading.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

HEADINGS = {
    "about": "Last run",
    "simulator": "Simulator generation rate",
    "order_placement": "Order placement",
    "ingestion": "Ingestion",
    "run": "End to end: coopcast run",
    "build": "Build",
    "forecasting": "Forecasting",
    "forecasting_distributed": "Distributed forecasting (Dask)",
    "dashboard_render": "Dashboard render time",
}


def table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def counted(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def number(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def ranged(figure: dict, digits: int = 0) -> str:
    """`median (min–max)`, or the median alone when the repeats agree (one repeat)."""
    median, low, high = (number(figure[key], digits) for key in ("median", "min", "max"))
    return median if low == high else f"{median} ({low}–{high})"


def about_table(report: dict) -> str:
    machine, versions = report["machine"], report["versions"]
    rows = [
        ["measured at", report["measured_at"]],
        ["scale", f"{report['scale']} (seed {report['seed']}), {counted(report['repeats'], 'repeat')} per figure"],
        ["machine", f"{machine['platform']}, {machine['cpus']} CPUs, Python {machine['python']}"],
        ["versions", ", ".join(f"{name} {found}" for name, found in versions.items())],
    ]
    postgresql_rows = report["data_size"].get("postgresql_rows")
    if postgresql_rows:
        biggest = sorted(postgresql_rows.items(), key=lambda item: item[1], reverse=True)[:4]
        listed = ", ".join(f"{name} {count:,}" for name, count in biggest)
        rows.append(["data", f"{sum(postgresql_rows.values()):,} rows in PostgreSQL core ({listed}, …)"])
    rows.append(["whole run", f"{report['total_seconds']:,.0f} s"])
    phases = report.get("phase_seconds")
    if phases:
        rows.append(["of which", ", ".join(f"{name} {seconds:,.0f} s" for name, seconds in phases.items())])
    return table(["", ""], rows)


def simulator_table(figures: dict, scale: str) -> str:
    rows = [
        [
            scale,
            number(figures["rows"]),
            number(figures["seconds_median"], 1),
            ranged(figures["rows_per_second"]),
            ranged(figures["ratio_to_plain_copy"], 3),
        ]
    ]
    return table(["scale", "rows", "seconds", "rows/s", "× plain COPY"], rows)


def order_placement_table(figures: dict, scale: str) -> str:
    rows = [
        [
            row["workload"],
            row["clients"],
            ranged(
                {"median": row["orders_per_s_median"], "min": row["orders_per_s_min"], "max": row["orders_per_s_max"]}
            ),
            number(row["p50_ms"], 1),
            number(row["p99_ms"], 1),
            number(row["baseline_tx_per_s_median"]),
            number(row["ratio_to_baseline"], 3),
        ]
        for row in figures["figures"]
    ]
    return table(["workload", "clients", "orders/s", "p50 ms", "p99 ms", "baseline tx/s", "× baseline"], rows)


def ingestion_table(figures: dict, scale: str) -> str:
    full = figures["full_refresh"]
    rows = [["full refresh, all tables", number(full["rows"]), ranged(full["rows_per_s"]), "", ""]]
    for baseline in figures["baselines"]:
        rows.append(
            [
                f"`{baseline['table']}`: scanner · pandas.read_sql · server COPY",
                number(baseline["rows"]),
                ranged(baseline["scanner_rows_per_s"]),
                f"{ranged(baseline['pandas_read_sql_rows_per_s'])} · {ranged(baseline['server_copy_rows_per_s'])}",
                f"{number(baseline['scanner_vs_pandas'], 2)} · {number(baseline['scanner_vs_server_copy'], 2)}",
            ]
        )
    speeds = table(["copy", "rows", "rows/s", "baselines rows/s (pandas · COPY)", "× pandas · × COPY"], rows)
    no_change = figures["no_change"]
    polls = [
        ["no change: poll (source_has_changes)", ranged(no_change["source_has_changes_seconds"], 3)],
        ["no change: incremental ingestion", ranged(no_change["incremental_seconds"], 2)],
    ]
    day = figures.get("county_day")
    if day:
        written = day["written"]
        polls.append(
            [
                f"one trading day ({written['orders']:,} orders, {written['funnel_events']:,} funnel events;"
                f" {day['rows_merged']:,} rows merged): incremental ingestion",
                number(day["incremental_seconds"], 2),
            ]
        )
    return speeds + "\n\n" + table(["incremental", "seconds"], polls)


def run_table(figures: dict, scale: str) -> str:
    rows = [[scale, number(figures["seconds"], 1), number(figures["postgresql_rows"]), number(figures["rows_per_s"])]]
    return table(["scale", "seconds", "PostgreSQL rows", "rows/s"], rows)


def build_table(figures: dict, scale: str) -> str:
    total = table(
        ["build", "seconds", "dbt's own seconds", "models", "sum of model times"],
        [
            [
                f"`{figures['command']}`" + (f", {figures['part']}" if "part" in figures else ""),
                ranged(figures["total_seconds"], 1),
                number(figures.get("dbt_elapsed_seconds"), 1),
                figures["models"],
                figures["model_seconds_sum"],
            ]
        ],
    )
    rows = [
        [
            f"`{row['model']}`",
            number(row["rows"]),
            ranged(row["dbt_seconds"], 2),
            number(row["dbt_rows_per_s"]),
            ranged(row["direct_seconds"], 2),
            number(row["direct_rows_per_s"]),
            number(row["ratio_dbt_to_direct"], 2),
        ]
        for row in figures["slowest"]
    ]
    slowest = table(["model", "rows", "dbt s", "dbt rows/s", "DuckDB s", "DuckDB rows/s", "× DuckDB"], rows)
    return total + "\n\n" + slowest


def forecasting_table(figures: dict, scale: str) -> str:
    rows = [["`forecast_network` (backtest + forecast)", ranged(figures["forecast_network_series_per_s"], 2), "1.00"]]
    whole = figures["forecast_network_series_per_s"]["median"]
    for family, found in figures["family_series_per_s"].items():
        rows.append([f"  family `{family}`", ranged(found, 2), ""])
    for label, key in (("statsforecast AutoETS alone", "auto_ets"), ("Prophet alone", "prophet")):
        found = figures[f"{key}_alone_series_per_s"]
        rows.append([label, ranged(found, 2), number(whole / found["median"], 3) if found["median"] else "–"])
    header = ["forecasting", f"series/s ({figures['series']} series)", "forecast_network ÷ this"]
    families = table(header, rows)
    fits = figures.get("global_model_fits")
    if fits is None:
        return families
    side_by_side = fits["fits_side_by_side"]
    global_rows = [
        ["one at a time", ranged(fits["one_at_a_time_seconds"], 2), "1.00"],
        [
            f"side by side, {side_by_side} at once",
            ranged(fits["side_by_side_seconds"], 2),
            number(fits["ratio_one_at_a_time_to_side_by_side"], 2),
        ],
    ]
    header = ["LightGBM's backtest windows and final fit", "seconds", "one at a time ÷ this"]
    return families + "\n\n" + table(header, global_rows)


def forecasting_distributed_table(figures: dict, scale: str) -> str:
    rows = [
        [
            "all three families",
            ranged(figures["single_process_series_per_s"], 2),
            ranged(figures["cluster_series_per_s"], 2),
            number(figures["cluster_over_single_process"], 2),
        ]
    ]
    for family, sides in figures["family_seconds"].items():
        one, cluster = sides["single_process"], sides["cluster"]
        ratio = one["median"] / cluster["median"] if cluster["median"] else None
        rows.append([f"  family `{family}`, seconds", ranged(one, 2), ranged(cluster, 2), number(ratio, 2)])
    header = [
        f"per-series models ({figures['series']} series)",
        "one process",
        figures["cluster"],
        "cluster speed ÷ one process",
    ]
    speeds = table(header, rows)
    lightgbm = figures["global_model_on_dask_against_single_process"]
    differences = table(
        ["LightGBM on Dask, partitions", "Σ abs. difference ÷ Σ forecast", "largest difference, units/day"],
        [
            [name.split("_", 1)[0], number(found["relative_difference"], 4), number(found["max_abs_difference"], 2)]
            for name, found in lightgbm.items()
        ],
    )
    return speeds + "\n\n" + differences


def dashboard_render_table(figures: dict, scale: str) -> str:
    rows = [
        [
            row["page"],
            number(row["cold_ms"]),
            number(row["p50_ms"]),
            number(row["p95_ms"]),
            number(row["min_ms"]),
            number(row["max_ms"]),
            number(row["ratio_to_baseline"], 2),
        ]
        for row in [figures["baseline_figure"], *figures["figures"]]
    ]
    return table(["page", "cold ms", "p50 ms", "p95 ms", "min ms", "max ms", "p50 × empty page"], rows)


RENDERERS: dict[str, Callable[[dict, str], str]] = {
    "simulator": simulator_table,
    "order_placement": order_placement_table,
    "ingestion": ingestion_table,
    "run": run_table,
    "build": build_table,
    "forecasting": forecasting_table,
    "forecasting_distributed": forecasting_distributed_table,
    "dashboard_render": dashboard_render_table,
}


def tables(report: dict) -> dict[str, str]:
    """Each table the report has figures for, by marker name."""
    found = {"about": about_table(report)}
    for name, figures in report["benchmarks"].items():
        found[name] = RENDERERS[name](figures, report["scale"])
    return found


def replace_between_markers(text: str, name: str, content: str) -> str:
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    block = f"{start}\n{content}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text, count=1)
    return text.rstrip("\n") + f"\n\n## {HEADINGS[name]}\n\n{block}\n"


def regenerate(docs: Path, report: dict) -> list[str]:
    """Rewrite the tables of `docs` from `report`; the names of the tables rewritten."""
    text = docs.read_text(encoding="utf-8")
    found = tables(report)
    for name, content in found.items():
        text = replace_between_markers(text, name, content)
    docs.write_text(text, encoding="utf-8")
    return list(found)
