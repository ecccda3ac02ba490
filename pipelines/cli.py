"""The `coopcast` command line: set up, simulate, run the pipeline, serve the UIs."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated

import psycopg
import typer
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from models.replenishment.replay_defaults import DEFAULT_DAYS, DEFAULT_MAX_SKUS, REFIT_EVERY_DAYS
from pipelines import settings
from pipelines import warehouse as duck
from pipelines.cli_common import (
    CommandFailed,
    configure_environment,
    console,
    error_console,
    one_line_errors,
    prepare,
    progress,
)
from pipelines.commands import backup as backup_commands
from pipelines.commands.alerts import alerts_app
from pipelines.commands.api import api as api_command
from pipelines.commands.bench import bench as bench_command
from pipelines.commands.docs import docs as docs_command
from pipelines.commands.imports import import_app
from pipelines.commands.ingest import ingest as ingest_command
from pipelines.commands.merchant import merchant_app
from pipelines.commands.replenish import replenish as replenish_command
from pipelines.commands.user import demo_login, first_admin_password, user_app
from pipelines.ops.instance import cli_run_tags, release_abandoned_cli_runs, run_label
from pipelines.ops.step_failures import step_failure_line
from transactional import db

app = typer.Typer(
    help="coopcast: analytics and forecasting for supply-and-marketing co-op merchants.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
export_app = typer.Typer(help="Write files for procurement.", no_args_is_help=True)
app.add_typer(export_app, name="export")
evaluate_app = typer.Typer(help="Measure the policies against the simulator's truth.", no_args_is_help=True)
app.add_typer(evaluate_app, name="evaluate")
app.command()(backup_commands.backup)
app.command()(backup_commands.restore)
app.add_typer(merchant_app, name="merchant")
app.add_typer(alerts_app, name="alerts")
app.add_typer(user_app, name="user")
app.command("api")(api_command)
app.add_typer(import_app, name="import")
app.command("docs")(docs_command)
app.command("ingest")(ingest_command)
app.command("replenish")(replenish_command)
app.command("bench")(bench_command)
DEMO_SCALE = "small"
DEMO_SEED = 7
DASHBOARD_PORT = 8501
DAGSTER_PORT = 3000
SHUTDOWN_GRACE_SECONDS = 20
PROGRESS_POLL_SECONDS = 0.5


@app.command()
@one_line_errors
def init() -> None:
    """Create $COOPCAST_HOME, start or reuse PostgreSQL, migrate it, create the DuckDB schemas."""
    with console.status("Preparing PostgreSQL and the warehouse…"):
        uri = prepare()
    console.print(f"PostgreSQL  {db.describe(uri)} (schema core migrated)")
    console.print(f"Warehouse   {settings.warehouse_path()}")
    console.print(f"Home        {db.coopcast_home()}")
    with db.connect(uri) as conn:
        password = first_admin_password(conn)
    if password is None:
        console.print("Admin       an admin account exists (`coopcast user reset-password admin` gives a new password)")
    else:
        console.print(f"Admin       account admin created; its password is shown only now: {password}")


@app.command()
@one_line_errors
def simulate(
    context: typer.Context,
    scale: Annotated[
        str, typer.Option(help="tiny (seconds, tests), small (the demo) or county (200 merchants, 2 years)")
    ] = "tiny",
    seed: Annotated[int, typer.Option(help="Same seed, same data")] = 1,
    live: Annotated[
        bool, typer.Option("--live", help="Keep the simulated network trading now, through the HTTP API")
    ] = False,
    rate: Annotated[float, typer.Option(help="With --live: orders launched per second")] = 5.0,
    clients: Annotated[int, typer.Option(help="With --live: concurrent API clients")] = 8,
    duration: Annotated[
        float | None, typer.Option(help="With --live: seconds to trade (default: until Ctrl+C)")
    ] = None,
    api_url: Annotated[
        str | None, typer.Option("--api-url", help="With --live: the API to trade through (default: one in-process)")
    ] = None,
) -> None:
    """Create a simulated co-op network's whole history (loaded in bulk under the schema's
    constraints); with --live, keep it trading through the HTTP API at --rate orders per second."""
    # By name: Typer carries its own copy of Click, whose ParameterSource it does not export.
    given = {name for name in context.params if context.get_parameter_source(name).name == "COMMANDLINE"}
    # An option that does not apply would be ignored silently: the user meant something else.
    misplaced = sorted(given & ({"scale"} if live else {"rate", "clients", "duration", "api_url"}))
    if misplaced:
        options = ", ".join(f"--{name.replace('_', '-')}" for name in misplaced)
        one = len(misplaced) == 1
        verb = ("does not apply" if one else "do not apply") if live else ("only applies" if one else "only apply")
        raise CommandFailed(f"{options} {verb} with --live")
    if live:
        from pipelines.commands.live import trade_live_until_stopped
        from transactional.simulator.live import LiveSettings

        trade_live_until_stopped(LiveSettings(rate, clients, duration, seed), api_url)
        return
    _simulate_history(scale, seed)


def _simulate_history(scale: str, seed: int) -> None:
    from transactional.simulator import simulate as run_simulation
    from transactional.simulator.scales import scale_named

    scale_named(scale)  # a mistyped scale is refused before anything starts
    uri = prepare()
    with progress() as bar, db.connect(uri) as conn:
        task = bar.add_task(f"Simulating {scale} network, seed {seed} (merchants drawn and loaded)", total=None)
        summary = run_simulation(
            conn,
            scale=scale,
            seed=seed,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    console.print(
        f"Simulated {summary.first_date} → {summary.last_date}: {summary.merchants} merchants, "
        f"{summary.skus} SKUs, {summary.customers} customers, {summary.orders} orders "
        f"({summary.order_lines} lines), {summary.funnel_events} funnel events; "
        f"{summary.rows} rows in {summary.seconds:.1f} s ({summary.rows / summary.seconds:,.0f} rows/s)"
    )


def _materialize(
    description: str,
    groups: tuple[str, ...] | None,
    as_of: date | None = None,
    full_refresh: bool = False,
    job_name: str | None = None,
    ops_config: dict | None = None,
) -> None:
    """Run (part of) a job's asset graph through Dagster, recorded in DAGSTER_HOME for the UI.

    `groups` selects the job's assets of those groups (None: all of the job's assets); `job_name`
    defaults to the full run; `ops_config` is the run config's "ops" section.
    """
    import dagster as dg

    from pipelines.definitions import FULL_RUN_JOB, build_definitions

    uri = prepare()
    if as_of is not None:
        _refuse_as_of_before_the_first_order(uri, as_of)
    started = time.monotonic()
    run_log = db.coopcast_home() / "logs" / "runs.log"
    run_log.parent.mkdir(parents=True, exist_ok=True)
    # dbt's progress lines (which dagster-dbt writes to stdout) go to a log file; the terminal
    # keeps a progress bar on stderr (assets materialized of those selected) and the summary.
    with (
        _run_progress() as bar,
        run_log.open("a", encoding="utf-8") as log,
        contextlib.redirect_stdout(log),
    ):
        task = bar.add_task(f"{description}: loading the asset graph", total=None)
        definitions = build_definitions()
        job = definitions.resolve_job_def(job_name or FULL_RUN_JOB)
        graph = definitions.resolve_asset_graph()
        selection = None
        if groups is not None:
            selection = [key for key in job.asset_layer.selected_asset_keys if graph.get(key).group_name in groups]
        selected = len(selection) if selection is not None else len(job.asset_layer.selected_asset_keys)
        run_config = {
            "resources": {
                "run_settings": {"config": {"as_of": as_of.isoformat() if as_of else "", "full_refresh": full_refresh}}
            },
            # The full event log is in the Dagster UI; the terminal gets one line either way.
            "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
            **({"ops": ops_config} if ops_config else {}),
        }
        run_id = str(uuid.uuid4())
        outcome: list = []
        with dg.DagsterInstance.get() as instance:
            # On the terminal (stdout goes to the run log here): the user should know.
            for abandoned_run, pid in release_abandoned_cli_runs(instance):
                bar.console.print(
                    f"Dagster run {abandoned_run} of a coopcast process that is gone (pid {pid}) "
                    "was marked failed and its warehouse slot freed",
                    soft_wrap=True,
                )
            # A daemon thread: an interrupted run must not keep the process alive; leaving mid-step
            # is a crash the warehouse is built to survive.
            execution = threading.Thread(
                target=lambda: outcome.append(
                    job.execute_in_process(
                        run_config=run_config,
                        instance=instance,
                        asset_selection=selection,
                        run_id=run_id,
                        tags=cli_run_tags(),
                        raise_on_error=False,
                    )
                ),
                daemon=True,
            )
            execution.start()
            bar.update(task, description=description, total=selected)
            previous_sigterm = signal.signal(signal.SIGTERM, _stop_on_sigterm)
            try:
                while execution.is_alive():
                    execution.join(PROGRESS_POLL_SECONDS)
                    if instance.has_run(run_id):
                        bar.update(task, completed=instance.get_run_stats(run_id).materializations)
            except KeyboardInterrupt:
                _cancel_interrupted_run(instance, run_id)
                bar.console.print(
                    f"Interrupted: Dagster run {run_id} was canceled and its warehouse slot freed", soft_wrap=True
                )
                raise
            finally:
                signal.signal(signal.SIGTERM, previous_sigterm)
        if not outcome:
            raise CommandFailed(f"{description} failed to start: see {run_log}")
        result = outcome[0]
        if result.success:
            bar.update(task, completed=selected)
    if not result.success:
        raise CommandFailed(f"{description} failed: {_first_failure(result)} (Dagster run {result.run_id}; {run_log})")
    materialized = sum(1 for event in result.all_events if event.is_step_materialization)
    console.print(
        f"{description}: {materialized} assets materialized in {time.monotonic() - started:.1f} s "
        f"(Dagster run {result.run_id})"
    )


FULL_REFRESH_HELP = "Rebuild the daily facts whole, not only the days whose rows changed since the last build"


def _run_progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("assets"),
        TimeElapsedColumn(),
        console=error_console,
    )


def _cancel_interrupted_run(instance, run_id: str) -> None:
    """Ctrl+C or SIGTERM: the run would otherwise stay STARTED holding the warehouse's one slot,
    and every scheduled run would queue behind it until some later `coopcast` command freed it."""
    run = instance.get_run_by_id(run_id)
    if run is not None and not run.is_finished:
        instance.report_run_canceled(run, "the coopcast command running it was interrupted")
    instance.event_log_storage.free_concurrency_slots_for_run(run_id)


def _first_failure(result) -> str:
    """The failed step and its innermost error, which is where the cause is named."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error:
            return step_failure_line(event.step_key, event.step_failure_data.error)
    return "see the run in the Dagster UI"


