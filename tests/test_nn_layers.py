"""Layers as Modules: PyTorch's parameter names, shapes, default initialisation and repr;
weights copied from torch modules with load_state_dict give the same outputs and the same
gradient for every parameter; float64 gradchecks over inputs and parameters; Dropout's
statistics; errors naming the layer; and GPU-vs-CPU checks (skipped without a GPU)."""
import math

import numpy as np
import pytest

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
import tinygrad_seq.nn.functional as F
from tests.conftest import torch, requires_torch, assert_close


def from_torch(ours, theirs):
    """Load a torch module's weights into ours (float64 both), checking names and shapes match."""
    theirs.double()
    sd = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == {k: v.shape for k, v in sd.items()}
    ours.double()
    ours.load_state_dict(sd)
    return ours, theirs


def module_parity(ours, theirs, x, rtol=1e-8, atol=1e-10, seed=0, index_input=False):
    """Same weights (copied from torch), same input: outputs, the input's gradient and every
    parameter's gradient agree."""
    ours, theirs = from_torch(ours, theirs)
    if index_input:
        xo, xt = tg.Tensor(x), torch.tensor(x)
    else:
        xo, xt = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    assert_close(yo, yt, rtol, atol, "output")
    g = np.random.default_rng(seed).standard_normal(yo.shape)
    yo.backward(tg.Tensor(g))
    yt.backward(torch.tensor(g))
    if not index_input:
        assert_close(xo.grad, xt.grad, rtol, atol, "input gradient")
    tp = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, tp[name].grad, rtol, atol, f"gradient of {name}")


# ---------------------------------------------------------------- parity with torch modules
@requires_torch
def test_linear_parity_and_repr():
    rng = np.random.default_rng(30)
    for seed in range(3):
        i, o, bias = int(rng.integers(1, 6)), int(rng.integers(1, 6)), bool(seed % 2 == 0)
        ours, theirs = nn.Linear(i, o, bias), torch.nn.Linear(i, o, bias)
        assert repr(ours) == repr(theirs)
        module_parity(ours, theirs, rng.standard_normal((2, 3, i)))


@requires_torch
@pytest.mark.parametrize("dims", [1, 2])
def test_conv_modules_parity_and_repr(dims):
    ours_cls, torch_cls = (nn.Conv1d, torch.nn.Conv1d) if dims == 1 else (nn.Conv2d, torch.nn.Conv2d)
    for seed in range(4):
        rng = np.random.default_rng(400 + 10 * dims + seed)
        groups = int(rng.choice([1, 2]))
        C, O = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
        k = tuple(int(v) for v in rng.integers(1, 4, dims))
        kw = dict(stride=tuple(int(v) for v in rng.integers(1, 3, dims)),
                  padding=tuple(int(v) for v in rng.integers(0, 2, dims)),
                  dilation=tuple(int(v) for v in rng.integers(1, 3, dims)), groups=groups, bias=bool(seed % 2))
        ours, theirs = ours_cls(C, O, k, **kw), torch_cls(C, O, k, **kw)
        assert repr(ours) == repr(theirs)
        size = tuple(int((kk - 1) * dd + 1 + rng.integers(0, 4)) for kk, dd in zip(k, kw["dilation"]))
        module_parity(ours, theirs, rng.standard_normal((2, C) + size))
    assert repr(nn.Conv2d(3, 8, 3, padding="same")) == repr(torch.nn.Conv2d(3, 8, 3, padding="same"))
    assert repr(nn.Conv1d(3, 8, 5)) == repr(torch.nn.Conv1d(3, 8, 5))


