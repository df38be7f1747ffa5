"""The shared stack for integration tests: ``from tests.stack_fixtures import history_stack``.

``history_stack`` is a :class:`devstack.stack.Stack` on ``simulator/fleets/test-small.yaml``:
7 days of history at one-minute steps ending at the current minute, the real exporter and
cluster-series processes, the real Prometheus scraping them every 2 s, and the analytics service
(2 gunicorn workers) with an admin key. It has been scraped once when tests get it.

pytest makes one instance of a session fixture per module that imports it; every instance here
hands out the same running stack (:func:`shared_stack`: started on first use, stopped at the end
of the session), so importing it into many modules costs one start.

**Two metrics backends.** A test (or module, through ``pytestmark``) marked
``@pytest.mark.metrics_backends`` runs once on each backend TEST_METRICS_BACKENDS names
(:func:`selected_backends`; both by default) through ``history_stack`` (and tests/cost's
``cost_stack``): the same fleet, history, exporters and analytics service, with a single-node
VictoriaMetrics and vmalert in Prometheus' place (:mod:`devstack.victoriametrics`). Unmarked
tests get Prometheus. pytest groups the tests of each backend (session-scoped parameters), and
:func:`release_stacks` stops the VictoriaMetrics stacks once no test left needs them. Both
backends share one history cache, so the second stack imports the blocks the first one
backfilled.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from devstack.stack import BACKENDS, Stack

ROOT = Path(__file__).resolve().parent.parent
HISTORY_FLEET = ROOT / "simulator" / "fleets" / "test-small.yaml"
HISTORY_DAYS = 7
SCRAPE_INTERVAL_S = 2


def make_stack(
    base: Path,
    fleet: Path,
    *,
    days: float,
    analytics: bool,
    end: float | None = None,
    step: int = 60,
    interval_s: int = SCRAPE_INTERVAL_S,
    backend: str = "prometheus",
    cache_dir: Path | None = None,
    mig_manager: bool = False,
) -> Stack:
    """A Stack as the tests run it: ``days`` of history at ``step`` ending at ``end`` (now),
    Prometheus scraping and evaluating rules every ``interval_s``, and its working directory
    and history cache of its own under ``base`` (or ``cache_dir``), on the metrics ``backend``;
    ``mig_manager``: MIG layouts applied by simulated mig-managers, as in the demo. Not
    started."""
    return Stack(
        fleet,
        days=days,
        step=step,
        end=time.time() if end is None else end,
        scrape_interval=f"{interval_s}s",
        evaluation_interval=f"{interval_s}s",
        analytics=analytics,
        workdir=base / "stack",
        cache_dir=cache_dir or base / "cache",
        backend=backend,
        # No forecasts fitted in the background (seconds of CPU per worker): the forecast tests
        # time their own requests; tests/forecast/test_warmup.py covers the warm-up.
        analytics_env={"GPU_ANALYTICS_FORECAST_WARMUP": "false"},
        mig_manager=mig_manager,
    )


MARKER = "metrics_backends"
# Stack fixtures a metrics_backends test may reach; each takes the backend as its parameter.
STACK_FIXTURES = ("history_stack", "cost_stack")

_shared: dict[str, Stack] = {}
_failure: dict[str, BaseException] = {}


def shared_stack(config: pytest.Config, key: str, make: Callable[[], Stack]) -> Stack:
    """The running stack cached under ``key`` for the whole session, started by ``make()`` on
    first use and stopped when the session ends (not when a fixture instance is torn down:
    pytest tears a session fixture down whenever the next test asks for another parameter, and
    a stack restarted for each switch of backend would cost a start each time). A start that
    failed fails every later user at once."""
    if key in _failure:
        raise _failure[key]
    stack = _shared.get(key)
    if stack is None:
        stack = make()
        try:
            stack.start()
        except BaseException as exc:
            _failure[key] = exc
            raise
        _shared[key] = stack
        config.add_cleanup(stack.stop)
    return stack


def history_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The history cache every test stack of this session shares (both backends read the same
    backfilled blocks)."""
    cache = tmp_path_factory.getbasetemp() / "history-cache"
    cache.mkdir(exist_ok=True)
    return cache


def backend_of(request: pytest.FixtureRequest) -> str:
    """The metrics backend a stack fixture was asked for (Prometheus unless parametrised)."""
    backend = str(getattr(request, "param", "prometheus"))
    assert backend in BACKENDS, backend
    return backend


@pytest.fixture(scope="session")
def history_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Stack:
    """The running stack; see the module docstring. Read-only: do not stop or reconfigure it."""
    backend = backend_of(request)

    def make() -> Stack:
        return make_stack(
            tmp_path_factory.mktemp(f"history-stack-{backend}"),
            HISTORY_FLEET,
            days=HISTORY_DAYS,
            analytics=True,
            backend=backend,
            cache_dir=history_cache(tmp_path_factory),
        )

    return shared_stack(request.config, f"history-{backend}", make)


def selected_backends() -> tuple[str, ...]:
    """The metrics backends this run's metrics_backends tests run on: TEST_METRICS_BACKENDS
    (comma-separated), default every backend (`make test` holds the truth tests to Prometheus
    and to VictoriaMetrics, issue 16); ``TEST_METRICS_BACKENDS=prometheus`` leaves
    VictoriaMetrics out for a quicker run."""
    names = os.environ.get("TEST_METRICS_BACKENDS", ",".join(BACKENDS)).split(",")
    chosen = tuple(name.strip() for name in names if name.strip())
    unknown = set(chosen) - set(BACKENDS)
    if unknown or not chosen:
        raise pytest.UsageError(f"TEST_METRICS_BACKENDS: one or more of {', '.join(BACKENDS)}")
    return chosen


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*backends): run on each metrics backend (default: {' and '.join(BACKENDS)}) "
        f"through the {' or '.join(STACK_FIXTURES)} fixture",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is None:
        return
    backends = [b for b in marker.args or BACKENDS if b in selected_backends()]
    for name in STACK_FIXTURES:
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, backends, indirect=True, ids=list(backends), scope="session")


# Stacks on a backend other than Prometheus are stopped after the last test of the run that
# uses them (each scrapes and evaluates rules every few seconds while the rest of the run goes
# on); tests/conftest.py calls this after each test. Stack.stop is idempotent, so the fixtures'
# own teardown at the end of the session is harmless.
_last_users: dict[tuple[str, str], str] = {}


def release_stacks(item: pytest.Item) -> None:
    if not _last_users:
        for each in item.session.items:
            params = getattr(getattr(each, "callspec", None), "params", {})
            for name in STACK_FIXTURES:
                if params.get(name, "prometheus") != "prometheus":
                    _last_users[(name, params[name])] = each.nodeid
    params = getattr(getattr(item, "callspec", None), "params", {})
    funcargs = getattr(item, "funcargs", {})
    for name in STACK_FIXTURES:
        backend = params.get(name, "prometheus")
        if backend == "prometheus" or _last_users.get((name, backend)) != item.nodeid:
            continue
        stack = funcargs.get(name)
        stack = getattr(stack, "stack", stack)  # tests/cost's CostStack wraps its Stack
        if isinstance(stack, Stack):
            stack.stop()