@app.command()
@one_line_errors
def build(
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help=FULL_REFRESH_HELP)] = False,
) -> None:
    """Build the dbt models (staging, intermediate, marts) and run their tests."""
    _materialize("dbt build", ("staging", "intermediate", "marts"), full_refresh=full_refresh)


@app.command()
@one_line_errors
def forecast() -> None:
    """Forecast daily demand per merchant × SKU, then plan replenishment on it (ml.replenishment_plan)."""
    _materialize("Forecast", ("ml",))


@export_app.command("replenishment")
@one_line_errors
def export_replenishment() -> None:
    """Write exports/replenishment_<merchant>_<as_of>.xlsx for every merchant."""
    _materialize("Replenishment export", ("exports",))
    for path in sorted(settings.exports_dir().glob("replenishment_*.xlsx")):
        console.print(f"  {path}")


@evaluate_app.command("replenishment")
@one_line_errors
def evaluate_replenishment(
    days: Annotated[int, typer.Option(help="Held-out days replayed, ending at the network's as_of")] = DEFAULT_DAYS,
    max_skus: Annotated[
        int, typer.Option("--max-skus", help="Merchant × SKU pairs replayed at most (a seeded sample; all when fewer)")
    ] = DEFAULT_MAX_SKUS,
    seed: Annotated[int, typer.Option(help="Seed of the SKU sample and the lead-time draws")] = 0,
    warmup_days: Annotated[
        int,
        typer.Option(
            "--warmup-days",
            help="Days replayed before the measured ones, not counted: each policy first shapes its own stock",
        ),
    ] = 0,
    refit_days: Annotated[
        int,
        typer.Option(
            "--refit-days",
            help="Days between refits of coopcast's forecasts (7 = as the weekly plan; slower)",
        ),
    ] = REFIT_EVERY_DAYS,
) -> None:
    """Replay the simulator's true demand under merchants' min-max policy and coopcast's; write ml.policy_evaluation."""
    if days < 1 or max_skus < 1:
        raise CommandFailed("--days and --max-skus must be at least 1")
    if warmup_days < 0:
        raise CommandFailed("--warmup-days must be 0 or more")
    if refit_days < 1:
        raise CommandFailed("--refit-days must be at least 1")
    prepare()
    with contextlib.closing(duck.connect(settings.warehouse_path(), read_only=True)) as conn:
        if not duck.has_simulator_truth(conn):
            raise CommandFailed(duck.MISSING_TRUTH)
    # Imported after the check: the asset module loads the forecasting libraries, which take seconds.
    from pipelines.assets.ml import policy_evaluation
    from pipelines.definitions import POLICY_EVALUATION_JOB

    _materialize(
        "Policy evaluation",
        None,
        job_name=POLICY_EVALUATION_JOB,
        ops_config={
            policy_evaluation.op.name: {
                "config": {
                    "days": days,
                    "max_skus": max_skus,
                    "seed": seed,
                    "warmup_days": warmup_days,
                    "refit_days": refit_days,
                }
            }
        },
    )
    with contextlib.closing(duck.connect(settings.warehouse_path(), read_only=True)) as conn:
        summary = conn.execute(
            "SELECT policy, abc_class, fill_rate, avg_inventory_value, expired_value, stockout_days, orders_placed,"
            " turnover, skus, days, as_of FROM ml.policy_evaluation"
            " ORDER BY policy DESC, abc_class = 'ALL', abc_class"
        ).fetchall()
    # Borderless, so the nine columns fit an 80-column terminal.
    table = Table(
        title=f"Replay of {summary[0][9]} days to {summary[0][10]}"
        + (f" after {warmup_days} days of warm-up" if warmup_days else "")
        + f", forecasts refitted every {refit_days} days"
        + " (ml.policy_evaluation)",
        caption="fill: units served ÷ demanded; stock ¥: average inventory value; out-days: SKU-days short;"
        " turns: cost of goods sold ÷ average inventory value",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("policy", no_wrap=True)
    table.add_column("class", no_wrap=True)
    for header in ("SKUs", "fill", "stock ¥", "expired ¥", "out-days", "orders", "turns"):
        table.add_column(header, justify="right", no_wrap=True)
    for policy, abc_class, fill_rate, inventory, expired, stockout_days, orders, turnover, skus, _, _ in summary:
        table.add_row(
            policy,
            abc_class,
            str(skus),
            f"{fill_rate:.2%}",
            f"{inventory:,.0f}",
            f"{expired:,.0f}",
            str(stockout_days),
            str(orders),
            f"{turnover:.2f}" if turnover is not None else "–",
        )
    console.print(table)


@app.command()
@one_line_errors
def run(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Business date YYYY-MM-DD for all merchants; later data is ignored")
    ] = None,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help=FULL_REFRESH_HELP)] = False,
) -> None:
    """Materialize the whole asset graph in order, then publish the serving copy."""
    as_of_date = _parse_date(as_of) if as_of else None
    _materialize("Run", None, as_of_date, full_refresh)


