# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       format_name: percent
# ---

# %% [markdown]
# # vaxsync: coverage and backlog, for analysts
#
# Open this first. It reads the DuckDB warehouse (read-only): the nights published, the doses posted,
# coverage by province and over time (the `coverage_*` tables; definitions in `docs/coverage.md`),
# and the open backlog by reason and province. Plots are saved as PNG files.
#
# | environment variable | default |
# |---|---|
# | `VAXSYNC_WAREHOUSE_PATH` | `data/demo/warehouse.duckdb` |
# | `VAXSYNC_REPORTS_DIR` | `data/demo/reports` |
# | `VAXSYNC_NOTEBOOK_FIGURES_DIR` | `<reports dir>/<as-of>/notebook/` |
#
# The file is in jupytext's percent format: open it as a notebook, or run it as a script.

# %%
import io
import os
from pathlib import Path

import duckdb
import matplotlib

matplotlib.use("Agg")  # files only: runs headless, in tests and in `make demo`
import matplotlib.pyplot as plt
import polars as pl
from matplotlib.ticker import MaxNLocator, PercentFormatter

from vaxsync.core.reasons import BACKLOG_REASONS
from vaxsync.core.settings import Settings
from vaxsync.core.workdir import write_private
from vaxsync.marts.coverage import MILESTONES

settings = Settings()
connection = duckdb.connect(str(settings.warehouse_path), read_only=True)
tables = set(connection.sql("select table_name from information_schema.tables").pl()["table_name"])
if "coverage_by_area" not in tables:
    raise SystemExit(
        f"{settings.warehouse_path} has no coverage tables yet: the nightly run builds them "
        "(vaxsync.marts.coverage.build_coverage)."
    )
as_of = connection.sql("select max(as_of) from coverage_by_area").fetchall()[0][0]
figures_dir = Path(
    os.environ.get("VAXSYNC_NOTEBOOK_FIGURES_DIR", settings.reports_dir / as_of.isoformat() / "notebook")
)
MILESTONE_LABELS = {
    "dose_1": "Dose 1",
    "primary_complete": "Primary series complete",
    "booster_1": "Booster 1",
    "booster_2": "Booster 2",
}
MILESTONE_COLOURS = {
    "dose_1": "#c6dbef",
    "primary_complete": "#6baed6",
    "booster_1": "#2171b5",
    "booster_2": "#08306b",
}


def short_province_name(name: pl.Expr) -> pl.Expr:
    """'Tỉnh Hà Giang' -> 'Hà Giang', 'Thành phố Hồ Chí Minh' -> 'Hồ Chí Minh': shorter axis labels."""
    return name.str.replace(r"^(Tỉnh|Thành phố) ", "").fill_null("Unknown province")


