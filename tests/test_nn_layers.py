"""The layers beyond the book's: activations, Identity, Flatten, BatchNorm1d/2d, and the
initialisers (nn.init) with the init choice of Linear and Embedding.

Every activation module is property-tested first and second order in float64 and float32
(`check_op`), and with BatchNorm equals PyTorch when torch is installed (skipped
otherwise): values, gradients, derivatives at the kinks, running statistics over several
batches, the evaluation output. Initialisers are checked by their statistics (bounds,
mean, standard deviation against the formula and against torch's own samples) and their
fans against torch's.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_attn.functions as F
from tinygrad_attn import Variable, grad, nn, no_grad
from tinygrad_attn.nn import init
from tinygrad_attn.testing import check_op, gradcheck, gradgradcheck
from tinygrad_attn.testing import strategies as tst

FEW = settings(max_examples=max(2, settings.default.max_examples // 10))

ACTIVATIONS = {    # module -> (torch module factory, input strategy)
    "ReLU": (nn.ReLU(), lambda t: t.nn.ReLU()),
    "Tanh": (nn.Tanh(), lambda t: t.nn.Tanh()),
    "Sigmoid": (nn.Sigmoid(), lambda t: t.nn.Sigmoid()),
    "GELU": (nn.GELU(), lambda t: t.nn.GELU(approximate="tanh")),
    "SiLU": (nn.SiLU(), lambda t: t.nn.SiLU()),
    "Mish": (nn.Mish(), lambda t: t.nn.Mish()),
    "LeakyReLU": (nn.LeakyReLU(0.2), lambda t: t.nn.LeakyReLU(0.2)),
    "ELU": (nn.ELU(0.7), lambda t: t.nn.ELU(0.7)),
    "Softplus": (nn.Softplus(), lambda t: t.nn.Softplus()),
    "Softplus(beta=2)": (nn.Softplus(beta=2.0), lambda t: t.nn.Softplus(beta=2.0)),
    "Softmax": (nn.Softmax(0), lambda t: t.nn.Softmax(dim=0)),
    "LogSoftmax": (nn.LogSoftmax(dim=-1), lambda t: t.nn.LogSoftmax(dim=-1)),
}
KINKED = {"ReLU", "LeakyReLU", "ELU"}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_first_and_second_order_in_both_dtypes(name):
    module, _ = ACTIVATIONS[name]
    kinks = (0.0,) if name in KINKED else ()     # drawn often, exactly: checked at the kink
    strategy = tst.floats_arrays(min_value=-4, max_value=4, min_dims=1, kinks=kinks)
    check_op(module, strategy, settings=FEW)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_equals_torch_including_the_kinks(name):
    torch = pytest.importorskip("torch")
    module, theirs = ACTIVATIONS[name]
    rng = np.random.default_rng(0)
    far = 25.0 if not name.startswith("Softplus") else 9.0   # see the Softplus test below
    x = np.concatenate([rng.standard_normal(20) * 3, [0.0, -0.0, far, -far]])[None] \
        .repeat(2, 0)
    u = rng.standard_normal(x.shape)
    xv = Variable(x)
    y = module(xv)
    y.backward(u)
    tx = torch.tensor(x, requires_grad=True)
    ty = theirs(torch)(tx)
    ty.backward(torch.tensor(u))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    # at 0 the derivative taken is PyTorch's (ReLU 0, LeakyReLU the slope, ELU alpha)
    np.testing.assert_allclose(xv.grad.data, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    f32 = module(Variable(x.astype(np.float32)))
    assert f32.dtype == np.float32


def test_softplus_is_exact_where_torch_switches_to_the_identity():
    x = np.array([15.0, 25.0, 30.0])
    ours = nn.Softplus()(Variable(x)).data
    np.testing.assert_array_equal(ours, np.logaddexp(0.0, x))   # log(1 + e^x), rounded once
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Softplus()(torch.tensor(x)).numpy()       # x itself above threshold 20
    assert theirs[1] == 25.0 and ours[1] - 25.0 == pytest.approx(np.exp(-25.0), rel=1e-3)


def test_gelu_is_the_tanh_form_and_close_to_the_erf_form():
    with pytest.raises(ValueError, match="only approximate='tanh' is available"):
        nn.GELU("none")
    torch = pytest.importorskip("torch")
    x = np.linspace(-8, 8, 20001)
    exact = torch.nn.functional.gelu(torch.tensor(x)).numpy()
    assert np.max(np.abs(nn.GELU()(Variable(x)).data - exact)) < 5e-4    # measured 4.7e-4


@given(shape=tst.shapes(min_dims=1, max_dims=4), data=st.data())
def test_flatten_equals_numpy_and_torch(shape, data):
    n = len(shape)
    start = data.draw(st.integers(-n, n - 1))
    end = data.draw(st.integers(-n, n - 1))
    s, e = start % n, end % n
    x = np.arange(math.prod(shape), dtype=np.float64).reshape(shape)
    if s > e:
        with pytest.raises(ValueError, match="Flatten: start_dim"):
            nn.Flatten(start, end)(Variable(x))
        return
    y = nn.Flatten(start, end)(Variable(x))
    expected = x.reshape(shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])
    np.testing.assert_array_equal(y.data, expected)
    try:
        import torch
    except ImportError:
        return
    assert y.shape == tuple(torch.nn.Flatten(start, end)(torch.tensor(x)).shape)


def test_identity_and_sequential_of_layers():
    x = Variable(np.ones((2, 3)))
    assert nn.Identity()(x) is x
    mlp = nn.Sequential(nn.Linear(12, 8, dtype=np.float64, seed=0), nn.ReLU(),
                        nn.Dropout(0.5, seed=1), nn.Linear(8, 3, dtype=np.float64, seed=2))
    net = nn.Sequential(nn.Flatten(), mlp)
    xs = np.random.default_rng(0).standard_normal((4, 3, 4))
    mlp.eval()
    assert gradcheck(lambda x: net(x), xs)
    assert gradgradcheck(lambda x: net(x), xs)


# --- batch norm ---------------------------------------------------------------------------
def torch_bn(torch, ours):
    cls = {1: torch.nn.BatchNorm1d, 2: torch.nn.BatchNorm2d}[int(type(ours).__name__[-2])]
    m = cls(ours.num_features, eps=ours.eps, momentum=ours.momentum, affine=ours.affine,
            track_running_stats=ours.track_running_stats,
            dtype={np.float64: torch.float64, np.float32: torch.float32}[
                ours.gamma.dtype.type if ours.affine else np.float64])
    if ours.affine:
        with torch.no_grad():
            m.weight.copy_(torch.tensor(ours.gamma.data))
            m.bias.copy_(torch.tensor(ours.beta.data))
    return m


@given(kind=st.sampled_from(["1d-2", "1d-3", "2d"]), C=st.integers(1, 3),
       momentum=st.sampled_from([0.1, 0.5, None]), affine=st.booleans(),
       track=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_batchnorm_module_equals_torch_over_batches_and_in_eval(kind, C, momentum, affine,
                                                                 track, seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    cls = nn.BatchNorm2d if kind == "2d" else nn.BatchNorm1d
    ours = cls(C, momentum=momentum, affine=affine, track_running_stats=track,
               dtype=np.float64)
    if affine:
        ours.gamma.data[...] = rng.standard_normal(C) + 1
        ours.beta.data[...] = rng.standard_normal(C)
    theirs = torch_bn(torch, ours)
    shape = {"1d-2": (5, C), "1d-3": (3, C, 4), "2d": (2, C, 3, 2)}[kind]
    tol = dict(rtol=1e-11, atol=1e-12)
    for step in range(4):
        training = step < 3
        ours.train(training)
        theirs.train(training)
        x = rng.standard_normal(shape) * 2 + step
        u = rng.standard_normal(shape)
        xv = Variable(x)
        y = ours(xv)
        y.backward(u)
        tx = torch.tensor(x, requires_grad=True)
        ty = theirs(tx)
        ty.backward(torch.tensor(u))
        np.testing.assert_allclose(y.data, ty.detach().numpy(), **tol)
        np.testing.assert_allclose(xv.grad.data, tx.grad.numpy(), **tol)
        if affine:
            np.testing.assert_allclose(ours.gamma.grad.data, theirs.weight.grad.numpy(), **tol)
            np.testing.assert_allclose(ours.beta.grad.data, theirs.bias.grad.numpy(), **tol)
            ours.zero_grad()
            theirs.zero_grad()
    state = ours.state_dict()
    expected = {k for k, _ in theirs.state_dict().items()}
    rename = {"weight": "gamma", "bias": "beta"}
    assert set(state) == {rename.get(k, k) for k in expected}
    for k, v in theirs.state_dict().items():
        np.testing.assert_allclose(state[rename.get(k, k)], v.numpy(), **tol)


def test_batchnorm_eval_is_per_example_and_state_round_trips():
    rng = np.random.default_rng(3)
    bn = nn.BatchNorm1d(4)
    for _ in range(5):
        bn(Variable(rng.standard_normal((8, 4)).astype(np.float32) * 3 + 1))
    assert int(bn.num_batches_tracked) == 5 and bn.running_mean.dtype == np.float32
    assert not np.allclose(bn.running_mean, 0)
    bn.eval()
    x = rng.standard_normal((6, 4)).astype(np.float32)
    whole = bn(Variable(x)).data
    for i in range(6):              # evaluation: an example's answer ignores its batch
        np.testing.assert_array_equal(bn(Variable(x[i:i + 1])).data, whole[i:i + 1])
    fresh = nn.BatchNorm1d(4)
    fresh.load_state_dict(bn.state_dict())
    np.testing.assert_array_equal(fresh.eval()(Variable(x)).data, whole)
    before = bn.running_mean.copy()
    with no_grad():
        bn.train()(Variable(x))     # training mode updates even without recording
    assert not np.array_equal(bn.running_mean, before)
    assert whole.dtype == np.float32


def test_batchnorm_higher_order_and_errors():
    rng = np.random.default_rng(0)
    bn = nn.BatchNorm1d(3, dtype=np.float64)
    bn.gamma.data[...] = [0.5, 2.0, -1.0]
    x = rng.standard_normal((4, 3, 2))
    assert gradcheck(lambda x: bn(x), x)
    assert gradgradcheck(lambda x: bn(x), x)
    (g,) = grad((bn(Variable(x)) ** 3).sum(), [bn.gamma], create_graph=True)
    (gg,) = grad(g.sum(), [bn.gamma])
    assert gg.shape == (3,) and np.all(np.isfinite(gg.data))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\): expected a 2-D or 3-D input "
                                         r"with 3 channels on axis 1, got shape \(4, 2\)"):
        bn(Variable(np.ones((4, 2))))
    with pytest.raises(ValueError, match="training needs more than one value per channel"):
        bn(Variable(np.ones((1, 3))))
    with pytest.raises(ValueError, match="momentum must be in"):
        nn.BatchNorm1d(3, momentum=1.5)


# --- initialisers -------------------------------------------------------------------------
@given(shape=tst.shapes(min_dims=2, max_dims=4))
def test_fans_equal_torchs_for_the_transposed_layout(shape):
    torch = pytest.importorskip("torch")
    theirs = torch.nn.init._calculate_fan_in_and_fan_out(
        torch.empty((shape[1], shape[0]) + tuple(shape[2:])))
    assert init.calculate_fan_in_and_fan_out(np.empty(shape)) == theirs
    assert init.calculate_fan_in_and_fan_out(tuple(shape)) == theirs


def test_linear_fans_equal_torch_linear_fans():
    torch = pytest.importorskip("torch")
    for i, o in [(3, 7), (16, 2)]:
        assert init.calculate_fan_in_and_fan_out(nn.Linear(i, o).W) == \
            torch.nn.init._calculate_fan_in_and_fan_out(torch.nn.Linear(i, o).weight)


@pytest.mark.parametrize("nonlinearity,param", [
    ("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
    ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)), ("selu", None)])
def test_calculate_gain_equals_torch(nonlinearity, param):
    torch = pytest.importorskip("torch")
    assert init.calculate_gain(nonlinearity, param) == \
        torch.nn.init.calculate_gain(nonlinearity, param)


SHAPE = (300, 200)
INITS = {   # name -> (ours, torch's, the analytic std, the uniform bound or None)
    "uniform_": (lambda a, r: init.uniform_(a, -0.5, 1.5, rng=r),
                 lambda t, w: t.nn.init.uniform_(w, -0.5, 1.5), 2 / math.sqrt(12), None),
    "normal_": (lambda a, r: init.normal_(a, 0.3, 2.0, rng=r),
                lambda t, w: t.nn.init.normal_(w, 0.3, 2.0), 2.0, None),
    "trunc_normal_": (lambda a, r: init.trunc_normal_(a, 0.0, 1.0, -1.0, 2.0, rng=r),
                      lambda t, w: t.nn.init.trunc_normal_(w, 0.0, 1.0, -1.0, 2.0), None,
                      None),
    "xavier_uniform_": (lambda a, r: init.xavier_uniform_(a, gain=2.0, rng=r),
                        lambda t, w: t.nn.init.xavier_uniform_(w, gain=2.0),
                        2.0 * math.sqrt(2 / 500), 2.0 * math.sqrt(6 / 500)),
    "xavier_normal_": (lambda a, r: init.xavier_normal_(a, rng=r),
                       lambda t, w: t.nn.init.xavier_normal_(w), math.sqrt(2 / 500), None),
    "kaiming_uniform_": (lambda a, r: init.kaiming_uniform_(a, a=0.1, rng=r),
                         lambda t, w: t.nn.init.kaiming_uniform_(w, a=0.1),
                         math.sqrt(2 / 1.01) / math.sqrt(300), math.sqrt(6 / 1.01 / 300)),
    "kaiming_normal_": (lambda a, r: init.kaiming_normal_(a, mode="fan_out",
                                                          nonlinearity="relu", rng=r),
                        lambda t, w: t.nn.init.kaiming_normal_(w, mode="fan_out",
                                                               nonlinearity="relu"),
                        math.sqrt(2 / 200), None),
    "kaiming_normal_ tanh": (lambda a, r: init.kaiming_normal_(a, nonlinearity="tanh", rng=r),
                             lambda t, w: t.nn.init.kaiming_normal_(w, nonlinearity="tanh"),
                             5 / 3 / math.sqrt(300), None),
}


@pytest.mark.parametrize("name", sorted(INITS))
def test_init_distribution_matches_the_formula_and_torch(name):
    ours_fn, torch_fn, std, bound = INITS[name]
    a = nn.Parameter(np.zeros(SHAPE, np.float32))
    data = a.data
    assert ours_fn(a, np.random.default_rng(0)) is a and a.data is data   # in place
    assert a.dtype == np.float32
    x = a.data.astype(np.float64)
    n = x.size
    if std is not None:            # sample std within 5 of its standard errors (~0.2%)
        assert abs(x.std() / std - 1) < 5 / math.sqrt(2 * n) * 2
    if bound is not None:
        assert np.abs(x).max() <= bound * (1 + 1e-6) and np.abs(x).max() > 0.99 * bound
    b = np.zeros(SHAPE)
    ours_fn(b, np.random.default_rng(0))
    np.testing.assert_array_equal(b.astype(np.float32), a.data)        # seeded: reproducible
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    w = torch.empty(SHAPE[::-1], dtype=torch.float64)   # torch's layout: (out, in)
    torch_fn(torch, w)
    t = w.numpy()
    for q in (0.01, 0.1, 0.5, 0.9, 0.99):    # the same distribution, quantile by quantile
        spread = x.std() * 5 * math.sqrt(q * (1 - q) / n) / 0.05
        assert abs(np.quantile(x, q) - np.quantile(t, q)) < max(spread, 1e-3 * x.std())
    assert abs(x.mean() - t.mean()) < 6 * x.std() / math.sqrt(n)


def test_small_initialisers_and_errors():
    a = np.empty((3, 4))
    assert init.constant_(a, 0.25) is a and np.all(a == 0.25)
    init.ones_(a)
    assert np.all(a == 1)
    init.zeros_(a)
    assert not a.any()
    init.eye_(a)
    np.testing.assert_array_equal(a, np.eye(3, 4))
    for shape in [(5, 3), (3, 5), (4, 2, 3)]:
        w = init.orthogonal_(np.empty(shape), gain=2.0, seed=1).reshape(shape[0], -1)
        small = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
        np.testing.assert_allclose(small, 4 * np.eye(min(w.shape)), atol=1e-12)
    t = init.trunc_normal_(np.empty(20000), 1.0, 2.0, 0.0, 1.5, seed=0)
    assert t.min() >= 0.0 and t.max() <= 1.5
    with pytest.raises(ValueError, match=r"fans need at least 2 dimensions, got shape \(3,\)"):
        init.xavier_uniform_(np.empty(3))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_normal_(np.empty((2, 2)), mode="in")
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(TypeError, match="expected a floating array, got dtype int64"):
        init.zeros_(np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="pass either rng or seed"):
        init.normal_(np.empty(3), rng=np.random.default_rng(0), seed=1)


def test_linear_and_embedding_init_choices():
    book = nn.Linear(6, 4, seed=3)
    np.testing.assert_array_equal(book.W.data, nn.Linear(6, 4, seed=3, init="book").W.data)
    lin = nn.Linear(400, 300, init="torch", seed=0, dtype=np.float64)
    bound = 1 / math.sqrt(400)
    assert np.abs(lin.W.data).max() <= bound and np.abs(lin.b.data).max() <= bound
    assert np.abs(lin.b.data).max() > 0.9 * bound
    assert abs(lin.W.data.std() / (bound / math.sqrt(3)) - 1) < 0.02     # U(-a, a): a/sqrt 3
    for name, std in [("xavier_normal", math.sqrt(2 / 700)), ("kaiming_normal",
                                                               math.sqrt(2 / 400))]:
        layer = nn.Linear(400, 300, init=name, seed=0)
        assert abs(layer.W.data.std() / std - 1) < 0.02 and not layer.b.data.any()
    custom = nn.Linear(3, 2, init=lambda W, rng: init.constant_(W, 0.5), dtype=np.float64)
    assert np.all(custom.W.data == 0.5)
    emb = nn.Embedding(500, 200, init="torch", seed=0)
    assert abs(emb.W.data.std() - 1) < 0.02 and emb.W.dtype == np.float32
    assert nn.Embedding(5, 3, init="xavier_uniform", seed=0).W.dtype == np.float32
    with pytest.raises(ValueError, match="Linear: init must be 'book', 'torch', one of"):
        nn.Linear(2, 2, init="he")

    def replaces(W, rng):
        W.data = np.zeros((1, 1))

    with pytest.raises(ValueError, match="the init callable changed W to"):
        nn.Linear(2, 2, init=replaces)
    torch = pytest.importorskip("torch")
    ref = torch.nn.Linear(400, 300, dtype=torch.float64).weight.detach().numpy()
    assert abs(lin.W.data.std() / ref.std() - 1) < 0.02