FIRST_ORDER_DAY_SQL = "SELECT min((ordered_at AT TIME ZONE 'Asia/Shanghai')::date) FROM core.orders"


def _refuse_as_of_before_the_first_order(uri: str, as_of: date) -> None:
    """Every mart would be empty, and publishing them would replace the good serving copy."""
    with db.connect(uri) as conn:
        (first,) = conn.execute(FIRST_ORDER_DAY_SQL).fetchone()
    if first is not None and as_of < first:
        raise CommandFailed(f"--as-of {as_of} is before the first order ({first}): nothing would be left to report")


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise CommandFailed(f"--as-of must be a date like 2026-10-31, got {text!r}") from error


def _launch_servers(ports: ServerPorts) -> list[subprocess.Popen]:
    configure_environment()
    api_server = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "api", "--port", str(ports.api)],
        cwd=settings.REPO_ROOT,
        start_new_session=True,
    )
    streamlit = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(settings.REPO_ROOT / "dashboards" / "streamlit_app.py"),
            "--server.port",
            str(ports.dashboard),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--client.toolbarMode",
            "minimal",
            # A headless Streamlit left to find its own address asks checkip.amazonaws.com for
            # the machine's public one; this platform runs offline.
            "--browser.serverAddress",
            "localhost",
            # A page that fails shows the kind of error, not a traceback with the server's paths;
            # the traceback is in this command's output.
            "--client.showErrorDetails",
            "type",
        ],
        # The dashboard approves replenishment suggestions through the API started here.
        env={**os.environ, settings.API_URL_SETTING: ports.api_url},
        start_new_session=True,
    )
    dagster = subprocess.Popen(
        # Warnings and errors only: at info the daemon prints a line for every sensor's tick, every
        # minute, which buries the URLs above; a failed run's alert is logged as an error.
        [
            sys.executable,
            "-m",
            "dagster",
            "dev",
            "-m",
            "pipelines.definitions",
            "-p",
            str(ports.dagster),
            "--log-level",
            "warning",
        ],
        cwd=settings.REPO_ROOT,
        # Dagster 1.13 marks `dagster dev` superseded by `dg dev`, which needs the project laid out
        # for the dg tool; `dagster dev` still serves the same UI and daemon.
        env={**os.environ, "PYTHONWARNINGS": "ignore:Function `dev_command` is superseded"},
        start_new_session=True,
    )
    return [api_server, streamlit, dagster]


