"""Writes the generated rule files of alerts/: the GPU catalogue series and the DCGM names.

``gpu-catalogue.yml`` turns gpucatalog into series Prometheus can join on: per NVML product name
the overheat threshold, the list price and each MIG profile's compute share, then the same per
device (``uuid``) through ``gpu_info``. ``dcgm-compat.yml`` records our metrics under
dcgm-exporter's ``DCGM_FI_DEV_*`` names, units and labels.

    .venv/bin/python alerts/generate.py          # rewrite both files
    .venv/bin/python alerts/generate.py --check  # exit 1 when a checked-in file is not current
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
# Run as a plain script from anywhere: the repository root holds gpucatalog and exporter.
sys.path.insert(0, str(HERE.parent))

from exporter.metrics import CLOCK_EVENT_REASONS  # noqa: E402
from gpucatalog.mig import mig_profiles, total_slices  # noqa: E402
from gpucatalog.models import MODELS  # noqa: E402

CATALOGUE_FILE = HERE / "gpu-catalogue.yml"
DCGM_FILE = HERE / "dcgm-compat.yml"

# A GPU whose product name is not in gpucatalog is held to the lowest threshold we know: an
# unknown part alerts early rather than never. Add the model to gpucatalog to fix its threshold.
FALLBACK_OVERHEAT_C = min(model.overheat_threshold_c for model in MODELS)

# DCGM_FI_DEV_XID_ERRORS' value is the code in the xid label, read digit by digit through one
# lookup of ten series (PromQL has no label-to-number function): (label, place value, regex of
# the digit at that place). Codes of up to three digits; NVIDIA's run to the low hundreds.
XID_DIGITS = (
    ("xid_hundreds", 100, "[0-9]*([0-9])[0-9][0-9]"),
    ("xid_tens", 10, "[0-9]*([0-9])[0-9]"),
    ("xid_units", 1, "[0-9]*([0-9])"),
)

MIB = 1048576
KIB = 1024
# dcgm-exporter's labels: both spellings of the host (Hostname until 3.x, hostname since), and
# the scrape target's instance (kept from gpu_info, so `instance` names the node's exporter as it
# would name dcgm-exporter's pod).
DCGM_IDENTITY_LABELS = (
    "gpu",
    "UUID",
    "pci_bus_id",
    "device",
    "modelName",
    "Hostname",
    "hostname",
    "DCGM_FI_DRIVER_VERSION",
    "instance",
)
# Set only where one container holds the GPU (or MIG instance) alone.
DCGM_POD_LABELS = ("namespace", "pod", "container")
DCGM_LABELS = (*DCGM_IDENTITY_LABELS, *DCGM_POD_LABELS)
# A MIG instance's series carry its GPU instance id and profile, as dcgm-exporter's do.
DCGM_MIG_LABELS = (*DCGM_LABELS, "GPU_I_ID", "GPU_I_PROFILE")
_DCGM_BY = ", ".join(DCGM_LABELS)
_DCGM_MIG_BY = ", ".join(DCGM_MIG_LABELS)


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings (PromQL) and indented lists, so the files read like
    hand-written ones."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _dump(header: str, groups: list[dict[str, Any]]) -> str:
    body = yaml.dump(
        {"groups": groups}, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True
    )
    lines = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header.strip().splitlines())
    return lines + body


def _number(value: float) -> str:
    return repr(float(value)) if value != int(value) else str(int(value))


# -- the GPU catalogue ---------------------------------------------------------------------------


def catalogue_rules() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for model in MODELS:
        for name in model.product_names:
            rules.append(
                {
                    "record": "model_name:gpu_overheat_threshold_celsius:catalogue",
                    "expr": f"vector({_number(model.overheat_threshold_c)})",
                    "labels": {"model_name": name, "model_id": model.model_id},
                }
            )
    for model in MODELS:
        if model.default_price_per_hour is None:
            continue  # no public price: these GPUs are not costed (docs/alerts.md)
        for name in model.product_names:
            rules.append(
                {
                    "record": "model_name:gpu_list_price_usd_per_hour:catalogue",
                    "expr": f"vector({_number(model.default_price_per_hour)})",
                    "labels": {"model_name": name, "model_id": model.model_id},
                }
            )
    for model in MODELS:
        compute_total, _memory_total = total_slices(model.model_id)
        for profile in mig_profiles(model.model_id):
            for name in model.product_names:
                rules.append(
                    {
                        "record": "model_name_profile:gpu_mig_compute_share:catalogue",
                        "expr": f"vector({profile.compute_slices} / {compute_total})",
                        "labels": {
                            "model_name": name,
                            "model_id": model.model_id,
                            "profile": profile.name,
                        },
                    }
                )
    device = "max by (node, gpu, uuid, model_name) (gpu_info)"
    rules += [
        {
            "record": "uuid:gpu_overheat_threshold_celsius:catalogue",
            "expr": (
                f"{device}\n"
                "  * on (model_name) group_left (model_id)\n"
                "model_name:gpu_overheat_threshold_celsius:catalogue\n"
                "or on (uuid)\n"
                f'label_replace({device} * {_number(FALLBACK_OVERHEAT_C)}, "model_id", "unknown", "", "")\n'
            ),
        },
        {
            "record": "uuid:gpu_list_price_usd_per_hour:catalogue",
            "expr": (
                f"{device}\n"
                "  * on (model_name) group_left (model_id)\n"
                "model_name:gpu_list_price_usd_per_hour:catalogue\n"
            ),
        },
        {
            "record": "mig_uuid:gpu_mig_compute_share:catalogue",
            "expr": (
                "(\n"
                "  max by (node, gpu, uuid, mig_uuid, profile) (gpu_mig_info)\n"
                "    * on (uuid) group_left (model_name)\n"
                "  max by (uuid, model_name) (gpu_info)\n"
                ")\n"
                "  * on (model_name, profile) group_left (model_id)\n"
                "model_name_profile:gpu_mig_compute_share:catalogue\n"
            ),
        },
    ]
    return rules


CATALOGUE_HEADER = f"""
Generated by alerts/generate.py from gpucatalog: do not edit (tests/artifacts checks it is current).

