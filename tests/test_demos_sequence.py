"""The sequence demos (gradients, tbptt, seq2seq, tagging): each --quick run learns what it
claims, prints its tables and pictures, and the generated data means what the demo says."""
import math

import numpy as np
import pytest

import tinygrad_seq as tg
from demos import common, gradients, seq2seq, tagging, tbptt
from demos import DEMOS
from tests import demo_cache


def run(module, argv):
    con = common.make_console(record=True)
    out = module.main(argv, console=con)
    return out, con.export_text()


def test_registered():
    for name in ("gradients", "tbptt", "seq2seq", "tagging"):
        assert DEMOS[name] == f"demos.{name}"


# ---------------------------------------------------------------- gradients
@pytest.fixture(scope="module")
def gradients_run():
    return demo_cache.run("python -m demos gradients --quick")


def test_gradients_vanish_in_the_rnn_not_in_gated_cells(gradients_run):
    out, _ = gradients_run
    T = out["heat_length"]
    for cell in gradients.CELLS:
        for step, norms in out["grad_norms"][cell].items():
            # (the RNN's early ones may underflow to exactly 0 in float32: vanished for good)
            assert norms.shape == (T,) and np.all(norms >= 0) and norms[-1] > 0, (cell, step)
    r = out["log10_ratio"]
    first = out["snapshots"][0]
    # at initialization, the gradient reaching t=1 is orders of magnitude smaller in the tanh RNN
    assert r["RNN"][first] < r["LSTM"][first] - 2 and r["RNN"][first] < r["GRU"][first] - 2, r
    assert all(r["RNN"][s] < -3 for s in out["snapshots"]), r["RNN"]


def test_gradients_accuracy_against_length(gradients_run):
    out, _ = gradients_run
    acc, lengths = out["accuracy"], out["lengths"]
    assert lengths == [5, 40]
    for cell in gradients.CELLS:              # short sequences: every cell learns
        assert acc[cell][0] >= 0.9, (cell, acc[cell])
    # T=40: the GRU learns, the LSTM mostly, the tanh RNN is left far behind
    assert acc["GRU"][1] >= 0.9 and acc["LSTM"][1] >= 0.65, acc
    assert acc["RNN"][1] < min(acc["LSTM"][1], acc["GRU"][1]) - 0.2, acc
    for cell in ("LSTM", "GRU"):
        curve = out["curves"][cell][40]
        assert np.mean(curve[-10:]) < 0.6 * np.mean(curve[:10]), cell


def test_gradients_clipping_rescues_the_exploding_run(gradients_run):
    out, _ = gradients_run
    runs = list(out["exploding"].values())
    free, clipped = [r for r in runs if not r["clipped"]][0], [r for r in runs if r["clipped"]][0]
    assert free["diverged_at"] is not None or free["max_grad_norm"] > 1e3
    assert clipped["diverged_at"] is None and clipped["accuracy"] >= 0.9
    assert clipped["max_grad_norm"] > 10            # the gradient did explode: clipping had work to do
    assert math.isfinite(clipped["final_loss"]) and clipped["final_loss"] < 0.2


def test_gradients_prints_heat_map_and_tables(gradients_run):
    _, text = gradients_run
    for piece in ("||dL/dh_t|| / ||dL/dh_T||", "RNN  step", "LSTM step", "GRU  step",
                  "held-out accuracy after", "T=40", "with and without gradient clipping", "no clipping",
                  "clipped at 1", "NaN at step"):
        assert piece in text, piece
    assert any(ch in text for ch in "░▒▓█")


def test_recall_batch_has_the_key_first_and_the_marker_last():
    x, y = gradients.recall_batch(np.random.default_rng(0), 7, 6, "cpu")
    x, y = x.numpy(), y.numpy()
    assert x.shape == (6, 7, gradients.VOCAB) and y.shape == (7,)
    assert np.array_equal(x[0, :, :gradients.KEYS].argmax(1), y)
    assert np.all(x[1:, :, :gradients.KEYS] == 0) and np.all(x[-1, :, -1] == 1)
    assert np.all(x[:, :, :-1].sum(-1) == 1)        # one symbol per step