@dataclass(frozen=True)
class ServerPorts:
    dashboard: int
    dagster: int
    api: int

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api}"


ApiPortOption = Annotated[int, typer.Option("--api-port", help="HTTP API port (the dashboard approves through it)")]


def _stop_on_sigterm(signum, frame) -> None:
    raise KeyboardInterrupt


def _serve_until_stopped(ports: ServerPorts) -> None:
    """Run the servers until Ctrl+C or SIGTERM, then stop them and everything they started."""
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    processes = _launch_servers(ports)
    console.print(f"Dashboard   http://localhost:{ports.dashboard}")
    console.print(f"API         {ports.api_url} (docs /docs)")
    console.print(f"Dagster UI  http://localhost:{ports.dagster}")
    console.print("Press Ctrl+C to stop them all.")
    exited_on_their_own = []
    try:
        while True:
            exited_on_their_own = [process for process in processes if process.poll() is not None]
            if exited_on_their_own:
                break
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        _stop_process_groups(processes)
    if exited_on_their_own:
        names = ", ".join(" ".join(map(str, process.args[1:4])) for process in exited_on_their_own)
        raise CommandFailed(f"a server stopped unexpectedly: {names}")


def _stop_process_groups(processes: list[subprocess.Popen]) -> None:
    """Each server leads its own process group (dagster dev starts a webserver and a daemon), so
    the whole group is asked to stop, and killed if it has not within the grace period."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + SHUTDOWN_GRACE_SECONDS
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@app.command()
@one_line_errors
def serve(
    port: Annotated[int, typer.Option(help="Dashboard port")] = DASHBOARD_PORT,
    dagster_port: Annotated[int, typer.Option("--dagster-port", help="Dagster UI port")] = DAGSTER_PORT,
    api_port: ApiPortOption = settings.API_PORT,
) -> None:
    """Start the merchant dashboard, the HTTP API it writes through, and the Dagster UI."""
    prepare()
    _serve_until_stopped(ServerPorts(port, dagster_port, api_port))


@app.command()
@one_line_errors
def status() -> None:
    """Where the data is, how far it reaches, and how the last run went (changes nothing)."""
    import dagster as dg

    configure_environment(create_instance=False)
    uri = db.database_url()
    console.print(f"PostgreSQL  {db.describe(uri)}: {_source_summary(uri)}")

    serving = settings.serving_path()
    if serving.exists():
        published = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(serving.stat().st_mtime))
        console.print(f"Serving     {serving} (published {published})")
        table = Table("merchant", "name", "as_of", "orders, last 30 days", "revenue, last 30 days")
        with duck.connect(serving, read_only=True) as copy:
            for row in copy.execute(SERVING_STATUS_SQL).fetchall():
                table.add_row(row[0], row[1], str(row[2]), f"{row[3]:,}", f"¥{row[4]:,.2f}")
        console.print(table)
    else:
        console.print("Serving     not published yet: run `coopcast run`")

    workbooks = sorted(settings.exports_dir().glob("replenishment_*.xlsx"))
    console.print(f"Exports     {len(workbooks)} workbooks in {settings.exports_dir()}")
    from pipelines.definitions import build_definitions
    from pipelines.ops.status import failed_checks, group_freshness

    if not (settings.dagster_home() / "dagster.yaml").exists():
        console.print("Last run    none yet (no Dagster instance: `coopcast init` creates it)")
        return
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(limit=1)
        if not runs:
            console.print("Last run    none yet")
            return
        last = runs[0]
        stats = instance.get_run_stats(last.run_id)
        ended = _local_time(stats.end_time)
        console.print(
            f"Last run    {last.status.value} {run_label(last.job_name, last.tags)} {last.run_id} (ended {ended})"
        )
        with error_console.status("Reading the asset graph…"):
            definitions = build_definitions()
        freshness = Table("group", "assets", "oldest materialization", "past their freshness policy")
        for group in group_freshness(instance, definitions):
            oldest = _local_time(group.oldest_materialization.timestamp()) if group.oldest_materialization else "-"
            if group.never_materialized:
                oldest = f"{oldest} ({group.never_materialized} never)"
            freshness.add_row(group.group, str(group.assets), oldest, ", ".join(group.stale) or "none")
        console.print(freshness)
        failing = failed_checks(instance, definitions)
    console.print(f"Failed checks {len(failing)}" + "".join(f"\n  {check}" for check in failing))


def _source_summary(uri: str) -> str:
    """A database that is down or not set up yet is part of the status, not a reason to show none."""
    try:
        with db.connect(uri) as conn:
            merchants, orders, last_order = conn.execute(
                "SELECT (SELECT count(*) FROM core.merchants), count(*), max(ordered_at) FROM core.orders"
            ).fetchone()
    except psycopg.errors.UndefinedTable:
        return "not set up yet: run `coopcast init`"
    except psycopg.OperationalError as error:
        reason = " ".join(str(error).split())
        return f"unreachable ({reason[:200]})"
    return f"{merchants} merchants, {orders} orders, last {last_order or '-'}"


def _local_time(timestamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp)) if timestamp else "-"


SERVING_STATUS_SQL = """
SELECT m.merchant_code, m.merchant_name, m.as_of, coalesce(sum(s.orders), 0), coalesce(sum(s.revenue), 0)
FROM marts.dim_merchants m
LEFT JOIN marts.fct_merchant_daily_sales s
  ON s.merchant_id = m.merchant_id AND s.sales_date > m.as_of - 30 AND s.sales_date <= m.as_of
