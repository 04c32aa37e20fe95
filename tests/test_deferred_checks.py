"""Deferred validity checks (backend.check / flush_checks): on the GPU an index or target
check must not wait for the device, yet a bad value must never pass unnoticed; it raises at
the next host read. On the CPU the checks raise at once (their messages are tested with the
layers); monkeypatching checks._deferred makes NumPy take the GPU's deferred path, so it is tested here.
Negative indices are used on the CPU because NumPy, like CuPy for every out-of-range index,
wraps them around silently: without the check the result would just be wrong."""
import contextlib
import types

import numpy as np
import pytest

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
import tinygrad_seq.nn.functional as F
from tinygrad_seq import backend, optim
from tinygrad_seq.backend import checks

gpu = pytest.mark.gpu


@pytest.fixture
def deferred(monkeypatch):
    """NumPy takes the deferred (GPU) path; nothing is left pending afterwards."""
    monkeypatch.setattr(checks, "_deferred", lambda xp: True)
    yield
    checks._pending.clear()
    checks._pending_limit = checks.MAX_PENDING_CHECKS


def test_check_raises_at_once_on_cpu_by_default():
    assert backend.pending_checks() == 0
    with pytest.raises(IndexError, match="^op: value 3 is bad$"):
        backend.check(np, np.bool_(True), "op: value {} is bad", (np.int64(3),), error=IndexError)
    called = []
    backend.check(np, np.bool_(False), "op: {}", lambda: called.append(1) or (0,))
    assert not called and backend.pending_checks() == 0   # the values are only built on failure
    with pytest.raises(IndexError, match="embedding: index -1 is out of range"):
        F.embedding(tg.Tensor([[0, -1]]), tg.randn(4, 2))   # before the op runs


def test_embedding_error_waits_for_the_next_item(deferred):
    emb = nn.Embedding(5, 3)
    out = emb(tg.Tensor([[1, -2], [0, 4]]))    # NumPy wraps -2 to row 3: no error yet
    assert backend.pending_checks() == 1
    loss = out.sum()
    loss.backward()
    with pytest.raises(IndexError, match=r"Embedding: index -2 is out of range for num_embeddings=5 "
                                         r"\(valid indices are 0..4\); indices of shape \(2, 2\) \(found by a "
                                         r"deferred device-side check"):
        loss.item()
    assert backend.pending_checks() == 0       # raised once, then forgotten
    assert isinstance(loss.item(), float)
    emb(tg.Tensor([0, 4])).numpy()             # good indices: nothing to raise
    assert backend.pending_checks() == 0


def test_cross_entropy_and_nll_report_the_first_bad_target(deferred):
    x = tg.randn(4, 3, requires_grad=True)
    loss = F.cross_entropy(x, tg.Tensor([0, -1, -100, -3]))   # -100 is ignore_index
    loss.backward()
    with pytest.raises(IndexError, match=r"cross_entropy: target -1 is out of bounds for 3 classes "
                                         r"\(input shape \(4, 3\); valid targets are 0..2 or ignore_index=-100\)"):
        loss.item()
    loss = F.nll_loss(x.log_softmax(), tg.Tensor([0, 1, 2, -2]))
    with pytest.raises(IndexError, match="nll_loss: target -2 is out of bounds"):
        tg.flush_checks()                      # an explicit flush raises too
    loss.item()
    oh = F.one_hot(tg.Tensor([0, 3]), num_classes=3)
    with pytest.raises(IndexError, match=r"one_hot: class values must be in \[0, 3\), got \[0, 3\]"):
        oh.tolist()


def test_a_failed_check_is_found_by_any_host_read(deferred):
    other = tg.Tensor([1.0])
    t = F.embedding(tg.Tensor([-1]), tg.randn(3, 2))
    with pytest.raises(IndexError, match="embedding: index -1"):
        other.item()                           # another tensor's read: the error is not lost
    F.embedding(tg.Tensor([-1]), tg.randn(3, 2))
    with pytest.raises(IndexError, match="embedding: index -1"):
        repr(t)