# ---------------------------------------------------------------- tbptt
@pytest.fixture(scope="module")
def tbptt_run():
    return demo_cache.run("python -m demos tbptt --quick")


def test_tbptt_truncation_below_the_delay_cannot_learn(tbptt_run):
    out, _ = tbptt_run
    res = out["results"]
    full = res[f"full BPTT, k={out['T']}"]
    short, long_ = res["TBPTT, k=4"], res["TBPTT, k=32"]
    chance = out["chance_loss"]
    assert short["final_loss"] > chance - 0.05 and short["final_accuracy"] < 0.35
    assert long_["final_loss"] < chance - 0.2 and long_["final_accuracy"] > 0.45
    assert long_["final_loss"] < full["final_loss"] - 0.1    # many cheap updates beat one per epoch here
    assert (full["updates_per_epoch"], short["updates_per_epoch"], long_["updates_per_epoch"]) == (1, 100, 13)


def test_tbptt_memory_grows_with_the_backprop_length(tbptt_run):
    out, _ = tbptt_run
    res = out["results"]
    full = res[f"full BPTT, k={out['T']}"]
    # every step's activations alive at once vs k steps' worth: 400 steps vs 32 and 4
    assert full["peak_bytes"] > 3 * res["TBPTT, k=32"]["peak_bytes"]
    assert res["TBPTT, k=32"]["peak_bytes"] > res["TBPTT, k=4"]["peak_bytes"] > 0
    assert all(r["time_per_epoch"] > 0 for r in res.values())


def test_tbptt_prints_its_table(tbptt_run):
    _, text = tbptt_run
    for piece in ("updates", "time/epoch", "peak memory", "loss per epoch", "full BPTT, k=400",
                  "TBPTT, k=4", "TBPTT, k=32", "MiB"):
        assert piece in text, piece


def test_echo_stream_targets_are_the_delayed_inputs():
    x, y = tbptt.echo_stream(np.random.default_rng(0), 120, 3, 5, 4, "cpu")
    s, y = x.numpy().argmax(-1), y.numpy()
    assert x.shape == (40, 3, 5) and y.shape == (40, 3)
    assert np.all(y[:4] == -100) and np.array_equal(y[4:], s[:-4])


def test_tbptt_loss_of_a_chunk_without_targets_is_zero_not_nan():
    loss = tbptt.make_loss(3)(tg.randn(2, 2, 3, requires_grad=True), tg.tensor(np.full((2, 2), -100)))
    assert loss.item() == 0.0


# ---------------------------------------------------------------- seq2seq
@pytest.fixture(scope="module")
def seq2seq_run():
    return demo_cache.run('python -m demos seq2seq --quick --translate "seven hundred one"')


def test_seq2seq_learns_to_translate_held_out_numbers(seq2seq_run):
    out, _ = seq2seq_run
    assert out["n_test"] == 200 and out["n_train"] == 800
    assert out["exact_match"] >= 0.7, out["exact_match"]          # chance: ~1e-3
    assert out["digit_accuracy"] >= out["exact_match"]
    assert out["epoch_exact_match"][-1] > out["epoch_exact_match"][0] + 0.5
    losses = out["losses"]
    assert np.mean(losses[-10:]) < 0.3 * np.mean(losses[:10])
    for words, target, pred in out["samples"]:
        assert target == str(seq2seq.words_to_number(words.split()))
    assert set(out["translations"]) == {"seven hundred one"}
    assert out["translations"]["seven hundred one"].isdigit()


def test_seq2seq_prints_sample_translations(seq2seq_run):
    _, text = seq2seq_run
    for piece in ("held-out numbers, greedy decoding", "input", "target", "prediction", "✓",
                  "what it learned", "exact match", "seven hundred one ->"):
        assert piece in text, piece