GROUP BY ALL
ORDER BY m.merchant_code
"""


@app.command()
@one_line_errors
def demo(
    scale: Annotated[str, typer.Option(help="The network simulated when the database is empty")] = DEMO_SCALE,
    seed: Annotated[int, typer.Option(help="Seed of that network: same seed, same data")] = DEMO_SEED,
    port: Annotated[int, typer.Option(help="Dashboard port")] = DASHBOARD_PORT,
    dagster_port: Annotated[int, typer.Option("--dagster-port", help="Dagster UI port")] = DAGSTER_PORT,
    api_port: ApiPortOption = settings.API_PORT,
) -> None:
    """init, simulate the small network (once; --scale tiny for a quicker look), run the pipeline, then
    serve the UIs and the API."""
    uri = prepare()
    with db.connect(uri) as conn:
        row = conn.execute("SELECT count(*) FROM core.merchants").fetchone()
    if row and row[0]:
        console.print(f"The database already holds {row[0]} merchants: keeping them, not simulating again.")
    else:
        _simulate_history(scale, seed)
    _materialize("Run", None)
    exports = sorted(settings.exports_dir().glob("replenishment_*.xlsx"))
    console.print(f"Workbooks   {len(exports)} in {settings.exports_dir()}")
    with db.connect(uri) as conn:
        username, password, merchant_code = demo_login(conn)
    console.print(f"Demo login  {username} / {password} (owner of merchant {merchant_code}; shown only now)")
    _serve_until_stopped(ServerPorts(port, dagster_port, api_port))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
