"""The Module tree beyond parameters: containers (and plain lists / dicts of modules),
buffers in state_dict, train() / eval() and what decoding does with the mode.

Invariants are checked over generated trees (hypothesis): whatever nesting of containers
and plain lists a user writes, `parameters()` finds every parameter exactly once, names
them by their path, `state_dict` round-trips, and `train(mode)` reaches every module.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn as tga
from tinygrad_attn import Variable, nn, topological_order
from tinygrad_attn.decoding import evaluating


def lin(i=2, o=2, seed=0):
    return nn.Linear(i, o, dtype=np.float64, seed=seed)


# --- containers ---------------------------------------------------------------------------
def test_sequential_chains_and_registers_by_position():
    seq = nn.Sequential(lin(3, 4), nn.ReLU(), lin(4, 2, 1))
    assert [n for n, _ in seq.named_parameters()] == ["0.W", "0.b", "2.W", "2.b"]
    x = Variable(np.random.default_rng(0).standard_normal((5, 3)))
    expected = seq[2](seq[1](seq[0](x)))
    np.testing.assert_array_equal(seq(x).data, expected.data)
    assert len(seq) == 3 and list(seq)[1] is seq[1] and seq[-1] is seq[2]
    tail = seq[1:]
    assert isinstance(tail, nn.Sequential) and len(tail) == 2 and tail[1] is seq[2]
    named = nn.Sequential({"fc": lin(3, 4), "act": nn.Tanh()})
    assert [n for n, _ in named.named_parameters()] == ["fc.W", "fc.b"]
    named.append(lin(4, 1))
    assert "2.W" in dict(named.named_parameters())
    with pytest.raises(TypeError, match="Sequential: entry '0' must be a Module"):
        nn.Sequential(np.ones(3))
    with pytest.raises(IndexError, match="index 5 out of range for 3"):
        seq[5]


def test_module_list_registers_renumbers_and_is_not_callable():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([lin(seed=i) for i in range(3)])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        f"layers.{i}.{p}" for i in range(3) for p in ("W", "b")]
    third = net.layers[2]
    del net.layers[0]                       # later entries are renumbered, as in PyTorch
    assert net.layers[1] is third and "layers.2.W" not in dict(net.named_parameters())
    net.layers.insert(0, lin(seed=9))
    net.layers.append(lin(seed=10))
    net.layers[1] = lin(seed=11)
    assert len(net.layers) == 4 and len(net.parameters()) == 8
    assert isinstance(net.layers[1:3], nn.ModuleList) and len(net.layers[1:3]) == 2
    with pytest.raises(TypeError, match="ModuleList is not callable"):
        net.layers(Variable(np.ones(2)))
    with pytest.raises(TypeError, match="each entry must be a Module, got a ndarray"):
        net.layers.append(np.ones(2))


def test_module_dict_and_parameter_containers():
    heads = nn.ModuleDict({"date": lin(2, 3), "year": lin(2, 5, 1)})
    assert list(heads) == ["date", "year"] and "year" in heads
    assert [n for n, _ in heads.named_parameters()] == ["date.W", "date.b", "year.W", "year.b"]
    heads["month"] = lin(2, 1)
    assert heads.pop("date") is not None and list(heads.keys()) == ["year", "month"]
    with pytest.raises(KeyError, match="no entry 'day' \\(keys: year, month\\)"):
        heads["day"]
    with pytest.raises(ValueError, match="without '.'"):
        heads["a.b"] = lin()
    with pytest.raises(TypeError, match="keys must be strings"):
        nn.ModuleDict({1: lin()})
    ps = nn.ParameterList([nn.Parameter(np.ones(2)), nn.Parameter(np.zeros(3))])
    assert [n for n, _ in ps.named_parameters()] == ["0", "1"]
    pd = nn.ParameterDict({"scale": nn.Parameter(np.ones(1))})
    assert [n for n, _ in pd.named_parameters()] == ["scale"]
    with pytest.raises(TypeError, match="each entry must be a Parameter, got a Linear"):
        ps.append(lin())


def test_plain_lists_and_dicts_of_modules_are_registered():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = [lin(seed=0), lin(seed=1)]
            self.heads = {"a": lin(seed=2)}
            self.scales = [nn.Parameter(np.ones(2))]
            self.grid = [[lin(seed=3)], [lin(seed=4), lin(seed=5)]]
            self.sizes = [3, 4]                    # not modules: stays a plain list
            self.config = {"d": 2}

    net = Net()
    assert isinstance(net.blocks, nn.ModuleList) and isinstance(net.heads, nn.ModuleDict)
    assert isinstance(net.scales, nn.ParameterList) and isinstance(net.grid[1], nn.ModuleList)
    assert net.sizes == [3, 4] and type(net.sizes) is list
    names = [n for n, _ in net.named_parameters()]
    assert names == ["blocks.0.W", "blocks.0.b", "blocks.1.W", "blocks.1.b", "heads.a.W",
                     "heads.a.b", "scales.0", "grid.0.0.W", "grid.0.0.b", "grid.1.0.W",
                     "grid.1.0.b", "grid.1.1.W", "grid.1.1.b"]


def test_apply_visits_every_module_children_first():
    seq = nn.Sequential(lin(), nn.Sequential(lin(seed=1), nn.Tanh()))
    seen = []
    assert seq.apply(seen.append) is seq
    assert seen == [seq[0], seq[1][0], seq[1][1], seq[1], seq]
    seq.apply(lambda m: nn.init.zeros_(m.W) if isinstance(m, nn.Linear) else None)
    assert not any(m.W.data.any() for m in (seq[0], seq[1][0]))


def test_unregistrable_plain_containers_raise_one_clear_line():
    class Mixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.parts = [lin(), "relu"]

    with pytest.raises(TypeError, match=r"Mixed.parts: a list mixing Modules or Parameters "
                                        r"with other values cannot be registered"):
        Mixed()

    class Late(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = []
            for i in range(2):
                self.blocks.append(lin(seed=i))     # the classic trap

    with pytest.raises(TypeError, match=r"Late.blocks \('blocks'\) is a plain list that got "
                                        r"Linears after it was assigned, so they are not "
                                        r"registered"):
        Late().parameters()

    class Refs(nn.Module):        # a plain list of modules that ARE registered: fine
        def __init__(self):
            super().__init__()
            self.a, self.b = lin(), lin(seed=1)
            self.order = []
            self.order.append(self.a)
            self.order.append(self.b)

    assert len(Refs().parameters()) == 4


def test_modules_in_containers_record_under_their_path():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList()
            self.layers.append(lin())
            self.layers.append(lin(seed=1))
            self.seq = nn.Sequential(lin(seed=2), nn.Tanh())

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return self.seq(x).sum()

    loss = Net()(Variable(np.ones((1, 2))))
    scopes = {(f.name, f.scope) for f in topological_order(loss)}
    assert ("matmul", ("layers", "0")) in scopes and ("matmul", ("layers", "1")) in scopes
    assert ("matmul", ("seq", "0")) in scopes and ("tanh", ("seq", "1")) in scopes


# --- generated trees ----------------------------------------------------------------------
def trees():
    """A nesting of Linear leaves in ModuleLists, ModuleDicts, Sequentials, plain lists and
    plain dicts: (builder, number of Linear layers)."""
    leaf = st.just("leaf")
    return st.recursive(
        leaf, lambda kids: st.one_of(
            st.tuples(st.sampled_from(["ModuleList", "list", "Sequential"]),
                      st.lists(kids, min_size=1, max_size=3)),
            st.tuples(st.sampled_from(["ModuleDict", "dict"]),
                      st.dictionaries(st.sampled_from("abc"), kids, min_size=1, max_size=3))),
        max_leaves=8)


def build(spec, counter):
    if spec == "leaf":
        counter.append(1)
        return lin(seed=len(counter))
    kind, kids = spec
    if kind in ("ModuleDict", "dict"):
        built = {k: build(v, counter) for k, v in kids.items()}
        return nn.ModuleDict(built) if kind == "ModuleDict" else built
    built = [build(v, counter) for v in kids]
    if kind == "Sequential":      # holds modules only (it calls them): plain ones wrapped
        return nn.Sequential(*[b if isinstance(b, nn.Module) else nn.ModuleList([b])
                               if isinstance(b, list) else nn.ModuleDict(b) for b in built])
    return nn.ModuleList(built) if kind == "ModuleList" else built


@given(spec=trees(), mode=st.booleans())
def test_every_parameter_of_any_tree_is_found_once_and_round_trips(spec, mode):
    counter = []

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = build(spec, counter)

    net = Net()
    named = list(net.named_parameters())
    assert len(named) == 2 * len(counter)                     # W and b of every Linear
    assert len({id(p) for _, p in named}) == len(named)
    for name, p in named:                                      # the path leads to it
        obj = net
        for part in name.split("."):
            obj = obj[int(part) if isinstance(obj, (nn.ModuleList, nn.Sequential))
                      else part] if isinstance(obj, (nn.ModuleList, nn.ModuleDict,
                                                     nn.Sequential)) else getattr(obj, part)
        assert obj is p
    state = net.state_dict()
    for a in state.values():
        a += 1.0
    net.load_state_dict(state)
    for (name, p) in named:
        np.testing.assert_array_equal(p.data, state[name])
    assert net.train(mode) is net
    assert all(m.training is mode for m in net.modules())


# --- buffers ------------------------------------------------------------------------------
class Counter(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(np.ones(2))
        self.register_buffer("seen", np.zeros(2))
        self.register_buffer("steps", np.zeros((), np.int64))
        self.register_buffer("scratch", np.zeros(3), persistent=False)
        self.register_buffer("nothing", None)


def test_buffers_are_state_but_not_parameters():
    m = Counter()
    outer = nn.Sequential(m)
    assert outer.parameters() == [m.w]
    assert [n for n, _ in outer.named_buffers()] == ["0.seen", "0.steps", "0.scratch"]
    assert list(outer.state_dict()) == ["0.w", "0.seen", "0.steps"]   # persistent only
    m.seen += 5
    m.steps += 1
    state = outer.state_dict()
    assert state["0.steps"].dtype == np.int64 and state["0.steps"] == 1
    fresh = nn.Sequential(Counter())
    before = fresh[0].seen
    fresh.load_state_dict(state)
    assert fresh[0].seen is before and np.all(fresh[0].seen == 5) and fresh[0].steps == 1
    m.seen = np.full(2, 7.0)                    # assigning replaces the buffer
    assert np.all(outer.state_dict()["0.seen"] == 7)
    with pytest.raises(TypeError, match="buffer 'seen' must be a numpy array or None"):
        m.seen = [1, 2]
    state["0.steps"] = np.zeros((), np.float64)
    del state["0.seen"]
    with pytest.raises(ValueError, match=r"missing keys: 0.seen; 0.steps: dtype float64 in "
                                         r"the state, int64 in the model"):
        fresh.load_state_dict(state)
    with pytest.raises(ValueError, match="'w' is already a parameter"):
        m.register_buffer("w", np.zeros(1))


# --- modes --------------------------------------------------------------------------------
def test_train_and_eval_reach_every_module_and_return_self():
    model = nn.Sequential(lin(), nn.Dropout(0.5, seed=0), nn.Sequential(nn.BatchNorm1d(2)))
    assert all(m.training for m in model.modules())
    assert model.eval() is model and not any(m.training for m in model.modules())
    model[2].train()                                   # a subtree only
    assert model[2][0].training and not model.training
    with pytest.raises(TypeError, match="mode must be True or False"):
        model.train("no")


def test_dropout_obeys_the_mode_not_the_tape():
    x = Variable(np.ones((50, 40)))
    drop = nn.Dropout(0.5, seed=1)
    with tga.no_grad():
        assert (drop(x).data == 0).any()               # training mode drops under no_grad
    drop.eval()
    assert drop(x) is x                                # evaluation does not, even recording


class Noisy(nn.Module):
    """A protocol model whose decoder output depends on its dropout: a decode in training
    mode would differ from run to run."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(5, 8, dtype=np.float64, seed=0, init="torch")
        self.drop = nn.Dropout(0.5, seed=2)
        self.out = nn.Linear(8, 5, dtype=np.float64, seed=3, init="torch")
        self.seen = []

    def encode(self, xs):
        return self.embed(xs).sum(axis=1)

    def decode_step(self, ids, memory, state):
        self.seen.append(tuple(m.training for m in self.modules()))
        h = self.drop(self.embed(ids) + F_expand(memory))
        return self.out(h), None, {}


def F_expand(v):
    return tga.F.expand_dims(v, 1)


@pytest.mark.parametrize("beam", [1, 3])
def test_decoding_runs_in_eval_and_restores_each_modules_mode(beam):
    from tinygrad_attn.decoding import beam_search, greedy
    model = Noisy()
    model.out.eval()                                   # a mixed tree: exactly this comes back
    before = [m.training for m in model.modules()]
    xs = np.random.default_rng(0).integers(0, 5, (4, 3))
    run = (lambda: greedy(model, xs, 0, 4)) if beam == 1 else \
        (lambda: beam_search(model, xs, 0, 4, beam=beam))
    first, second = run(), run()
    np.testing.assert_array_equal(first.ids, second.ids)     # no dropout noise
    assert all(not any(modes) for modes in model.seen)
    assert [m.training for m in model.modules()] == before
    with evaluating(model):
        pass
    assert [m.training for m in model.modules()] == before


def test_evaluating_restores_the_mode_after_an_error():
    model = Noisy()
    with pytest.raises(RuntimeError):
        with evaluating(model):
            assert not model.drop.training
            raise RuntimeError
    assert all(m.training for m in model.modules())