GPU catalogue facts as series, so rules and dashboards can join them on the NVML product name
(gpu_info's model_name) and then on the device:
  model_name:gpu_overheat_threshold_celsius:catalogue   degrees C above which a model overheats
  model_name:gpu_list_price_usd_per_hour:catalogue      default list price, USD per GPU-hour
                                                        (models without a public price: absent)
  model_name_profile:gpu_mig_compute_share:catalogue    a MIG profile's compute slices / total
  uuid:gpu_overheat_threshold_celsius:catalogue         per device; unknown models: {_number(FALLBACK_OVERHEAT_C)} C
  uuid:gpu_list_price_usd_per_hour:catalogue            per device (cost panels: list price)
  mig_uuid:gpu_mig_compute_share:catalogue              per MIG instance: share of its GPU
"""


# -- dcgm-exporter compatibility -----------------------------------------------------------------


def _dcgm(record: str, per_uuid: str) -> dict[str, Any]:
    """``per_uuid`` (one sample per uuid) under dcgm-exporter's labels."""
    return {
        "record": record,
        "expr": (
            f"max by ({_DCGM_BY}) (\n"
            f"  (\n    {per_uuid}\n  )\n"
            f"    * on (uuid) group_left ({_DCGM_BY})\n"
            "  uuid:dcgm_exporter_labels:info\n"
            ")\n"
        ),
    }


def _dcgm_mig(per_mig_uuid: str) -> str:
    """``per_mig_uuid`` (one sample per MIG instance) under dcgm-exporter's MIG labels."""
    return (
        f"max by ({_DCGM_MIG_BY}) (\n"
        f"  (\n    {per_mig_uuid}\n  )\n"
        f"    * on (mig_uuid) group_left ({_DCGM_MIG_BY})\n"
        "  mig_uuid:dcgm_exporter_labels:info\n"
        ")\n"
    )


def _dcgm_prof(record: str, metric: str) -> dict[str, Any]:
    """A profiling (GPM) field: the whole GPU's series (``mig_uuid=""``) and each MIG instance's,
    in dcgm-exporter's units (ratios 0-1, bytes per second: ours already)."""
    whole = _dcgm(record, f'max by (uuid) ({metric}{{mig_uuid=""}})')["expr"]
    per_mig = _dcgm_mig(f'max by (mig_uuid) ({metric}{{mig_uuid!=""}})')
    return {"record": record, "expr": f"{whole}or\n{per_mig}"}


def _plain(metric: str, selector: str = "", scale: str = "") -> str:
    return f"max by (uuid) ({metric}{selector}){scale}"


# Profiling fields (DCGM_FI_PROF_*) and the gpu_prof_* series that give them without DCGM.
# GR_ENGINE_ACTIVE is not here: GPM has no graphics-engine metric; it is the busy rate. DCGM
# counts NVDEC/NVJPG/NVOFA per engine (DCGM_FI_PROF_NVDEC0_ACTIVE, ...); ours are one average.
PROF_FIELDS = (
    ("DCGM_FI_PROF_SM_ACTIVE", "gpu_prof_sm_active_ratio"),
    ("DCGM_FI_PROF_SM_OCCUPANCY", "gpu_prof_sm_occupancy_ratio"),
    ("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "gpu_prof_tensor_active_ratio"),
    ("DCGM_FI_PROF_PIPE_TENSOR_HMMA_ACTIVE", "gpu_prof_tensor_hmma_active_ratio"),
    ("DCGM_FI_PROF_PIPE_TENSOR_IMMA_ACTIVE", "gpu_prof_tensor_imma_active_ratio"),
    ("DCGM_FI_PROF_PIPE_TENSOR_DFMA_ACTIVE", "gpu_prof_tensor_dfma_active_ratio"),
    ("DCGM_FI_PROF_DRAM_ACTIVE", "gpu_prof_dram_bandwidth_utilization_ratio"),
    ("DCGM_FI_PROF_PIPE_FP64_ACTIVE", "gpu_prof_fp64_active_ratio"),
    ("DCGM_FI_PROF_PIPE_FP32_ACTIVE", "gpu_prof_fp32_active_ratio"),
    ("DCGM_FI_PROF_PIPE_FP16_ACTIVE", "gpu_prof_fp16_active_ratio"),
    ("DCGM_FI_PROF_PCIE_TX_BYTES", "gpu_prof_pcie_transmit_bytes_per_second"),
    ("DCGM_FI_PROF_PCIE_RX_BYTES", "gpu_prof_pcie_receive_bytes_per_second"),
    ("DCGM_FI_PROF_NVLINK_TX_BYTES", "gpu_prof_nvlink_transmit_bytes_per_second"),
    ("DCGM_FI_PROF_NVLINK_RX_BYTES", "gpu_prof_nvlink_receive_bytes_per_second"),
)
# dcgm's clock-event violation counters (microseconds) and our violation reasons.
VIOLATION_FIELDS = (
    ("DCGM_FI_DEV_POWER_VIOLATION", "power"),
    ("DCGM_FI_DEV_THERMAL_VIOLATION", "thermal"),
    ("DCGM_FI_DEV_SYNC_BOOST_VIOLATION", "sync_boost"),
    ("DCGM_FI_DEV_BOARD_LIMIT_VIOLATION", "board_limit"),
    ("DCGM_FI_DEV_LOW_UTIL_VIOLATION", "low_utilization"),
    ("DCGM_FI_DEV_RELIABILITY_VIOLATION", "reliability"),
)


def _lookup(label: str, values: Sequence[tuple[str, int]]) -> str:
    """One instant vector of constants, a series per ``(label value, number)``: the whole table
    in one rule (a rule per entry costs Prometheus a query each per evaluation)."""
    return "\nor ".join(
        f'label_replace(vector({number}), "{label}", "{value}", "", "")' for value, number in values
    )


def _sole_holder(key: str, selector: str) -> str:
    """``<key>:dcgm_exporter_labels:identity`` with the namespace, pod and container of the one
    container that holds the device alone (``selector``: whole GPUs ``mig_uuid=""``, MIG
    instances ``mig_uuid!=""``); without them where several containers share it or none does."""
    holder = f"max by ({key}, namespace, pod, container) (gpu_pod_allocation_info{{{selector}}})"
    identity = f"{key}:dcgm_exporter_labels:identity"
    return (
        f"{identity}\n"
        f"  * on ({key}) group_left (namespace, pod, container)\n"
        "(\n"
        f"  {holder}\n"
        f"  and on ({key}) (count by ({key}) ({holder}) == 1)\n"
        ")\n"
        f"or on ({key})\n"
        f"{identity}\n"
    )


def dcgm_rules() -> list[dict[str, Any]]:
    renames = (
        ("UUID", "$1", "uuid"),
        ("Hostname", "$1", "node"),
        ("hostname", "$1", "node"),
        ("modelName", "$1", "model_name"),
        ("DCGM_FI_DRIVER_VERSION", "$1", "driver_version"),
        ("device", "nvidia$1", "gpu"),
    )
    # One identity per GPU even where two jobs scrape it (two instances): the joins below need a
    # single series per uuid on their "one" side.
    labels = (
        "label_replace(" * len(renames)
        + "\n  topk by (uuid) (1,"
        + " max by (node, gpu, uuid, model_name, pci_bus_id, driver_version, instance) (gpu_info)),\n"
        + ",\n".join(
            f'  "{target}", "{replacement}", "{source}", "(.*)")'
            for target, replacement, source in renames
        )
        + "\n"
    )
    mig_renames = (("GPU_I_ID", "gpu_instance_id"), ("GPU_I_PROFILE", "profile"))
    mig_labels = (
        "label_replace(" * len(mig_renames)
        + "\n  max by (uuid, mig_uuid, gpu_instance_id, profile) (gpu_mig_info)\n"
        + f"    * on (uuid) group_left ({', '.join(DCGM_IDENTITY_LABELS)})\n"
        + "  uuid:dcgm_exporter_labels:identity,\n"
        + ",\n".join(f'  "{target}", "$1", "{source}", "(.*)")' for target, source in mig_renames)
        + "\n"
    )
    rules: list[dict[str, Any]] = [
        {"record": "uuid:dcgm_exporter_labels:identity", "expr": labels},
        {"record": "uuid:dcgm_exporter_labels:info", "expr": _sole_holder("uuid", 'mig_uuid=""')},
        {"record": "mig_uuid:dcgm_exporter_labels:identity", "expr": mig_labels},
        {
            "record": "mig_uuid:dcgm_exporter_labels:info",
            "expr": _sole_holder("mig_uuid", 'mig_uuid!=""'),
        },
    ]
    rules += [
        {
            "record": "digit:gpu_decimal_digit:catalogue",
            "expr": _lookup("digit", [(str(digit), digit) for digit in range(10)]) + "\n",
        },
        {
            "record": "reason:gpu_clock_event_bit:catalogue",
            # The exporter's reason labels and their NVML bits: the bit mask dcgm-exporter's
            # DCGM_FI_DEV_CLOCKS_EVENT_REASONS reports is their sum.
            "expr": _lookup("reason", CLOCK_EVENT_REASONS) + "\n",
        },
    ]
    # One selector of every reason series (8 a GPU) and one join on the reason with its bit,
    # instead of a selector, a product and an `or` per reason.
    clock_mask = (
        "sum by (uuid) (\n"
        "      max by (uuid, reason) (gpu_clock_event_reason_active)\n"
        "        * on (reason) group_left ()\n"
        "      reason:gpu_clock_event_bit:catalogue\n"
        "    )"
    )
    # The latest XID's series, its code split into one label per digit ("0" where the code is
    # shorter), each digit joined with its value in the lookup and scaled by its place.
    latest = (
        "max by (uuid, xid) (gpu_xid_last_seen_timestamp_seconds)\n"
        "  == on (uuid) group_left ()\n"
        "max by (uuid) (gpu_xid_last_seen_timestamp_seconds)"
    )
    for label, _place, regex in XID_DIGITS:
        latest = (
            f'label_replace(label_replace({latest}, "{label}", "0", "", ""),'
            f' "{label}", "$1", "xid", "{regex}")'
        )
    digit_terms = "".join(
        f"\n      + on ({label}) group_left ()\n"
        f'    {place} * label_replace(digit:gpu_decimal_digit:catalogue, "{label}", "$1", "digit", "(.*)")'
        for label, place, _regex in XID_DIGITS
    )
    latest_xid = (
        f"(\n      {latest}\n    ) * 0{digit_terms}\n"
        "    or on (uuid)\n"
        "    max by (uuid) (uuid:dcgm_exporter_labels:identity) * 0"
    )
    fields: tuple[tuple[str, str], ...] = (
        ("DCGM_FI_DEV_GPU_UTIL", _plain("gpu_utilization_ratio", scale=" * 100")),
        ("DCGM_FI_DEV_MEM_COPY_UTIL", _plain("gpu_memory_utilization_ratio", scale=" * 100")),
        ("DCGM_FI_DEV_FB_USED", _plain("gpu_memory_used_bytes", scale=f" / {MIB}")),
        (
            "DCGM_FI_DEV_FB_FREE",
            f"(max by (uuid) (gpu_memory_total_bytes) - max by (uuid) (gpu_memory_used_bytes)) / {MIB}",
        ),
        ("DCGM_FI_DEV_FB_TOTAL", _plain("gpu_memory_total_bytes", scale=f" / {MIB}")),
        ("DCGM_FI_DEV_GPU_TEMP", _plain("gpu_temperature_celsius")),
        ("DCGM_FI_DEV_POWER_USAGE", _plain("gpu_power_usage_watts")),
        ("DCGM_FI_DEV_POWER_MGMT_LIMIT", _plain("gpu_power_limit_watts")),
        (
            "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
            _plain("gpu_energy_consumed_joules_total", scale=" * 1000"),
        ),
        ("DCGM_FI_DEV_SM_CLOCK", _plain("gpu_clock_hertz", '{clock="sm"}', " / 1e6")),
        ("DCGM_FI_DEV_MEM_CLOCK", _plain("gpu_clock_hertz", '{clock="memory"}', " / 1e6")),
        ("DCGM_FI_DEV_CLOCKS_EVENT_REASONS", clock_mask),
        ("DCGM_FI_DEV_XID_ERRORS", latest_xid),
        ("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", _plain("gpu_ecc_errors_total", '{type="corrected"}')),
        ("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", _plain("gpu_ecc_errors_total", '{type="uncorrected"}')),
        ("DCGM_FI_DEV_ECC_SBE_AGG_TOTAL", _plain("gpu_ecc_errors_lifetime", '{type="corrected"}')),
        (
            "DCGM_FI_DEV_ECC_DBE_AGG_TOTAL",
            _plain("gpu_ecc_errors_lifetime", '{type="uncorrected"}'),
        ),
        (
            "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS",
            _plain("gpu_remapped_rows", '{type="correctable"}'),
        ),
        (
            "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
            _plain("gpu_remapped_rows", '{type="uncorrectable"}'),
        ),
        ("DCGM_FI_DEV_ROW_REMAP_PENDING", _plain("gpu_row_remap_pending")),
        ("DCGM_FI_DEV_ROW_REMAP_FAILURE", _plain("gpu_row_remap_failure")),
    )
    fields += (
        ("DCGM_FI_DEV_MEMORY_TEMP", _plain("gpu_memory_temperature_celsius")),
        ("DCGM_FI_DEV_FB_RESERVED", _plain("gpu_memory_reserved_bytes", scale=f" / {MIB}")),
        ("DCGM_FI_DEV_ENC_UTIL", _plain("gpu_encoder_utilization_ratio", scale=" * 100")),
        ("DCGM_FI_DEV_DEC_UTIL", _plain("gpu_decoder_utilization_ratio", scale=" * 100")),
        # NVML's PCIe throughput (what dcgm reads for these) is in KB/s; ours is bytes/s.
        (
            "DCGM_FI_DEV_PCIE_TX_THROUGHPUT",
            _plain("gpu_pcie_throughput_bytes_per_second", '{direction="transmit"}', f" / {KIB}"),
        ),
        (
            "DCGM_FI_DEV_PCIE_RX_THROUGHPUT",
            _plain("gpu_pcie_throughput_bytes_per_second", '{direction="receive"}', f" / {KIB}"),
        ),
        ("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", _plain("gpu_pcie_replay_errors_total")),
        # dcgm's counter of NVLink data over all links, both directions, in KiB.
        (
            "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL",
            f"sum by (uuid) (max by (uuid, direction) (gpu_nvlink_data_bytes_total)) / {KIB}",
        ),
        # The fraction of time a kernel ran, as the graphics engine's activity (0-1): GPM has no
        # graphics-engine metric, and NVML's utilisation is the same condition over its sample.
        (
            "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
            "max by (uuid) (rate(gpu_busy_seconds_total[2m]))",
        ),
    )
    fields += tuple(
        (record, _plain("gpu_violation_seconds_total", f'{{reason="{reason}"}}', " * 1e6"))
        for record, reason in VIOLATION_FIELDS
    )
    rules += [_dcgm(record, per_uuid) for record, per_uuid in fields]
    rules += [_dcgm_prof(record, metric) for record, metric in PROF_FIELDS]
    # dcgm-exporter's older name for the same mask: a copy of the recorded series, not a
    # second round of the joins.
    rules.append(
        {"record": "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", "expr": "DCGM_FI_DEV_CLOCKS_EVENT_REASONS"}
    )
    return rules


DCGM_HEADER = f"""
Generated by alerts/generate.py: do not edit (tests/artifacts checks it is current).

Our metrics under dcgm-exporter's names, units and labels, so dashboards and alerts written
for dcgm-exporter keep working. Labels: {", ".join(DCGM_LABELS[:7])},
{", ".join(DCGM_LABELS[7:])}; on MIG instances
GPU_I_ID and GPU_I_PROFILE too. Only this file breaks the
level:metric:operations naming, on purpose. Units as dcgm-exporter's: utilisation in percent,
memory in MiB, energy in millijoules, clocks in MHz, temperature in C, power in W, violations
in microseconds, DCGM_FI_PROF_* ratios 0-1 and bytes per second.

Differences from dcgm-exporter (docs/alerts.md has the full list):
- namespace/pod/container are set only on a GPU or MIG instance held by exactly one container;
  dcgm-exporter copies a shared GPU's values to every pod, which double-counts sums by
  namespace. MIG instances are split out in the DCGM_FI_PROF_* fields only.
- DCGM_FI_PROF_* come from GPM (Hopper and newer); GR_ENGINE_ACTIVE is the busy rate.
- DCGM_FI_DEV_XID_ERRORS keeps dcgm's "last XID code seen" meaning (0: none since the exporter
  started), computed from gpu_xid_last_seen_timestamp_seconds; like dcgm's it never resets, so
  alert on increase(gpu_xid_errors_total[...]) instead.
- DCGM_FI_DEV_GPU_UTIL is NVML's instantaneous utilisation, as dcgm's is; for utilisation that
  does not alias with the scrape interval use rate(gpu_busy_seconds_total[5m]).
"""


def render() -> dict[Path, str]:
    """Every generated file and its text."""
    return {
        CATALOGUE_FILE: _dump(
            CATALOGUE_HEADER,
            # Once a minute: the facts change only with gpucatalog, the devices only when a GPU
            # comes or goes, and every reader (GpuOverheating, gpu-allocations, dashboards) looks
            # back further than that (Prometheus' 5-minute lookback).
            [{"name": "gpu-catalogue", "interval": "1m", "rules": catalogue_rules()}],
        ),
        DCGM_FILE: _dump(
            DCGM_HEADER,
            # Once a minute: at 8,000 GPUs one round of these joins costs Prometheus' engine about
            # 5 s (docs/benchmarks.md, bench/rule_costs.py), a third of a 15 s interval.
            [{"name": "dcgm-exporter-compat", "interval": "1m", "rules": dcgm_rules()}],
        ),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    stale = []
    for path, text in render().items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(path.name)
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(HERE.parent)}")
    if stale:
        print(
            f"stale: {', '.join(stale)}; run .venv/bin/python alerts/generate.py", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