@requires_torch
def test_embedding_layer_norm_parity_and_repr():
    rng = np.random.default_rng(31)
    idx = rng.integers(0, 9, (3, 4))
    for pad in (None, 2):
        ours, theirs = nn.Embedding(9, 5, padding_idx=pad), torch.nn.Embedding(9, 5, padding_idx=pad)
        assert repr(ours) == repr(theirs)
        module_parity(ours, theirs, idx, index_input=True)
        if pad is not None:
            assert np.all(ours.weight.grad.numpy()[pad] == 0)
    for shape, affine in [(4, True), ((3, 4), True), ((4,), False)]:
        ours, theirs = nn.LayerNorm(shape, elementwise_affine=affine), torch.nn.LayerNorm(shape, elementwise_affine=affine)
        assert repr(ours) == repr(theirs)
        with torch.no_grad():   # non-trivial affine parameters, so their gradients mean something
            for p in theirs.parameters():
                p.copy_(torch.randn(p.shape))
        module_parity(ours, theirs, rng.standard_normal((2, 3, 4)))


@requires_torch
def test_pooling_activation_and_misc_modules_match_torch():
    rng = np.random.default_rng(32)
    x2, x1 = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((2, 3, 9))
    cases = [
        (nn.MaxPool2d(2), torch.nn.MaxPool2d(2), x2),
        (nn.MaxPool2d((3, 2), (2, 1), 1, ceil_mode=True), torch.nn.MaxPool2d((3, 2), (2, 1), 1, ceil_mode=True), x2),
        (nn.MaxPool1d(3, 2, 1, 2), torch.nn.MaxPool1d(3, 2, 1, 2), x1),
        (nn.AvgPool2d(3, 2, 1), torch.nn.AvgPool2d(3, 2, 1), x2),
        (nn.AvgPool2d(3, 2, 1, count_include_pad=False), torch.nn.AvgPool2d(3, 2, 1, count_include_pad=False), x2),
        (nn.AvgPool1d(2), torch.nn.AvgPool1d(2), x1),
        (nn.AvgPool1d(3, 2, 1, True, False), torch.nn.AvgPool1d(3, 2, 1, True, False), x1),
        (nn.AdaptiveMaxPool1d(1), torch.nn.AdaptiveMaxPool1d(1), x1),
        (nn.AdaptiveMaxPool1d(4), torch.nn.AdaptiveMaxPool1d(4), x1),
        (nn.ReLU(), torch.nn.ReLU(), x2), (nn.Tanh(), torch.nn.Tanh(), x2), (nn.Sigmoid(), torch.nn.Sigmoid(), x2),
        (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2), x2), (nn.Softmax(dim=1), torch.nn.Softmax(dim=1), x2),
        (nn.LogSoftmax(dim=-1), torch.nn.LogSoftmax(dim=-1), x2), (nn.Flatten(), torch.nn.Flatten(), x2),
        (nn.Flatten(0, 2), torch.nn.Flatten(0, 2), x2), (nn.Identity(), torch.nn.Identity(), x1),
        (nn.Dropout(0.3), torch.nn.Dropout(0.3), None), (nn.ReLU(inplace=True), torch.nn.ReLU(inplace=True), None),
    ]
    for ours, theirs, x in cases:
        assert repr(ours) == repr(theirs)
        if x is not None:
            module_parity(ours, theirs, x)


@requires_torch
def test_small_cnn_from_torch_state_dict_matches_torch():
    """A whole Sequential: names (0.weight, 3.bias, ...) and layouts line up, so torch's
    state_dict loads as is and every gradient agrees."""
    def build(m):
        return m.Sequential(m.Conv2d(2, 4, 3, padding=1), m.ReLU(), m.MaxPool2d(2), m.Conv2d(4, 6, (2, 3), stride=(1, 2)),
                            m.Tanh(), m.Flatten(), m.Dropout(0.0), m.Linear(6 * 2 * 1, 3), m.LogSoftmax(dim=1))
    module_parity(build(nn), build(torch.nn), np.random.default_rng(33).standard_normal((3, 2, 6, 6)))


