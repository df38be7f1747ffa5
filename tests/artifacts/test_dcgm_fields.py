"""The dcgm-exporter field table (exporter/dcgm_fields.py, appended to docs/metrics.md): it covers
every default counter of dcgm-exporter, names only series we export, and agrees with the compat
rules of alerts/dcgm-compat.yml."""

from __future__ import annotations

import pytest

from exporter.dcgm_fields import FIELDS, DcgmField
from exporter.metrics import CATALOGUE
from tests.artifacts.artifacts import ALERTS, metric_names, rules

# The uncommented lines of etc/default-counters.csv in https://github.com/NVIDIA/dcgm-exporter
# (3.x and 4.x): 21 device fields and 5 profiling fields.
DCGM_EXPORTER_DEFAULTS = frozenset(
    {
        "DCGM_FI_DEV_SM_CLOCK",
        "DCGM_FI_DEV_MEM_CLOCK",
        "DCGM_FI_DEV_MEMORY_TEMP",
        "DCGM_FI_DEV_GPU_TEMP",
        "DCGM_FI_DEV_POWER_USAGE",
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
        "DCGM_FI_DEV_PCIE_TX_THROUGHPUT",
        "DCGM_FI_DEV_PCIE_RX_THROUGHPUT",
        "DCGM_FI_DEV_PCIE_REPLAY_COUNTER",
        "DCGM_FI_DEV_GPU_UTIL",
        "DCGM_FI_DEV_MEM_COPY_UTIL",
        "DCGM_FI_DEV_ENC_UTIL",
        "DCGM_FI_DEV_DEC_UTIL",
        "DCGM_FI_DEV_XID_ERRORS",
        "DCGM_FI_DEV_FB_FREE",
        "DCGM_FI_DEV_FB_USED",
        "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL",
        "DCGM_FI_DEV_VGPU_LICENSE_STATUS",
        "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
        "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS",
        "DCGM_FI_DEV_ROW_REMAP_FAILURE",
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
        "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE",
        "DCGM_FI_PROF_DRAM_ACTIVE",
        "DCGM_FI_PROF_PCIE_TX_BYTES",
        "DCGM_FI_PROF_PCIE_RX_BYTES",
    }
)
COMPAT_RULES = {
    rule["record"]: rule["expr"]
    for rule in rules(ALERTS / "dcgm-compat.yml")
    if rule.get("record", "").startswith("DCGM_FI_")
}
CATALOGUE_NAMES = {metric.name for metric in CATALOGUE}


def test_every_default_counter_of_dcgm_exporter_is_in_the_table() -> None:
    assert len(DCGM_EXPORTER_DEFAULTS) == 26
    assert {f.field for f in FIELDS if f.default} == DCGM_EXPORTER_DEFAULTS


def test_fields_are_listed_once() -> None:
    names = [f.field for f in FIELDS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("field", FIELDS, ids=lambda f: f.field)
def test_every_series_the_table_names_is_in_the_catalogue(field: DcgmField) -> None:
    # The newer NVML counters and the gpu_prof_* series join the catalogue with issue 20's
    # counters and GPM changes: until then their rows fail here.
    assert set(field.series) <= CATALOGUE_NAMES, set(field.series) - CATALOGUE_NAMES


def test_the_compat_fields_are_the_compat_rules() -> None:
    assert {f.field for f in FIELDS if f.compat} == set(COMPAT_RULES)


@pytest.mark.parametrize("field", [f for f in FIELDS if f.compat], ids=lambda f: f.field)
def test_compat_rule_reads_the_series_the_table_names(field: DcgmField) -> None:
    expr = COMPAT_RULES[field.field]
    if field.field == "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS":
        expr = COMPAT_RULES["DCGM_FI_DEV_CLOCKS_EVENT_REASONS"]
    assert set(field.series) <= metric_names(expr), expr


@pytest.mark.parametrize("field", [f for f in FIELDS if not f.compat], ids=lambda f: f.field)
def test_a_field_without_compat_series_says_why(field: DcgmField) -> None:
    assert not field.series
    assert field.expression == "not available without DCGM"
    assert len(field.note) > 20
