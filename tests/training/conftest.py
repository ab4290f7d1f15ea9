"""Small data for the training tests: a toy task any of the models learns in seconds."""
import numpy as np
import pytest


def toy_task(n=320, Te=6, Td=4, V=9, seed=0):
    """Inputs of Te digits; the answer is the start token 1 then the first Td digits
    reversed (ids 2..V-1 are digits). -> (x, t)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(2, V, size=(n, Te))
    t = np.concatenate([np.ones((n, 1), dtype=x.dtype), x[:, :Td][:, ::-1]], axis=1)
    return x, t


@pytest.fixture
def toy():
    return toy_task()