@requires_torch
def test_text_cnn_block_from_torch_matches_torch():
    """Embedding -> transpose -> Conv1d -> ReLU -> max over time: the text-CNN path, which
    puts the conv on a channels-last input."""
    class Block:
        def __init__(self, m):
            self.emb, self.conv, self.fc = m.Embedding(11, 6), m.Conv1d(6, 4, 3), m.Linear(4, 2)
    ours, theirs = Block(nn), Block(torch.nn)
    for a, b in [(ours.emb, theirs.emb), (ours.conv, theirs.conv), (ours.fc, theirs.fc)]:
        from_torch(a, b)
    idx = np.random.default_rng(34).integers(0, 11, (3, 7))

    def run(b, x, pool):
        h = b.conv(b.emb(x).transpose(1, 2)).relu()
        return b.fc(pool(h, 1).squeeze(-1))
    yo = run(ours, tg.Tensor(idx), F.adaptive_max_pool1d)
    yt = run(theirs, torch.tensor(idx), torch.nn.functional.adaptive_max_pool1d)
    assert_close(yo, yt, 1e-9, 1e-11, "output")
    yo.sum().backward()
    yt.sum().backward()
    for a, b in [(ours.emb, theirs.emb), (ours.conv, theirs.conv), (ours.fc, theirs.fc)]:
        tp = dict(b.named_parameters())
        for n, p in a.named_parameters():
            assert_close(p.grad, tp[n].grad, 1e-9, 1e-11, n)


# ---------------------------------------------------------------- gradchecks with parameters
def _gc(module, x, **kw):
    module.double()
    return tg.gradcheck(module, [x], params=list(module.parameters()), **kw)


def test_layer_gradchecks_over_inputs_and_parameters():
    rng = np.random.default_rng(35)

    def x(*shape):
        return tg.Tensor(rng.standard_normal(shape), requires_grad=True)
    assert _gc(nn.Linear(4, 3), x(2, 4))
    assert _gc(nn.Conv2d(2, 3, (2, 3), stride=(2, 1), padding=(1, 2), dilation=(1, 2)), x(2, 2, 5, 5))
    assert _gc(nn.Conv2d(4, 2, 3, padding="same", groups=2, bias=False), x(1, 4, 4, 4))
    assert _gc(nn.Conv1d(3, 2, 3, stride=2, padding=1), x(2, 3, 8))
    assert _gc(nn.LayerNorm((2, 3)), x(4, 2, 3))
    emb = nn.Embedding(7, 3, padding_idx=6).double()
    idx = tg.Tensor(np.array([[0, 3, 3], [1, 5, 0]]))
    assert tg.gradcheck(lambda: emb(idx), [], params=[emb.weight])
    for m in (nn.MaxPool2d(3, 2, 1), nn.AvgPool2d(2, 1, 1, count_include_pad=False), nn.MaxPool1d(2),
              nn.AvgPool1d(3, 2, 1), nn.AdaptiveMaxPool1d(2), nn.LeakyReLU(0.1), nn.Softmax(dim=-1), nn.Flatten()):
        assert tg.gradcheck(m, [x(2, 2, 5) if "1d" in type(m).__name__ else x(2, 2, 4, 5)])


# ---------------------------------------------------------------- initialisation
def test_default_initialisation_follows_torch():
    tg.manual_seed(1)
    lin = nn.Linear(200, 300)
    bound = 1 / math.sqrt(200)          # kaiming_uniform_(a=sqrt(5)) on (out, in) == U(-1/sqrt(in), 1/sqrt(in))
    w, b = lin.weight.numpy(), lin.bias.numpy()
    assert w.shape == (300, 200) and w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound and abs(w.mean()) < 0.01 * bound
    assert np.abs(b).max() <= bound and np.abs(b).max() > 0.9 * bound
    conv = nn.Conv2d(6, 50, (3, 5), groups=2)
    cb = 1 / math.sqrt(3 * 3 * 5)      # fan_in = in/groups * kh * kw
    assert conv.weight.shape == (50, 3, 3, 5)
    assert np.abs(conv.weight.numpy()).max() <= cb and np.abs(conv.weight.numpy()).max() > 0.95 * cb
    assert np.abs(conv.bias.numpy()).max() <= cb
    emb = nn.Embedding(1000, 64, padding_idx=3)
    e = emb.weight.numpy()
    assert abs(e.mean()) < 0.01 and abs(e.std() - 1) < 0.01 and not e[3].any()
    ln = nn.LayerNorm(5)
    assert ln.weight.numpy().tolist() == [1] * 5 and ln.bias.numpy().tolist() == [0] * 5
    assert nn.Linear(3, 2, bias=False).bias is None and [n for n, _ in nn.Linear(3, 2).named_parameters()] == ["weight", "bias"]


