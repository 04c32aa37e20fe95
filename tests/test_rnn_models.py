"""The small architectures of tinygrad_seq.models each learn a tiny generated task."""
import numpy as np
import pytest

import tinygrad_seq as tg
from tinygrad_seq.models import CharRNN, Seq2Seq, SequenceClassifier, SequenceTagger, recurrent_layer
from tinygrad_seq.nn.functional import cross_entropy
from tinygrad_seq.optim import Adam


def _train(model, loss_fn, steps, lr=0.03):
    opt = Adam(list(model.parameters()), lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("cell, layers", [("LSTM", 1), ("GRU", 2), ("RNN", 1)])
def test_char_rnn_learns_a_repeating_pattern_and_generates(cell, layers):
    tg.manual_seed(0)
    pattern = [0, 1, 2, 3, 1, 2]                 # after 1 comes 2; after 2 comes 3 or 1 (needs memory)
    text = np.array(pattern * 12)
    ids = np.stack([text[i:i + 24] for i in range(0, 36, 6)], axis=1)   # (24, 6) windows
    x, y = tg.tensor(ids[:-1]), tg.tensor(ids[1:])
    model = CharRNN(4, embedding_dim=8, hidden_size=24, num_layers=layers, cell=cell)
    losses = _train(model, lambda: cross_entropy(model(x)[0].reshape(-1, 4), y.reshape(-1)), 60)
    assert losses[-1] < 0.25 * losses[0], losses[::10]
    # greedy generation continues the pattern; sampling is reproducible under manual_seed
    assert model.generate([0, 1, 2, 3], 8, temperature=0) == [1, 2, 0, 1, 2, 3, 1, 2]
    tg.manual_seed(5)
    a = model.generate([0, 1], 10, temperature=1.5)
    tg.manual_seed(5)
    assert model.generate([0, 1], 10, temperature=1.5) == a and len(a) == 10
    assert model.training   # generate restores the mode


def test_char_rnn_dropout_on_embeddings_and_outputs():
    """dropout acts on the embeddings and the recurrent outputs (so one layer is regularized
    too), between stacked layers only inside the recurrent layer, and not at all in eval."""
    tg.manual_seed(0)
    x = tg.tensor(np.random.default_rng(0).integers(0, 7, (5, 3)))
    one, two = CharRNN(7, 4, 8, dropout=0.5), CharRNN(7, 4, 8, num_layers=2, dropout=0.5)
    assert one.rnn.dropout == 0.0 and two.rnn.dropout == 0.5 and one.drop.p == 0.5
    a, b = one(x)[0].numpy(), one(x)[0].numpy()
    assert not np.allclose(a, b)                               # training: a fresh mask each call
    one.eval()
    np.testing.assert_array_equal(one(x)[0].numpy(), one(x)[0].numpy())
    plain = CharRNN(7, 4, 8)
    plain.load_state_dict(one.state_dict())                    # no parameters of its own
    np.testing.assert_allclose(plain(x)[0].numpy(), one(x)[0].numpy(), rtol=1e-6)


def test_char_rnn_generate_from_an_initial_state_and_in_batches():
    tg.manual_seed(0)
    model = CharRNN(5, 4, 6)
    h0 = (tg.randn(1, 2, 6), tg.randn(1, 2, 6))
    out = model.generate(np.array([[1, 2], [3, 4]]), 4, temperature=0.7, state=h0)
    assert out.shape == (4, 2) and out.dtype.kind == "i" and out.max() < 5
    with pytest.raises(ValueError, match="seed_ids must be a non-empty sequence of integer ids"):
        model.generate([], 3)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_sequence_classifier_uses_lengths(bidirectional):
    """Label: does token 3 occur in the (variable-length) sequence? Padding holds 3s to
    punish any model that reads past a sequence's end."""
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    T, B = 7, 32
    lengths = rng.integers(2, T + 1, B)
    ids = rng.integers(0, 3, (T, B))
    has = rng.random(B) < 0.5
    for b in range(B):
        if has[b]:
            ids[rng.integers(0, lengths[b]), b] = 3
        ids[lengths[b]:, b] = 3
    x, y = tg.tensor(ids), tg.tensor(has.astype(np.int64))
    model = SequenceClassifier(8, 16, 2, vocab_size=4, bidirectional=bidirectional, num_layers=2)
    losses = _train(model, lambda: cross_entropy(model(x, lengths=lengths), y), 50)
    assert losses[-1] < 0.3 * losses[0], losses[::10]
    pred = model(x, lengths=lengths).argmax(axis=-1).numpy()
    assert (pred == has).mean() > 0.9


def test_sequence_tagger_needs_the_future():
    """Tag t = the token at t+1 (0 at the end): only the reverse direction can know it."""
    tg.manual_seed(0)
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 4, (6, 16))
    tags = np.concatenate([ids[1:], np.zeros((1, 16), dtype=ids.dtype)])
    x, y = tg.tensor(ids), tg.tensor(tags)
    model = SequenceTagger(8, 16, 4, vocab_size=4, cell="GRU")
    losses = _train(model, lambda: cross_entropy(model(x).reshape(-1, 4), y.reshape(-1)), 60)
    assert losses[-1] < 0.2 * losses[0], losses[::10]
    assert (model(x).argmax(axis=-1).numpy() == tags).mean() > 0.95


def test_seq2seq_learns_to_reverse_and_decodes_greedily():
    tg.manual_seed(0)
    rng = np.random.default_rng(2)
    BOS, V, S, B = 0, 6, 4, 32
    src = rng.integers(1, V, (S, B))
    tgt = src[::-1]
    tgt_in = np.concatenate([np.full((1, B), BOS), tgt[:-1]])
    s, ti, to = tg.tensor(src), tg.tensor(tgt_in), tg.tensor(tgt.copy())
    model = Seq2Seq(V, V, embedding_dim=12, hidden_size=48)
    losses = _train(model, lambda: cross_entropy(model(s, ti).reshape(-1, V), to.reshape(-1)), 120, lr=0.02)
    assert losses[-1] < 0.3 * losses[0], losses[::20]
    decoded = model.greedy_decode(s, S, BOS)
    assert decoded.shape == (S, B) and (decoded == tgt).mean() > 0.8
    # scheduled sampling: a different graph (fed back predictions), reproducible under manual_seed
    tg.manual_seed(3)
    a = model(s, ti, teacher_forcing_ratio=0.5).numpy()
    tg.manual_seed(3)
    np.testing.assert_array_equal(a, model(s, ti, teacher_forcing_ratio=0.5).numpy())
    assert a.shape == (S, B, V)
    with pytest.raises(ValueError, match="teacher_forcing_ratio must be in"):
        model(s, ti, teacher_forcing_ratio=2.0)


def test_recurrent_layer_by_name():
    assert recurrent_layer("gru", 3, 4, num_layers=2).num_layers == 2
    with pytest.raises(ValueError, match="unknown cell 'TRANSFORMER'"):
        recurrent_layer("TRANSFORMER", 3, 4)
