# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       format_name: percent
# ---

# %% [markdown]
# # vaxsync: what the warehouse holds
#
# Open this first. It reads the DuckDB warehouse (read-only) and the registry snapshot, and shows
# the doses posted, the people reached, and the open backlog by reason and province.
# Paths come from `VAXSYNC_WAREHOUSE_PATH` and `VAXSYNC_REGISTRY_PATH` (defaults: the demo's).
# The file is in jupytext's percent format: open it as a notebook, or run it as a script.

# %%
import os
from pathlib import Path

import duckdb
import polars as pl

warehouse_path = Path(os.environ.get("VAXSYNC_WAREHOUSE_PATH", "data/demo/warehouse.duckdb"))
registry_path = Path(os.environ.get("VAXSYNC_REGISTRY_PATH", "data/demo/registry.parquet"))
connection = duckdb.connect(str(warehouse_path), read_only=True)
connection.execute(f"create or replace temp view registry as select * from read_parquet('{registry_path.as_posix()}')")

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
# ## People reached, by province of residence (registry as denominator, living people)

# %%
people_by_province = connection.sql(
    """
    with doses as (
        select citizen_id, max(dose_number) as doses_received from synced_shots group by citizen_id
    )
    select r.province_code,
           count(*) as count_people,
           count(d.citizen_id) as count_with_dose_1,
           count(*) filter (where d.doses_received >= 2) as count_with_dose_2,
           round(100.0 * count(d.citizen_id) / count(*), 2) as percent_with_dose_1
    from registry r left join doses d using (citizen_id)
    where r.date_of_death is null
    group by r.province_code
    order by percent_with_dose_1 desc
    """
).pl()
print(people_by_province)

# %% [markdown]
# ## Open backlog, by reason and by province

# %%
open_backlog = connection.sql(
    "select reason_code, province_code from unposted_backlog where superseded_by_file_hash is null"
).pl()
backlog_by_reason = open_backlog.group_by("reason_code").len("count_rows").sort("count_rows", descending=True)
backlog_by_province = open_backlog.group_by("province_code").len("count_rows").sort("count_rows", descending=True)
print(backlog_by_reason)
print(backlog_by_province)
