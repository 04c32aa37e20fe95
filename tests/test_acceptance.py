"""Acceptance: programs in the shape of PyTorch's examples and tutorials (tests/acceptance/),
each written once as run(torch, ...), run with tinygrad_seq and, when torch is installed, with
torch from the same initial weights: the losses must agree to float64 precision. Without torch,
each program still runs alone and must learn (its loss goes down)."""
import numpy as np
import pytest

import tinygrad_seq
from tests.acceptance import (word_language_model, time_sequence_prediction, mnist_cnn,
                              char_rnn_classification, char_rnn_generation, seq2seq_attention)

TOL = dict(rtol=1e-9, atol=1e-10)


def parity(program, **kw):
    """Run `program` in torch, then in tinygrad_seq from torch's initial weights."""
    torch = pytest.importorskip("torch")
    ref = program.run(torch, **kw)
    ours = program.run(tinygrad_seq, state=ref["init_state"], **kw)
    np.testing.assert_allclose(ours["losses"], ref["losses"], **TOL)
    return ref, ours


def learns(losses, k):
    """The mean of the last k losses is below the mean of the first k."""
    first, last = np.mean(losses[:k]), np.mean(losses[-k:])
    assert last < first, f"loss did not go down: first {k} mean {first:.4f}, last {k} mean {last:.4f}"


@pytest.mark.parametrize("rnn_type", ["LSTM", "GRU", "RNN_TANH"])
def test_word_language_model_matches_torch(rnn_type):
    ref, ours = parity(word_language_model, rnn_type=rnn_type)
    np.testing.assert_allclose(ours["val_losses"], ref["val_losses"], **TOL)


def test_word_language_model_learns_with_dropout():
    out = word_language_model.run(tinygrad_seq, "LSTM", dropout=0.2, epochs=3)
    learns(out["losses"], 6)
    assert out["val_losses"][-1] < out["val_losses"][0]


def test_time_sequence_prediction_matches_torch():
    ref, ours = parity(time_sequence_prediction)
    np.testing.assert_allclose(ours["test_losses"], ref["test_losses"], **TOL)
    np.testing.assert_allclose(ours["prediction"], ref["prediction"], rtol=1e-8, atol=1e-10)


def test_time_sequence_prediction_learns():
    out = time_sequence_prediction.run(tinygrad_seq)
    assert out["test_losses"][-1] < out["test_losses"][0]
    assert out["losses"][-1] < out["losses"][0] / 10
    assert out["prediction"].shape == (3, 39 + 8)


def test_mnist_cnn_matches_torch():
    ref, ours = parity(mnist_cnn)
    np.testing.assert_allclose(ours["test_losses"], ref["test_losses"], **TOL)
    assert ours["accuracies"] == ref["accuracies"]
    np.testing.assert_allclose(ours["lrs"], ref["lrs"], **TOL)


def test_mnist_cnn_learns_with_dropout_and_shuffle():
    out = mnist_cnn.run(tinygrad_seq, dropout=(0.25, 0.5), shuffle=True, epochs=4)
    learns(out["losses"], 4)
    np.testing.assert_allclose(out["lrs"], [1.0, 0.7, 0.49, 0.343])


def test_char_rnn_classification_matches_torch():
    ref, ours = parity(char_rnn_classification)
    assert ours["accuracy"] == ref["accuracy"] and ours["guesses"] == ref["guesses"]


def test_char_rnn_classification_learns():
    out = char_rnn_classification.run(tinygrad_seq, n_iters=90)
    learns(out["losses"], 30)
    assert out["accuracy"] > 1 / 3   # better than chance over three categories


def test_char_rnn_generation_matches_torch():
    ref, ours = parity(char_rnn_generation)
    assert ours["greedy"] == ref["greedy"]   # topk sampling is deterministic


def test_char_rnn_generation_learns_and_samples():
    out = char_rnn_generation.run(tinygrad_seq, dropout=0.1)
    learns(out["losses"], 10)
    letters = set(char_rnn_generation.all_letters)
    for name in out["random"]:   # multinomial samples: a start letter, then known letters
        assert 1 <= len(name) <= char_rnn_generation.max_length + 1 and set(name) <= letters


def test_seq2seq_attention_matches_torch():
    ref, ours = parity(seq2seq_attention)
    assert ours["translations"] == ref["translations"]
    for a, b in zip(ours["attentions"], ref["attentions"]):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)


def test_seq2seq_attention_learns():
    out = seq2seq_attention.run(tinygrad_seq, dropout_p=0.1, shuffle=True)
    learns(out["losses"], 3)
    for attn in out["attentions"]:   # each decoding step's weights are a distribution over the input
        np.testing.assert_allclose(attn.sum(-1), 1.0, rtol=1e-10)


# ---------------------------------------------------------------- library fixes the programs needed
def test_state_dict_lists_tied_weights_under_every_name():
    nn = tinygrad_seq.nn
    model = nn.Sequential(nn.Embedding(5, 3), nn.Linear(3, 5))
    model[1].weight = model[0].weight            # tied encoder / decoder
    sd = model.state_dict()
    assert list(sd) == ["0.weight", "1.weight", "1.bias"]
    assert sd["0.weight"] is sd["1.weight"]
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "1.bias"]
    fresh = nn.Sequential(nn.Embedding(5, 3), nn.Linear(3, 5))
    fresh[1].weight = fresh[0].weight
    fresh.load_state_dict(sd)
    np.testing.assert_array_equal(fresh[1].weight.numpy(), model[0].weight.numpy())
    torch = pytest.importorskip("torch")
    tmodel = torch.nn.Sequential(torch.nn.Embedding(5, 3), torch.nn.Linear(3, 5))
    tmodel[1].weight = tmodel[0].weight
    assert list(tmodel.state_dict()) == list(sd)


def test_state_dict_order_is_torchs():
    """Each module's parameters, then its buffers, then its children."""
    nn = tinygrad_seq.nn

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Linear(2, 2)
            self.register_buffer("count", tinygrad_seq.zeros(1))
            self.scale = nn.Parameter(tinygrad_seq.ones(1))
    assert list(M().state_dict()) == ["scale", "count", "inner.weight", "inner.bias"]


def test_integer_tensor_indexes_like_an_int():
    letters = "abcdef"
    i = tinygrad_seq.tensor([3]).topk(1)[1][0]
    assert letters[i] == "a" and letters[tinygrad_seq.tensor(4)] == "e"
    assert list(range(10))[tinygrad_seq.tensor([[2]])[0][0]] == 2
    with pytest.raises(TypeError, match="integer tensors of a single element"):
        letters[tinygrad_seq.tensor(1.0)]
    with pytest.raises(TypeError, match="single element"):
        letters[tinygrad_seq.tensor([1, 2])]


def test_multinomial_and_bernoulli_methods():
    tinygrad_seq.manual_seed(0)
    w = tinygrad_seq.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    assert w.multinomial(1).tolist() == [[1], [2]]
    assert sorted(w[0].multinomial(1, replacement=True).tolist()) == [1]
    draws = tinygrad_seq.full((2000,), 0.3).bernoulli().numpy()
    assert set(np.unique(draws)) <= {0.0, 1.0} and abs(draws.mean() - 0.3) < 0.05
    with pytest.raises(ValueError, match="multinomial"):
        w.multinomial(3)