def test_initialisation_is_reproducible_with_manual_seed():
    tg.manual_seed(7)
    a = [p.numpy().copy() for p in nn.Sequential(nn.Conv2d(1, 2, 3), nn.Linear(4, 2), nn.Embedding(5, 2)).parameters()]
    tg.manual_seed(7)
    b = [p.numpy().copy() for p in nn.Sequential(nn.Conv2d(1, 2, 3), nn.Linear(4, 2), nn.Embedding(5, 2)).parameters()]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], nn.Conv2d(1, 2, 3).weight.numpy())


def test_embedding_from_pretrained():
    w = np.arange(12, dtype=np.float32).reshape(4, 3)
    emb = nn.Embedding.from_pretrained(tg.Tensor(w))
    assert not emb.weight.requires_grad
    np.testing.assert_array_equal(emb(tg.Tensor([3, 0])).numpy(), w[[3, 0]])
    assert nn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad


# ---------------------------------------------------------------- dropout
def test_dropout_statistics_and_modes():
    n, p = 200_000, 0.3
    drop = nn.Dropout(p)
    x = tg.ones(n, requires_grad=True)
    y = drop(x).numpy()
    kept = y != 0
    sigma = math.sqrt(p * (1 - p) / n)
    assert abs(kept.mean() - (1 - p)) < 5 * sigma                       # keep fraction ~ 1 - p
    np.testing.assert_allclose(y[kept], 1 / (1 - p), rtol=1e-6)          # kept units scaled by 1/(1-p)
    assert abs(y.mean() - 1) < 5 * sigma / (1 - p)                       # so the expectation is unchanged
    drop.eval()
    assert drop(x) is x                                                   # identity in eval
    drop.train()
    z = tg.randn(1000)
    tg.manual_seed(5)
    m1 = drop(z).numpy()
    m2 = drop(z).numpy()
    tg.manual_seed(5)
    np.testing.assert_array_equal(drop(z).numpy(), m1)                   # manual_seed reproduces the mask
    assert not np.array_equal(m1 != 0, m2 != 0)                           # and consecutive masks differ


def test_dropout_float64_and_errors():
    x = tg.Tensor(np.ones((50, 40)), requires_grad=True)
    y = nn.Dropout(0.5)(x)
    assert y.dtype == np.float64
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.numpy())   # d(sum)/dx is the mask scale itself
    with pytest.raises(ValueError, match="Dropout: probability has to be between 0 and 1, but got -0.1"):
        nn.Dropout(-0.1)