def save_figure(figure: plt.Figure, name: str) -> Path:
    """Save as PNG, owner-only like every report file."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(figure)
    return write_private(figures_dir / name, buffer.getvalue())


print(f"warehouse: {settings.warehouse_path}\ncoverage as of: {as_of}\nfigures: {figures_dir}")

# %% [markdown]
# ## Nights published

# %%
runs = connection.sql(
    "select as_of, files_new, files_quarantined, rows_in, rows_posted, rows_duplicate, rows_backlog "
    "from pipeline_runs order by finished_at"
).pl()
print(runs)

# %% [markdown]
# ## Doses posted, by vaccine and dose number

# %%
doses_by_vaccine = connection.sql(
    "select vaccine_code, dose_number, count(*) as count_doses from synced_shots group by all order by all"
).pl()
print(doses_by_vaccine.pivot(on="dose_number", index="vaccine_code", values="count_doses").fill_null(0))

# %% [markdown]
# ## Coverage, national
#
# The denominator is the registry snapshot: people born by the as-of date and alive when the campaign
# began. "Primary series complete" counts a one-dose product (Janssen) after one dose, and a mixed
# series when its dose count reaches the longest schedule among the products given.

# %%
national_coverage = connection.sql(
    """
    select milestone, sum(count_population)::bigint as count_population, sum(count_reached)::bigint as count_reached,
           round(100.0 * sum(count_reached) / sum(count_population), 2) as percent_reached
    from v_coverage_province group by milestone
    """
).pl()
national_coverage = national_coverage.sort(
    pl.col("milestone").replace_strict(MILESTONES, range(len(MILESTONES)))
)
print(national_coverage)

# %% [markdown]
# ## Coverage by province
#
# One bar per province, ranked by the share with a complete primary series; each bar nests the four
# milestones (everyone with a booster has a complete primary series, who has had dose 1).


# %%
def province_coverage(view: str, code_column: str, name_column: str) -> pl.DataFrame:
    """One row per province: its name and the percent reaching each milestone, ranked."""
    return (
        connection.sql(
            f"select {code_column} as province_code, {name_column} as province_name, milestone, percent_reached "
            f"from {view}"
        )
        .pl()
        .pivot(on="milestone", index=["province_code", "province_name"], values="percent_reached")
        .with_columns(short_province_name(pl.col("province_name")).alias("province_label"))
        .sort(["primary_complete", "dose_1", "province_label"], descending=[True, True, False])
    )


def plot_ranked_coverage(coverage: pl.DataFrame, title: str) -> plt.Figure:
    ranked = coverage.reverse()  # barh draws bottom-up; the best province goes on top
    figure, axis = plt.subplots(figsize=(9, 1.2 + 0.24 * ranked.height))
    for milestone in MILESTONES:
        axis.barh(
            ranked["province_label"],
            ranked[milestone],
            color=MILESTONE_COLOURS[milestone],
            label=MILESTONE_LABELS[milestone],
            height=0.75,
        )
    # The label sits past the whole bar and states the ranking measure.
    for position, (bar_end, percent) in enumerate(
        zip(ranked["dose_1"], ranked["primary_complete"], strict=True)
    ):
        axis.annotate(f"{percent:.1f}%", (bar_end, position), xytext=(3, 0), textcoords="offset points",
                      va="center", fontsize=7, color="#08306b")  # fmt: skip
    axis.xaxis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 5, 10]))
    axis.xaxis.set_major_formatter(PercentFormatter(decimals=0))
    axis.set_xlim(0, max(5.0, float(ranked["dose_1"].max() or 0) * 1.12))
    axis.set_xlabel(
        "Share of the registry population (people born by the as-of date, alive at campaign start)"
    )
    axis.set_ylim(-0.6, ranked.height - 0.4)
    axis.margins(y=0)
    axis.tick_params(axis="y", labelsize=8)
    axis.grid(axis="x", color="#dddddd")
    axis.set_axisbelow(True)
    axis.set_title(title)
    axis.legend(loc="lower right", fontsize=8, title="Bars overlap, each from 0\n(label: % primary complete)",
                title_fontsize=8)  # fmt: skip
    return figure


coverage_by_province_2025 = province_coverage(
    "v_coverage_province_2025", "province_code_2025", "province_name_2025"
)
coverage_by_province_2021 = province_coverage("v_coverage_province", "province_code", "province_name")
print(coverage_by_province_2025.select("province_code", "province_label", *MILESTONES))
figure_paths = [
    save_figure(
        plot_ranked_coverage(coverage_by_province_2025, f"COVID-19 vaccination coverage by province (34 provinces, 2025), as of {as_of}"),
        "coverage_by_province_2025.png",
    ),
    save_figure(
        plot_ranked_coverage(coverage_by_province_2021, f"COVID-19 vaccination coverage by province (63 provinces, before 2025), as of {as_of}"),
        "coverage_by_province_2021.png",
    ),
]  # fmt: skip

# %% [markdown]
# ## Coverage over time
#
# Cumulative share of the population reaching each milestone by the end of each ISO week.

# %%
weekly_coverage = connection.sql(
    "select week_end, milestone, count_population, count_reached, percent_reached "
    "from v_coverage_weekly_national order by week_end, milestone"
).pl()
figure, axis = plt.subplots(figsize=(9, 4.5))
for milestone in MILESTONES:
    curve = weekly_coverage.filter(pl.col("milestone") == milestone)
    axis.plot(curve["week_end"], curve["percent_reached"], label=MILESTONE_LABELS[milestone],
              color=MILESTONE_COLOURS[milestone] if milestone != "dose_1" else "#9ecae1", linewidth=2)  # fmt: skip
axis.yaxis.set_major_formatter(PercentFormatter(decimals=0))
axis.set_ylim(0, None)
axis.set_ylabel("Share of the registry population")
axis.set_xlabel("Week ending")
axis.grid(color="#dddddd")
axis.legend(loc="upper left", fontsize=8)
axis.set_title(f"COVID-19 vaccination coverage over time, national, by ISO week (as of {as_of})")
figure.autofmt_xdate()
figure_paths.append(save_figure(figure, "coverage_over_time.png"))
print(weekly_coverage.filter(pl.col("week_end") == pl.col("week_end").max()))

# %% [markdown]
# ## Open backlog, by reason and by province
#
# The rows people still have to act on. The province is the best known one (the facility's, else the
# person's residence, else the ID's), in 63-province units.

# %%
views = set(connection.sql("select view_name from duckdb_views()").pl()["view_name"])
open_backlog_sql = (
    "select * from open_backlog"
    if "open_backlog" in views
    else "select * from unposted_backlog where superseded_by_file_hash is null"
)
province_names = connection.sql(
    "select distinct province_code, province_name from coverage_by_area where province_code is not null"
).pl()
open_backlog = (
    connection.sql(f"select reason_code, province_code from ({open_backlog_sql})")
    .pl()
    .join(province_names, on="province_code", how="left")
    .with_columns(short_province_name(pl.col("province_name")).alias("province_label"))
)
reason_english = pl.DataFrame(
    {
        "reason_code": list(BACKLOG_REASONS),
        "reason_english": [reason.english for reason in BACKLOG_REASONS.values()],
    }
)
backlog_by_reason = (
    open_backlog.group_by("reason_code")
    .len("count_rows")
    .join(reason_english, on="reason_code", how="left")
    .sort("count_rows", "reason_code", descending=[True, False])
)
backlog_by_province = (
    open_backlog.group_by("province_code", "province_label")
    .len("count_rows")
    .sort("count_rows", "province_label", descending=[True, False])
)
with pl.Config(fmt_str_lengths=100, tbl_width_chars=160):
    print(backlog_by_reason)
print(backlog_by_province)


# %%
def reason_label(reason_code: str) -> str:
    """A short legend label: 'id_not_in_registry' -> 'ID not in registry' (the sentences are above)."""
    return reason_code.replace("_", " ").capitalize().replace("Id ", "ID ")


backlog_cells = (
    open_backlog.group_by("province_label", "reason_code")
    .len("count_rows")
    .pivot(on="reason_code", index="province_label", values="count_rows")
)
reason_order = backlog_by_reason["reason_code"].to_list()
province_order = (
    backlog_by_province["province_label"].reverse().to_list()
)  # barh draws bottom-up: largest on top
backlog_cells = pl.DataFrame({"province_label": province_order}).join(
    backlog_cells, on="province_label", how="left"
)
figure, axis = plt.subplots(figsize=(10, 1.4 + 0.24 * max(len(province_order), 1)))
bar_start = pl.Series([0] * len(province_order))
colours = plt.get_cmap("tab20").colors
for index, reason_code in enumerate(reason_order):  # one stacked segment per reason
    counts = backlog_cells[reason_code].fill_null(0)
    axis.barh(province_order, counts, left=bar_start, color=colours[index % len(colours)],
              label=reason_label(reason_code), height=0.75)  # fmt: skip
    bar_start = bar_start + counts
axis.xaxis.set_major_locator(MaxNLocator(integer=True))
axis.set_xlabel("Open backlog rows (province: the facility's, else the residence's, else the ID's)")
axis.tick_params(axis="y", labelsize=8)
axis.grid(axis="x", color="#dddddd")
axis.set_axisbelow(True)
axis.margins(y=0.01)
axis.set_title(f"Open backlog by province and reason, as of {as_of} ({open_backlog.height:,} rows)")
axis.legend(loc="lower right", fontsize=8, title="Reason", title_fontsize=8)
figure_paths.append(save_figure(figure, "backlog_by_province_and_reason.png"))
print("\n".join(str(path) for path in figure_paths))
