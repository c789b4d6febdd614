"""Run records: their typed shape, the one reader and writer, where they live, and how one is made.

Records are the leaderboard's only source and outlive the code that wrote them (``types`` names
every field and the schema that added it; ``io`` reads and writes them strictly; ``paths`` says
where a record goes, ``runkey`` where a cell's outputs go; ``make`` assembles a record from a
cell's plan and outcome).
"""

from bench.records.io import (
    SCHEMA,
    SUPPORTED,
    check_report_fields,
    read_record,
    staleness,
    write_record,
)
from bench.records.make import CellPlan, Outcome, make_record
from bench.records.paths import (
    CURVE_RECORDS,
    SWEEP_RECORDS,
    cell_key,
    curve_path,
    params_key,
    record_path,
    report_root,
    results_root,
    user_results,
)
from bench.records.runkey import RunKey
from bench.records.types import RunRecord

__all__ = [
    "CURVE_RECORDS",
    "CellPlan",
    "Outcome",
    "RunKey",
    "SCHEMA",
    "SUPPORTED",
    "SWEEP_RECORDS",
    "RunRecord",
    "cell_key",
    "check_report_fields",
    "curve_path",
    "make_record",
    "params_key",
    "read_record",
    "record_path",
    "report_root",
    "results_root",
    "staleness",
    "user_results",
    "write_record",
]
