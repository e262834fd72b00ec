"""The pytest plugin: fixtures around `cvnotify simulate`.

- `cvnotify_simulation`: a fresh simulation per test, stopped and removed after it.
- `cvnotify`: the same, and when the test's body has run, cvnotify judges what the test's code did
  from the simulation's journal; a finding fails the test, with the findings in its report.
  `cvnotify.expect_findings("notification-not-deleted")` makes exactly those findings the
  expected outcome instead (for a test of a consumer's mistake).

Options: `--cvnotify-bin PATH` (else $CVNOTIFY_BIN, else `cvnotify` on PATH). The marker
`@pytest.mark.cvnotify(duties=["fetch-backups"], encoding="base64")` sets what the judged client
is responsible for beyond consuming, and how the service encodes its messages.
"""

import pytest

from .simulation import Simulation


def pytest_addoption(parser):
    group = parser.getgroup("cvnotify")
    group.addoption(
        "--cvnotify-bin",
        action="store",
        default=None,
        help="the cvnotify binary (default: $CVNOTIFY_BIN, else cvnotify on PATH)",
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "cvnotify(duties=(), encoding='plain'): what the judged client must do beyond consuming "
        "(fetch-backups, configure), and how the simulated service encodes its messages",
    )


class JudgedSimulation(Simulation):
    """A simulation whose journal is judged when the test's body has run."""

    expected = None

    def expect_findings(self, *codes):
        """The test passes only if the judgement has exactly these finding codes (any order)."""
        self.expected = sorted(codes)


def _simulation(request, cls):
    marker = request.node.get_closest_marker("cvnotify")
    options = dict(marker.kwargs) if marker else {}
    sim = cls(
        binary=request.config.getoption("--cvnotify-bin"),
        duties=options.get("duties", ()),
        encoding=options.get("encoding", "plain"),
    )
    sim.start()
    return sim


@pytest.fixture
def cvnotify_simulation(request):
    """A running simulation (`pytest_cvnotify.Simulation`), not judged."""
    sim = _simulation(request, Simulation)
    try:
        yield sim
    finally:
        sim.close()


@pytest.fixture
def cvnotify(request):
    """A running simulation whose journal is judged when the test's body has run: a finding
    fails the test."""
    sim = _simulation(request, JudgedSimulation)
    try:
        yield sim
    finally:
        sim.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    sim = getattr(item, "funcargs", {}).get("cvnotify")
    if isinstance(sim, JudgedSimulation):
        judgement = sim.judge()
        codes = sorted(judgement.codes())
        if sim.expected is not None:
            if codes != sim.expected:
                pytest.fail(f"expected the findings {sim.expected}, got {codes}\n{judgement}", pytrace=False)
        elif not judgement.passed:
            pytest.fail(str(judgement), pytrace=False)
    return result