# ---------------------------------------------------------------- errors naming the layer
def test_layer_errors_name_the_layer_and_shapes():
    with pytest.raises(ValueError, match=r"Conv2d: expected input \(N, 3, H, W\) or \(3, H, W\), got shape \(2, 1, 8, 8\)"):
        nn.Conv2d(3, 4, 3)(tg.randn(2, 1, 8, 8))
    with pytest.raises(ValueError, match=r"Conv1d: expected input \(N, 2, L\) or \(2, L\), got shape \(4, 2, 3, 3\)"):
        nn.Conv1d(2, 4, 3)(tg.randn(4, 2, 3, 3))
    with pytest.raises(ValueError, match=r"Conv2d: kernel size \(5, 5\) \(dilated to \(5, 5\)\) is larger than the padded input \(4, 4\)"):
        nn.Conv2d(1, 1, 5)(tg.randn(1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"Linear: expected input \(\*, 4\) for weight \(2, 4\) \(in_features=4\), got shape \(3, 5\)"):
        nn.Linear(4, 2)(tg.randn(3, 5))
    with pytest.raises(ValueError, match=r"LayerNorm: expected input with trailing dims \(4,\)"):
        nn.LayerNorm(4)(tg.randn(4, 3))
    with pytest.raises(IndexError, match="Embedding: index 10 is out of range for num_embeddings=10"):
        nn.Embedding(10, 2)(tg.Tensor([[1, 10]]))
    with pytest.raises(TypeError, match="Embedding: expected an integer"):
        nn.Embedding(10, 2)(tg.Tensor([1.0]))
    with pytest.raises(ValueError, match=r"MaxPool2d: expected input \(N, C, H, W\) or \(C, H, W\), got shape \(5,\)"):
        nn.MaxPool2d(2)(tg.randn(5))
    with pytest.raises(ValueError, match="Conv2d: in_channels \\(3\\) and out_channels \\(4\\) must be divisible by groups \\(2\\)"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(IndexError, match="Flatten: dim 1 is out of range for input of shape \\(3,\\)"):
        nn.Flatten()(tg.randn(3))


def test_linear_rejects_a_dtype_mismatch_instead_of_promoting():
    """float64 input into float32 weights: torch raises, and so do we (no silent float64 output)."""
    lin = nn.Linear(4, 2)
    x64 = tg.Tensor(np.ones((3, 4)), dtype=tg.float64)
    with pytest.raises(TypeError, match=r"Linear: input dtype float64 does not match the weight's dtype "
                                        r"float32 \(use \.double\(\)/\.float\(\) on the module or the input\)"):
        lin(x64)
    with pytest.raises(TypeError, match="linear: input dtype float32 does not match the weight's dtype float64"):
        F.linear(tg.randn(3, 4), tg.Tensor(np.ones((2, 4))))
    with pytest.raises(TypeError, match="linear: bias dtype float64 does not match the weight's dtype float32"):
        F.linear(tg.randn(3, 4), tg.randn(2, 4), tg.Tensor(np.ones(2)))
    assert lin(x64.float()).dtype == tg.float32 and lin.double()(x64).dtype == tg.float64   # the suggested fixes
    if torch is not None:
        with pytest.raises(RuntimeError):
            torch.nn.Linear(4, 2)(torch.ones(3, 4, dtype=torch.float64))


# ---------------------------------------------------------------- GPU
def _small_net():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, stride=2),
                         nn.AvgPool2d(2, ceil_mode=True), nn.Flatten(), nn.Dropout(0.0), nn.LayerNorm(8), nn.Linear(8, 4))


@pytest.mark.gpu
def test_conv_net_forward_backward_cuda_matches_cpu():
    tg.manual_seed(0)
    cpu_net = _small_net()
    gpu_net = _small_net()
    gpu_net.load_state_dict(cpu_net.state_dict())
    gpu_net.to("cuda")
    x = np.random.default_rng(0).standard_normal((4, 3, 12, 12)).astype(np.float32)
    t = np.array([0, 3, 1, 2])
    results = []
    for net, dev in [(cpu_net, "cpu"), (gpu_net, "cuda")]:
        xt = tg.Tensor(x, device=dev, requires_grad=True)
        loss = F.cross_entropy(net(xt), tg.Tensor(t, device=dev), label_smoothing=0.1)
        loss.backward()
        results.append([loss.numpy(), xt.grad.numpy()] + [p.grad.numpy() for p in net.parameters()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
def test_text_cnn_ops_cuda_match_cpu():
    tg.manual_seed(0)
    emb, conv = nn.Embedding(20, 6, padding_idx=0), nn.Conv1d(6, 5, 3, padding=1)
    idx = np.random.default_rng(1).integers(0, 20, (3, 8))
    outs = []
    for dev in ("cpu", "cuda"):
        emb.to(dev)
        conv.to(dev)
        for p in list(emb.parameters()) + list(conv.parameters()):
            p.grad = None
        h = F.adaptive_max_pool1d(conv(emb(tg.Tensor(idx, device=dev)).transpose(1, 2)).relu(), 1)
        loss = F.binary_cross_entropy_with_logits(h.squeeze(-1), tg.ones(3, 5, device=dev) * 0.5)
        d = F.dropout(h, 0.5)   # runs on the device's generator
        assert d.device == dev
        loss.backward()
        outs.append([loss.numpy(), emb.weight.grad.numpy(), conv.weight.grad.numpy(), conv.bias.grad.numpy()])
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
