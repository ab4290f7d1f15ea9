"""Hypothesis profiles, chosen with the TGA_HYPOTHESIS_PROFILE environment variable.

ci  (default) deterministic: the same examples on every run, no example database.
dev           ten times the examples, freshly random each run (and a local database so a
              failure found once is replayed first next time).

    TGA_HYPOTHESIS_PROFILE=dev python -m pytest tests/ops
"""
import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

# the package is importable from a source checkout without installing it
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CI_EXAMPLES = 50

settings.register_profile(
    "ci", max_examples=CI_EXAMPLES, derandomize=True, deadline=None, print_blob=True,
    database=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "dev", max_examples=10 * CI_EXAMPLES, derandomize=False, deadline=None,
    print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("TGA_HYPOTHESIS_PROFILE", "ci"))
