"""pytest plugin of tinygrad_attn (entry point ``pytest11``: loaded wherever it is installed).

* Hypothesis profiles ``tga-ci`` and ``tga-dev``, chosen with ``--tga-profile ci|dev``, or
  the environment variable ``TGA_HYPOTHESIS_PROFILE``, or the ini option ``tga_profile``
  (first found wins). ``ci`` is deterministic (the same examples every run, no example
  database), ``dev`` runs ten times the examples, freshly random, with a local database so
  a failure found once is replayed first. With none of the three the plugin leaves
  hypothesis' settings alone (and so does it when ``--hypothesis-profile`` is given).
* The fixture ``tga_rng``: a NumPy Generator seeded from ``--tga-seed`` (default 0) and the
  test's id, so every test gets its own reproducible stream; a failing test's report shows
  the seed.

Importing this module needs neither hypothesis nor anything beyond pytest: without
hypothesis the profile options do nothing (and say so when asked for).
"""
from __future__ import annotations

import os
import zlib

import pytest

CI_EXAMPLES = 50
PROFILES = ("ci", "dev")
ENV = "TGA_HYPOTHESIS_PROFILE"


def register_profiles():
    """Register ``tga-ci`` and ``tga-dev`` with hypothesis; False if it is not installed."""
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:
        return False
    settings.register_profile(
        "tga-ci", max_examples=CI_EXAMPLES, derandomize=True, deadline=None, print_blob=True,
        database=None, suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile(
        "tga-dev", max_examples=10 * CI_EXAMPLES, derandomize=False, deadline=None,
        print_blob=True, suppress_health_check=[HealthCheck.too_slow])
    return True


def pytest_addoption(parser):
    group = parser.getgroup("tinygrad_attn")
    group.addoption("--tga-profile", choices=PROFILES, default=None,
                    help=f"hypothesis profile for property tests: ci (deterministic, "
                         f"{CI_EXAMPLES} examples) or dev (10x, random); default from "
                         f"${ENV} or the ini option tga_profile")
    group.addoption("--tga-seed", type=int, default=0,
                    help="base seed of the tga_rng fixture (default 0)")
    parser.addini("tga_profile", "hypothesis profile (ci or dev) when neither --tga-profile "
                  f"nor ${ENV} is given", default="")


def chosen_profile(config):
    """(profile name or None, where it came from)."""
    opt = config.getoption("tga_profile", None)
    if opt:
        return opt, "--tga-profile"
    env = os.environ.get(ENV, "").strip()
    if env:
        return env, f"${ENV}"
    ini = (config.getini("tga_profile") or "").strip()
    if ini:
        return ini, "ini option tga_profile"
    return None, None


def pytest_configure(config):
    name, source = chosen_profile(config)
    config._tga_profile = None
    if name is None:
        return
    if name not in PROFILES:
        raise pytest.UsageError(f"{source}: unknown hypothesis profile {name!r}; choose one "
                                f"of {', '.join(PROFILES)}")
    if source != "--tga-profile" and config.getoption("hypothesis_profile", None):
        return  # an explicit --hypothesis-profile beats our defaults
    if not register_profiles():
        config.issue_config_time_warning(pytest.PytestConfigWarning(
            f"{source} asks for the {name} hypothesis profile, but hypothesis is not "
            "installed (pip install tinygrad_attn[test])"), stacklevel=2)
        return
    from hypothesis import settings
    settings.load_profile(f"tga-{name}")
    config._tga_profile = name


def pytest_report_header(config):
    name = getattr(config, "_tga_profile", None)
    seed = config.getoption("tga_seed", 0)
    if name:
        return f"tinygrad_attn: hypothesis profile tga-{name}, tga_rng base seed {seed}"
    return None


def seed_for(nodeid, base=0):
    """The tga_rng seed of a test: stable across runs and machines."""
    return [int(base), zlib.crc32(nodeid.encode("utf-8"))]


@pytest.fixture
def tga_rng(request):
    """A numpy.random.Generator seeded from --tga-seed and this test's id."""
    import numpy as np
    seed = seed_for(request.node.nodeid, request.config.getoption("tga_seed", 0))
    request.node._tga_seed = seed
    return np.random.default_rng(seed)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    seed = getattr(item, "_tga_seed", None)
    if seed is not None and report.failed:
        report.sections.append(("tga_rng", f"numpy.random.default_rng({seed}) "
                                           f"(--tga-seed {seed[0]})"))
