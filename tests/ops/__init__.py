"""Property tests of every op in tinygrad_attn.functions, one module per ops module.

Helpers shared by the modules live here.
"""
import numpy as np
from hypothesis import settings


def examples(fraction):
    """Settings running `fraction` of the active profile's max_examples (at least 3): for
    the costly second-order checks. Scales with the profile (dev runs 10x)."""
    return settings(max_examples=max(3, int(settings.default.max_examples * fraction)))


def assert_same(got, expected, rtol=1e-12, atol=1e-12):
    """A Variable's (or array's) values and shape equal `expected`'s."""
    got = getattr(got, "data", got)
    expected = np.asarray(expected)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)