def test_pending_checks_stay_bounded_and_keep_the_first_failure(deferred):
    # tensors made up front: in this CPU mode every to_numpy flushes, making a tensor included
    w, logits, target = tg.randn(10, 2), tg.randn(2, 3), tg.Tensor([0, 1])
    good, bad_a, bad_b = tg.Tensor([[1, 2]]), tg.Tensor([[1, -4]]), tg.Tensor([[-7, 2]])
    for i in range(300):
        F.embedding(bad_a if i == 100 else bad_b if i == 200 else good, w)
        F.cross_entropy(logits, target)        # a second message, always fine
        assert backend.pending_checks() <= backend.MAX_PENDING_CHECKS + 1
    with pytest.raises(IndexError, match="embedding: index -4 is out of range"):   # the first of the two
        backend.flush_checks()
    assert backend.pending_checks() == 0
    for _ in range(300):                       # all fine: merging loses nothing, flush stays silent
        F.embedding(good, w)
    backend.flush_checks()


def test_many_distinct_messages_are_all_kept(deferred):
    w = tg.randn(10, 2)
    indices = [tg.Tensor([-1] * n if n == 149 else [0] * n) for n in range(1, 150)]
    for idx in indices:                        # each shape is its own message: none can be merged
        F.embedding(idx, w)
    assert backend.pending_checks() == 149
    with pytest.raises(IndexError, match=r"index -1 .* indices of shape \(149,\)"):
        tg.Tensor([0.0]).numpy()


def test_gpu_flush_path_with_a_stand_in_for_cupy(monkeypatch, deferred):
    """The CuPy branch of flush_checks (one stacked copy of the flags), run on NumPy arrays."""
    fake = types.SimpleNamespace(stack=np.stack, asnumpy=np.asarray, ndarray=np.ndarray)
    monkeypatch.setattr(checks, "_deferred", lambda xp: xp is fake)
    monkeypatch.setattr(backend.devices, "_cupy", fake)
    backend.check(fake, np.array(False), "fine {}", (np.array(1),))
    backend.check(fake, np.array(True), "op: index {} is bad", (np.array(7),), error=IndexError)
    backend.check(fake, np.array(True), "op: later {}", (np.array(8),))
    assert backend.pending_checks() == 3
    assert tg.Tensor([1.0]).item() == 1.0      # a CPU read does not wait for the GPU's checks
    assert backend.pending_checks() == 3
    with pytest.raises(IndexError, match="^op: index 7 is bad \\(found by a deferred device-side check"):
        backend.flush_checks()
    assert backend.pending_checks() == 0


# ---------------------------------------------------------------- GPU: no sync, the error at .item()
def _no_sync():
    """cupyx.allow_synchronize(False) where CuPy has it: any device sync inside raises."""
    import cupyx
    allow = getattr(cupyx, "allow_synchronize", None)
    return allow(False) if allow is not None else contextlib.nullcontext()


def _emb_ce_step(V=7, E=4):
    tg.manual_seed(0)
    emb, dec = nn.Embedding(V, E).to("cuda"), nn.Linear(E, V).to("cuda")
    opt = optim.SGD([*emb.parameters(), *dec.parameters()], lr=0.1)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(dec(emb(x)).reshape(-1, V), y.reshape(-1))
        loss.backward()
        opt.step()
        return loss
    return step


@gpu
def test_gpu_embedding_cross_entropy_step_makes_no_host_copies():
    V = 7
    step = _emb_ce_step(V)
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.integers(0, V, (5, 3)), device="cuda")
    y = tg.tensor(rng.integers(0, V, (5, 3)), device="cuda")
    step(x, y).item()                          # first step: kernels compile
    with backend.count_host_copies() as c, _no_sync():
        loss = step(x, y)
        assert backend.pending_checks() == 2   # Embedding's and cross_entropy's, on the device
    assert c.count == 0, f"an Embedding + cross_entropy step copied {c.count} arrays to the host"
    assert np.isfinite(loss.item()) and backend.pending_checks() == 0


@gpu
def test_gpu_bad_index_or_target_raises_at_the_next_item():
    V = 7
    step = _emb_ce_step(V)
    x = tg.tensor(np.array([[1, 2], [V + 3, 0]]), device="cuda")
    y = tg.tensor(np.array([[1, 2], [3, 4]]), device="cuda")
    with _no_sync():
        loss = step(x, y)                      # CuPy wraps V + 3 around: no error yet
    with pytest.raises(IndexError, match=f"Embedding: index {V + 3} is out of range for num_embeddings={V}"):
        loss.item()
    with _no_sync():
        loss = step(y, tg.tensor(np.array([[1, 2], [-5, V]]), device="cuda"))
    with pytest.raises(IndexError, match=f"cross_entropy: target -5 is out of bounds for {V} classes"):
        loss.item()
    assert np.isfinite(step(y, y).item())
