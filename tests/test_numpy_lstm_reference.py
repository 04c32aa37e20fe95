"""The benchmarks' hand-written NumPy LSTM is only a fair speed reference if it is right:
its loss and every gradient equal PyTorch's on the same weights."""
import numpy as np

from benchmarks.numpy_lstm import NumpyCharLSTM
from tests.conftest import torch, requires_torch


@requires_torch
def test_numpy_reference_matches_torch():
    V, D, H, T, B = 7, 5, 4, 6, 3
    ref = NumpyCharLSTM(V, D, H, seed=1, dtype=np.float64)
    rng = np.random.default_rng(2)
    ids, tgt = rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))
    loss, grads = ref.loss_and_grads(ids, tgt)

    emb = torch.nn.Embedding(V, D).double()
    lstm = torch.nn.LSTM(D, H).double()
    dec = torch.nn.Linear(H, V).double()
    p = ref.p
    with torch.no_grad():
        emb.weight.copy_(torch.tensor(p["emb"]))
        for n in ("w_ih", "w_hh", "b_ih", "b_hh"):
            getattr(lstm, n.replace("w_", "weight_").replace("b_", "bias_") + "_l0").copy_(torch.tensor(p[n]))
        dec.weight.copy_(torch.tensor(p["w_dec"]))
        dec.bias.copy_(torch.tensor(p["b_dec"]))
    out, _ = lstm(emb(torch.tensor(ids)))
    tloss = torch.nn.functional.cross_entropy(dec(out).reshape(-1, V), torch.tensor(tgt).reshape(-1))
    tloss.backward()
    np.testing.assert_allclose(loss, tloss.item(), rtol=1e-10)
    pairs = {"emb": emb.weight, "w_ih": lstm.weight_ih_l0, "w_hh": lstm.weight_hh_l0, "b_ih": lstm.bias_ih_l0,
             "b_hh": lstm.bias_hh_l0, "w_dec": dec.weight, "b_dec": dec.bias}
    for n, tp in pairs.items():
        np.testing.assert_allclose(grads[n], tp.grad.numpy(), rtol=1e-8, atol=1e-12, err_msg=n)
