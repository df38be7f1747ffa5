"""What the rule files of alerts/ cost Prometheus to evaluate, per group, at several fleet sizes.

A real Prometheus loads the rule files and scrapes one target per simulated node, as it scrapes
a DaemonSet. The nodes' expositions are the production exporter's: eight nodes of
bench/analytics_queries.py's ``bench512`` mix (A100 80GB with two MIG GPUs, H100, L4,
RTX 4090; inference, training, notebook and batch pods) are run once through
:mod:`simulator.multiexporter` and scraped, and every node of a larger fleet serves the
exposition of its kind with its own node name, GPU and MIG uuids and pod names. Counters move
(busy seconds at 60% or 2%, energy at 300 W), the exporter's stage timestamps follow the clock,
and one GPU in eight carries an XID; a template server answers every target from memory, so
the Python side costs Prometheus nothing of its two cores but the scrape itself. With
``--cluster-series`` the fleet's kube-state-metrics and cAdvisor series are scraped as well
(:mod:`simulator.cluster`), for rules over them.

Each rule set (``--rules``, directories of rule files, measured in turn on the same fleet and
Prometheus, so that a before/after comparison shares its conditions) is loaded with every group
at one ``--eval-interval``, so that groups configured hourly also evaluate a few times in
minutes. Per group it reports

* ``evaluation wall``: the median of Prometheus' own ``evaluationTime`` of ``/api/v1/rules``
  (``prometheus_rule_group_last_duration_seconds``) over ``--evaluations`` evaluations after
  the first. On a shared machine this includes waiting for a CPU (Prometheus runs at nice -10
  here, when allowed, to keep that small);
* ``query``: the sum over its rules of the least engine time (``execTotalTime``) of
  ``--replays`` evaluations of each rule's expression through the query API, the rule's own
  cost without those waits;
* ``per 15 s``: both scaled by the group's configured interval (``interval:`` of its file, else
  the global 15 s): its cost per 15 s in production.

With ``--as-configured`` every group keeps its own interval instead, and Prometheus' CPU time
for the rules per 15 s is what production would spend (groups evaluated less often than once
a minute are not waited for; their evaluation times may then be missing).

Also: the totals of the default groups and of the opt-in ones (files the Helm chart ships only
when switched on: ``OPT_IN_FILES``), the slowest rules, and Prometheus' CPU time per 15 s while
scraping alone and with the rules (all at ``--eval-interval``; the difference is the rules'),
at the end each group's cost per 15 s at every size. Range selectors reach back only as far as
the run has data (minutes): rules over long windows cost more on a server that has them.

    .venv/bin/python bench/rule_costs.py [--gpus 1000,2000,4000,8000] [--rules DIR[,DIR]]
        [--eval-interval 40] [--evaluations 3] [--replays 3] [--cluster-series]
        [--json out.json] [--smoke]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import options  # bench/options.py
import psutil
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from analytics_queries import bench_fleet  # noqa: E402

from devstack.prometheus import (  # noqa: E402
    PrometheusServer,
    ScrapeJob,
    duration_seconds,
    query,
)

EXPORTER_JOB = "gpu-exporter"
# Rule files the chart leaves out unless switched on (monitoring.prometheusRule.files.dcgm-compat).
OPT_IN_FILES = frozenset({"dcgm-compat.yml"})
GLOBAL_INTERVAL_S = 15.0
TEMPLATE_NODES = 8  # one node of each kind of the bench512 mix
BUSY_RATE, IDLE_RATE = 0.6, 0.02
POWER_W = 300.0
SMOKE: dict[str, Any] = {
    "gpus": "16",
    "scrape_interval": 2,
    "eval_interval": 3,
    "evaluations": 2,
    "baseline_rounds": 2,
    "replays": 2,
    "cluster_series": True,
}
_UUID = re.compile(r"\b(GPU|MIG)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?P<labels>\{.*\})? (?P<value>\S+)$")


# -- the fleet's expositions -------------------------------------------------------------------


def capture_templates(workdir: Path) -> dict[str, str]:
    """One exposition per kind of node: the 8-node bench512 fleet run through the exporter."""
    fleet = bench_fleet(workdir / "templates.yaml", nodes=TEMPLATE_NODES)
    command = [
        *(sys.executable, "-m", "simulator.multiexporter"),
        *("--fleet", str(fleet), "--workdir", str(workdir / "templates")),
        *("--", "--log-level", "WARNING"),
    ]
    with announced(command) as announcement:
        targets = json.loads(Path(announcement["targets"]).read_text())
        texts = {}
        for node, target in sorted(targets.items()):
            with urllib.request.urlopen(f"http://{target}/metrics", timeout=30) as response:
                texts[node] = response.read().decode()
        return texts


@contextlib.contextmanager
def announced(command: list[str]) -> Iterator[dict[str, Any]]:
    """A simulator process that prints one JSON line when it serves: yields that line, parsed;
    SIGTERM afterwards."""
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise SystemExit(f"{command[2]} exited before serving")
        yield dict(json.loads(line))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


@dataclass(frozen=True)
class Counter:
    """A sample whose value the server computes at each scrape: ``base + rate * t``."""

    prefix: str  # the line up to the value
    base: float
    rate: float
    clock: bool = False  # the value is the current time (a last-success timestamp)


def node_parts(template: str, template_node: str, node: str, number: int) -> list[str | Counter]:
    """``template`` as ``node`` (number ``number`` of the fleet): static text and counters."""
    uuids: dict[str, str] = {}

    def new_uuid(match: re.Match[str]) -> str:
        old = match.group(0)
        if old not in uuids:
            uuids[old] = f"{match.group(1)}-{uuid.uuid5(uuid.NAMESPACE_URL, f'{node}/{old}')}"
        return uuids[old]

    suffix = template_node.rsplit("-", 1)[1]
    text = template.replace(f'"{template_node}"', f'"{node}"')
    text = re.sub(rf'pod="([a-z-]+)-{suffix}((?:-\d+)?)"', rf'pod="\g<1>-{number:02d}\g<2>"', text)
    text = _UUID.sub(new_uuid, text)
    lines = text.splitlines()
    xid_uuid = next(
        (m.group(0) for line in lines if 'gpu="2"' in line and (m := _UUID.search(line))), None
    )
    if xid_uuid and number % 8 == 0:
        device = f'gpu="2",node="{node}",uuid="{xid_uuid}"'
        lines += [
            f'gpu_xid_errors_total{{{device},xid="13"}} 1.0',
            f'gpu_xid_last_seen_timestamp_seconds{{{device},xid="13"}} {time.time() - 3600:.3f}',
        ]
    parts: list[str | Counter] = []
    static: list[str] = []
    for line in lines:
        sample = _SAMPLE.match(line)
        name = sample.group("name") if sample else ""
        counter = None
        if sample and name in {"gpu_busy_seconds_total", "gpu_energy_consumed_joules_total"}:
            idle = int(uuid.uuid5(uuid.NAMESPACE_URL, line).hex, 16) % 4 == 0
            rate = POWER_W if name.startswith("gpu_energy") else IDLE_RATE if idle else BUSY_RATE
            counter = Counter(line[: sample.start("value")], float(sample.group("value")), rate)
        elif sample and name == "gpu_exporter_stage_last_success_timestamp_seconds":
            counter = Counter(line[: sample.start("value")], 0.0, 0.0, clock=True)
        if counter is None:
            static.append(line + "\n")
            continue
        parts.append("".join(static))
        static = []
        parts.append(counter)
    parts.append("".join(static))
    return parts


def render_parts(parts: list[str | Counter], started: float, now: float) -> bytes:
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif part.clock:
            out.append(f"{part.prefix}{now:.3f}\n")
        else:
            out.append(f"{part.prefix}{part.base + part.rate * (now - started):.3f}\n")
    return "".join(out).encode()


class FleetServer(ThreadingHTTPServer):
    """``/nodes/<node>``: that node's exposition, rendered from memory at each scrape."""

    daemon_threads = True

    def __init__(self, nodes: dict[str, list[str | Counter]]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.nodes = nodes
        self.started = time.time()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FleetServer

    def do_GET(self) -> None:
        parts = self.server.nodes.get(self.path.removeprefix("/nodes/"))
        if parts is None:
            self.send_error(404)
            return
        body = render_parts(parts, self.server.started, time.time())
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def fleet_server(templates: dict[str, str], nodes: int) -> Iterator[FleetServer]:
    kinds = sorted(templates)
    expositions = {}
    for number in range(1, nodes + 1):
        template_node = kinds[(number - 1) % len(kinds)]
        node = f"bench-node-{number:02d}"
        expositions[node] = node_parts(templates[template_node], template_node, node, number)
    server = FleetServer(expositions)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def cluster_series(workdir: Path, nodes: int) -> Iterator[str]:
    """simulator.cluster on the same fleet (bench512 with ``nodes`` nodes); yields host:port."""
    fleet = bench_fleet(workdir / f"fleet-{nodes}.yaml", nodes=nodes)
    command = [
        *(sys.executable, "-m", "simulator.cluster"),
        *("--fleet", str(fleet), "--listen", "127.0.0.1:0"),
    ]
    with announced(command) as announcement:
        yield str(announcement["url"]).removeprefix("http://")


# -- rules ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    name: str
    file: str
    interval_s: float

    @property
    def opt_in(self) -> bool:
        return self.file in OPT_IN_FILES


def rule_copies(
    rules: Path, out: Path, eval_interval_s: float | None
) -> tuple[list[Path], list[Group]]:
    """Every rule file of ``rules`` with each group set to ``eval_interval_s`` (None: as it is);
    the groups as configured."""
    out.mkdir(parents=True, exist_ok=True)
    paths, groups = [], []
    for path in sorted(rules.glob("*.yml")):
        document = yaml.safe_load(path.read_text())
        for group in document["groups"]:
            configured = (
                duration_seconds(group["interval"]) if "interval" in group else GLOBAL_INTERVAL_S
            )
            groups.append(Group(group["name"], path.name, configured))
            if eval_interval_s is not None:
                group["interval"] = f"{eval_interval_s:g}s"
        copy = out / path.name
        copy.write_text(yaml.safe_dump(document, sort_keys=False))
        paths.append(copy)
    return paths, groups


def rule_groups(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(url + "/api/v1/rules", timeout=120) as response:
        groups: list[dict[str, Any]] = json.loads(response.read())["data"]["groups"]
    return groups


def _scalar(url: str, promql: str) -> float:
    result = query(url, promql, timeout=120)["result"]
    return float(result[0]["value"][1]) if result else 0.0


def own_metric(url: str, name: str) -> float:
    """A metric of Prometheus' own /metrics (it does not scrape itself here)."""
    with urllib.request.urlopen(url + "/metrics", timeout=120) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
    return 0.0


def prioritise(process: psutil.Process) -> None:
    """Ahead of other work on a shared machine, so that its rule groups' wall times are its
    own (needs root; without it the figures include waiting for a CPU)."""
    with contextlib.suppress(psutil.Error):
        process.nice(-10)


def cpu_over(process: psutil.Process, seconds: float) -> tuple[float, float]:
    """CPU seconds (user + system) ``process`` spends in the next ``seconds``, and the wall time."""
    cpu, wall = sum(process.cpu_times()[:2]), time.monotonic()
    time.sleep(seconds)
    return sum(process.cpu_times()[:2]) - cpu, time.monotonic() - wall


@dataclass
class Window:
    """What the rules did between every group's first evaluation and the end of the count."""

    cpu_s: float
    wall_s: float
    evaluations: dict[str, list[float]]  # group -> wall time of each evaluation in the window
    rules: dict[str, list[float]]  # group/rule -> wall time of each evaluation


def evaluate(
    url: str, process: psutil.Process, configured: list[Group], args: argparse.Namespace
) -> Window:
    """Every group's ``--evaluations`` evaluations after its first (which creates its series),
    with Prometheus' CPU time meanwhile."""
    # As configured, groups evaluated less often than once a minute are not waited for.
    wanted = {
        group.name for group in configured if not args.as_configured or group.interval_s <= 60
    }
    seen: dict[str, set[str]] = {}
    window: Window | None = None
    cpu_start = wall_start = 0.0
    longest = max([args.eval_interval] + [g.interval_s for g in configured if g.name in wanted])
    deadline = time.monotonic() + longest * (args.evaluations + 3) + 120
    while time.monotonic() < deadline:
        for group in rule_groups(url):
            stamps = seen.setdefault(group["name"], set())
            stamp = group["lastEvaluation"]
            if stamp.startswith("0001") or stamp in stamps:
                continue
            stamps.add(stamp)
            if window is None:
                continue
            window.evaluations.setdefault(group["name"], []).append(float(group["evaluationTime"]))
            for rule in group["rules"]:
                key = f"{group['name']}/{rule['name']}"
                window.rules.setdefault(key, []).append(float(rule["evaluationTime"]))
        if window is None and all(seen.get(name) for name in wanted):
            window = Window(0.0, 0.0, {}, {})
            cpu_start, wall_start = sum(process.cpu_times()[:2]), time.monotonic()
        elif window is not None and all(
            len(window.evaluations.get(name, [])) >= args.evaluations for name in wanted
        ):
            break
        time.sleep(0.5)
    if window is None:
        raise SystemExit("the rule groups did not all evaluate")
    window.cpu_s = sum(process.cpu_times()[:2]) - cpu_start
    window.wall_s = time.monotonic() - wall_start
    return window


# -- one fleet size ------------------------------------------------------------------------------


def replay(url: str, expr: str, times: int) -> float:
    """The least time Prometheus' engine takes to evaluate ``expr`` now, of ``times`` tries: the
    rule's own cost, without the waits for a CPU that a busy machine adds to its wall time."""
    best = float("inf")
    body = urllib.parse.urlencode({"query": expr, "stats": "all"}).encode()
    for _ in range(times):
        with urllib.request.urlopen(url + "/api/v1/query", body, timeout=300) as response:
            data = json.loads(response.read())["data"]
        best = min(best, float(data["stats"]["timings"]["execTotalTime"]))
    return best


def measure_rules(
    args: argparse.Namespace,
    prometheus: PrometheusServer,
    process: psutil.Process,
    rules: Path,
    workdir: Path,
    scrape_rate: float,
) -> dict[str, Any]:
    """One rule set loaded into the running Prometheus: its groups' evaluations and replays."""
    rule_files, configured = rule_copies(
        rules, workdir, None if args.as_configured else args.eval_interval
    )
    prometheus.rule_files = tuple(rule_files)
    prometheus.reload()
    window = evaluate(prometheus.url, process, configured, args)
    rules_cpu_s = max(0.0, window.cpu_s - scrape_rate * window.wall_s)
    costs: dict[str, float] = {}  # group/rule -> replayed cost
    for group in rule_groups(prometheus.url):
        for rule in group["rules"]:
            key = f"{group['name']}/{rule['name']}"
            costs[key] = costs.get(key, 0.0) + replay(prometheus.url, rule["query"], args.replays)
    groups = {}
    for group in configured:
        times = window.evaluations.get(group.name, [])
        query_s = sum(cost for key, cost in costs.items() if key.startswith(group.name + "/"))
        groups[group.name] = {
            "file": group.file,
            "interval_s": group.interval_s,
            "evaluations": len(times),
            "wall_s": round(statistics.median(times), 4) if times else None,
            "query_s": round(query_s, 4),
            "per_15s": round(query_s * GLOBAL_INTERVAL_S / group.interval_s, 4),
            "wall_per_15s": round(
                statistics.median(times) * GLOBAL_INTERVAL_S / group.interval_s, 4
            )
            if times
            else None,
            "opt_in": group.opt_in,
        }
    slowest = sorted(((cost, key) for key, cost in costs.items()), reverse=True)[:8]
    return {
        "rules": _shown(rules),
        "as_configured": args.as_configured,
        "rules_cpu_s_per_15s_at_eval_interval": round(
            rules_cpu_s / window.wall_s * GLOBAL_INTERVAL_S, 3
        ),
        "groups": groups,
        "default_per_15s": round(sum(g["per_15s"] for g in groups.values() if not g["opt_in"]), 4),
        "opt_in_per_15s": round(sum(g["per_15s"] for g in groups.values() if g["opt_in"]), 4),
        "default_wall_per_15s": round(
            sum(g["wall_per_15s"] or 0 for g in groups.values() if not g["opt_in"]), 4
        ),
        "opt_in_wall_per_15s": round(
            sum(g["wall_per_15s"] or 0 for g in groups.values() if g["opt_in"]), 4
        ),
        "slowest_rules_s": {key: round(cost, 4) for cost, key in slowest},
    }


def _shown(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(ROOT))
    return str(path)


def measure(
    args: argparse.Namespace, templates: dict[str, str], gpus: int, workdir: Path
) -> dict[str, Any]:
    nodes = max(1, gpus // TEMPLATE_NODES)
    log(f"{nodes * TEMPLATE_NODES} GPUs ({nodes} nodes)")
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(fleet_server(templates, nodes))
        sd_file = workdir / "targets.json"
        workdir.mkdir(parents=True, exist_ok=True)
        sd_file.write_text(
            json.dumps(
                [
                    {
                        "targets": [server.target],
                        "labels": {"__metrics_path__": f"/nodes/{node}", "instance": node},
                    }
                    for node in server.nodes
                ]
            )
        )
        jobs = [ScrapeJob(EXPORTER_JOB, (), file_sd_files=(str(sd_file),))]
        if args.cluster_series:
            cluster = stack.enter_context(cluster_series(workdir, nodes))
            labels = {"instance": "simulated-cluster"}
            jobs += [
                ScrapeJob("kube-state-metrics", (cluster,), labels=labels),
                ScrapeJob("cadvisor", (cluster,), metrics_path="/metrics/cadvisor", labels=labels),
            ]
        prometheus = PrometheusServer(
            workdir / "prometheus", jobs, scrape_interval=f"{args.scrape_interval:g}s"
        )
        stack.enter_context(prometheus)
        assert prometheus.process is not None
        process = psutil.Process(prometheus.process.pid)
        prioritise(process)
        url = prometheus.url
        deadline = time.monotonic() + 600
        while _scalar(url, f'count(up{{job="{EXPORTER_JOB}"}} == 1)') < nodes:
            if time.monotonic() > deadline:
                raise SystemExit(f"not every one of {nodes} targets came up")
            time.sleep(1)
        # Two more scrapes, so that every rate has two samples once the rules come.
        time.sleep(2 * args.scrape_interval)
        scrape_cpu_s, scrape_wall_s = cpu_over(process, args.baseline_rounds * args.scrape_interval)
        scrape_rate = scrape_cpu_s / scrape_wall_s
        log(f"scraping alone: {scrape_rate * GLOBAL_INTERVAL_S:.3f} CPU-s per 15 s")
        rule_sets = []
        for index, rules in enumerate(args.rules):
            log(f"rules {_shown(rules)}")
            rule_sets.append(
                measure_rules(
                    args, prometheus, process, rules, workdir / f"rules-{index}", scrape_rate
                )
            )
        head_series = own_metric(url, "prometheus_tsdb_head_series")
        samples = _scalar(url, "sum(scrape_samples_scraped)")
    return {
        "gpus": nodes * TEMPLATE_NODES,
        "nodes": nodes,
        "head_series": int(head_series),
        "samples_per_round": int(samples),
        "scrape_cpu_s_per_15s": round(scrape_rate * GLOBAL_INTERVAL_S, 3),
        "rule_sets": rule_sets,
    }


def print_size(result: dict[str, Any]) -> None:
    print(
        f"{result['gpus']} GPUs ({result['nodes']} nodes): head series {result['head_series']}, "
        f"samples per scrape round {result['samples_per_round']}, "
        f"Prometheus CPU per 15 s scraping {result['scrape_cpu_s_per_15s']:.3f} s"
    )
    for rule_set in result["rule_sets"]:
        at = (
            "at their own intervals"
            if rule_set["as_configured"]
            else "every group at the bench's interval"
        )
        print(
            f" rules {rule_set['rules']}: Prometheus CPU per 15 s for the rules, {at}: "
            f"{rule_set['rules_cpu_s_per_15s_at_eval_interval']:.3f} s"
        )
        for name, group in rule_set["groups"].items():
            wall = "-" if group["wall_s"] is None else f"{group['wall_s']:.4f}"
            wall_15 = "-" if group["wall_per_15s"] is None else f"{group['wall_per_15s']:.4f}"
            print(
                f"  group {name:24s} {group['file']:22s} interval {group['interval_s']:6g} s  "
                f"evaluation wall {wall:>8s} s  query {group['query_s']:8.4f} s  "
                f"per 15 s: wall {wall_15:>8s} s, query {group['per_15s']:8.4f} s  "
                f"({group['evaluations']} evaluations)"
            )
        for kind in ("default", "opt_in"):
            print(
                f"  {kind.replace('_', '-')} groups per 15 s: "
                f"wall {rule_set[f'{kind}_wall_per_15s']:.4f} s, "
                f"query {rule_set[f'{kind}_per_15s']:.4f} s"
            )
        for name, seconds in rule_set["slowest_rules_s"].items():
            print(f"  slow rule {seconds:8.4f} s  {name}")
    sys.stdout.flush()


def print_growth(results: list[dict[str, Any]]) -> None:
    sizes = [result["gpus"] for result in results]
    for index, rule_set in enumerate(results[0]["rule_sets"]):
        print(
            f"cost per 15 s (s) of rules {rule_set['rules']} by GPUs: "
            + "  ".join(f"{size:>8d}" for size in sizes)
        )
        for name in rule_set["groups"]:
            row = "  ".join(
                f"{result['rule_sets'][index]['groups'][name]['per_15s']:8.4f}"
                for result in results
            )
            print(f"  {name:24s}   {row}")
        for key, label in (
            ("default_per_15s", "default total"),
            ("opt_in_per_15s", "opt-in total"),
        ):
            row = "  ".join(f"{result['rule_sets'][index][key]:8.4f}" for result in results)
            print(f"  {label:24s}   {row}")


def log(message: str) -> None:
    print(f"[rule_costs] {message}", file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--gpus", default="1000,2000,4000,8000", help="fleet sizes, GPUs")
    parser.add_argument(
        "--rules",
        type=lambda text: [Path(part) for part in text.split(",")],
        default=[ROOT / "alerts"],
        help="directories of rule files, comma-separated: each measured in turn on each fleet",
    )
    parser.add_argument("--scrape-interval", type=float, default=15)
    parser.add_argument("--eval-interval", type=float, default=40, help="every group's, here")
    parser.add_argument("--evaluations", type=int, default=3, help="rounds per group, median")
    parser.add_argument(
        "--baseline-rounds", type=int, default=3, help="scrape intervals measured without rules"
    )
    parser.add_argument("--replays", type=int, default=5, help="tries per rule, least time")
    parser.add_argument(
        "--as-configured",
        action="store_true",
        help="keep each group's own interval (Prometheus' CPU for the rules as in production; "
        "groups slower than once a minute are not waited for)",
    )
    parser.add_argument(
        "--cluster-series", action="store_true", help="scrape kube-state-metrics and cAdvisor too"
    )
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = options.parse(parser, SMOKE)
    # A SIGTERM stops the servers as a Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sizes = [int(size) for size in args.gpus.split(",")]
    print(f"cpus={os.cpu_count()} load={' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results = []
    with tempfile.TemporaryDirectory(prefix="rule-costs-") as tmp:
        templates = capture_templates(Path(tmp))
        for gpus in sizes:
            result = measure(args, templates, gpus, Path(tmp) / f"gpus-{gpus}")
            print_size(result)
            results.append(result)
    print_growth(results)
    print(f"load at the end={' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