def test_number_words():
    assert seq2seq.words(0) == ["zero"]
    assert " ".join(seq2seq.words(342007)) == "three hundred forty two thousand seven"
    assert " ".join(seq2seq.words(1010)) == "one thousand ten"
    rng = np.random.default_rng(0)
    for n in rng.integers(0, 10**6, size=300):
        assert seq2seq.words_to_number(seq2seq.words(int(n))) == n


def test_seq2seq_targets_are_shifted_and_padded():
    tgt_in, tgt_out = seq2seq.encode_target([42, 7], "cpu")
    ti, to = tgt_in.numpy(), tgt_out.numpy()
    assert ti[:, 0].tolist() == [seq2seq.BOS, 3 + 4, 3 + 2]
    assert to[:, 0].tolist() == [3 + 4, 3 + 2, seq2seq.EOS]
    assert ti[:, 1].tolist() == [seq2seq.BOS, 3 + 7, seq2seq.PAD]
    assert to[:, 1].tolist() == [3 + 7, seq2seq.EOS, -100]


def test_seq2seq_rejects_unknown_words():
    with pytest.raises(SystemExit):
        seq2seq.main(["--quick", "--translate", "eleventy one"], console=common.make_console(record=True))


# ---------------------------------------------------------------- tagging
@pytest.fixture(scope="module")
def tagging_run():
    return demo_cache.run('python -m demos tagging --quick --tag "watch the stone dog"')


def test_tagging_bidirectional_beats_left_to_right_where_the_next_word_decides(tagging_run):
    out, _ = tagging_run
    bi, uni = out["results"][out["bi"]], out["results"][out["uni"]]
    p_bi, p_uni = out["params"][out["bi"]], out["params"][out["uni"]]
    assert abs(p_bi - p_uni) < 0.05 * p_bi                  # the same size
    assert bi["token"] >= 0.97 and bi["ambiguous"] >= 0.95, bi
    assert bi["unambiguous"] >= 0.97
    assert uni["unambiguous"] >= 0.95, uni                  # left context is enough elsewhere ...
    assert uni["ambiguous"] <= 0.7, uni                     # ... but not where the next word decides (a coin flip)
    assert bi["ambiguous"] - uni["ambiguous"] >= 0.2
    assert bi["sentence"] > uni["sentence"] + 0.2
    assert out["tagged"]["watch the stone dog"][out["bi"]] == ["VERB", "DET", "ADJ", "NOUN"]


def test_tagging_prints_table_and_colored_sentences(tagging_run):
    _, text = tagging_run
    for piece in ("held-out per-token accuracy", "ambiguous", "sentences", "BiLSTM (2x32)", "truth", "/DET", "✗",
                  "your sentences"):
        assert piece in text, piece


def test_generated_tags_follow_the_next_word():
    rng = np.random.default_rng(0)
    seen_start, seen_mod = set(), set()
    for _ in range(500):
        words, tags = tagging.sentence(rng)
        assert len(words) == len(tags)
        if words[0] in tagging.AMB_START:
            assert tags[0] == ("VERB" if words[1] in tagging.DET else "NOUN")
            seen_start.add(tags[0])
        for k in range(1, len(words)):
            if words[k] in tagging.AMB_MOD:
                nxt = words[k + 1] if k + 1 < len(words) else None
                assert tags[k] == ("ADJ" if nxt in tagging.NOUN else "NOUN"), (words, tags)
                seen_mod.add(tags[k])
    assert seen_start == {"VERB", "NOUN"} and seen_mod == {"ADJ", "NOUN"}


def test_seq2seq_stacks_layers():
    """--layers 2: a deep (stacked) encoder and decoder, as the README's slides table says."""
    one, _ = run(seq2seq, ["--quick", "--epochs", "1", "--train", "64", "--test", "16"])
    two, text = run(seq2seq, ["--quick", "--layers", "2", "--epochs", "1", "--train", "64", "--test", "16"])
    assert one["layers"] == 1 and two["layers"] == 2
    assert two["parameters"] > one["parameters"] and "2-layer LSTM encoder-decoder" in text
