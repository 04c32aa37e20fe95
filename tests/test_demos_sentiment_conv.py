"""The sentiment demo (bag of words vs n-grams vs 1D CNN vs LSTM) and the conv demo (2D CNN
on drawn digits or MNIST IDX files): quick runs learn, and their pieces do what they say."""
import gzip
from collections import Counter

import numpy as np
import pytest

import tinygrad_seq as tg
from demos import common, conv, sentiment
from demos.sentiment import BOW, CNN, LSTM, NGRAM
from tests import demo_cache


# ---------------------------------------------------------------- sentiment
@pytest.fixture(scope="module")
def sentiment_run():
    return demo_cache.run("python -m demos sentiment --quick")


def test_sentiment_quick_order_aware_models_beat_bag_of_words(sentiment_run):
    out, _ = sentiment_run
    r = out["results"]
    assert r[BOW]["test"] < 0.7                        # order-blind: near chance on this corpus
    for name in (CNN, LSTM):
        assert r[name]["test"] >= 0.8, (name, r[name]["test"])
        assert r[name]["test"] - r[BOW]["test"] >= 0.2, (name, r[name]["test"], r[BOW]["test"])
        assert r[name]["loss_last"] < 0.6 * r[name]["loss_first"], name
    assert r[NGRAM]["test"] > r[BOW]["test"] + 0.1     # bigrams see "not good"
    # where order decides, the bag of words is at (or below) chance and the CNN is not
    bt = out["by_template"]
    for kind in ("negated", "contrast"):
        assert bt[BOW][kind] < 0.65 and bt[CNN][kind] > bt[BOW][kind] + 0.25, (kind, bt[BOW][kind], bt[CNN][kind])
    for name in r:
        assert r[name]["confusion"].sum() == out["n_test"]
        assert np.trace(r[name]["confusion"]) == round(r[name]["test"] * out["n_test"])


def test_sentiment_prints_tables_and_the_winning_windows(sentiment_run):
    out, text = sentiment_run
    for piece in ("accuracy", "test accuracy per template", "confusion matrices", BOW, NGRAM, CNN, LSTM,
                  "why the CNN says", "winning window", "words"):
        assert piece in text, piece
    ex = out["explained"]
    toks = sentiment.tokenize(ex["sentence"])
    assert ex["windows"]
    for w in ex["windows"]:      # each winning window is a run of consecutive words of the sentence
        assert 1 <= len(w) <= 5
        assert any(toks[i:i + len(w)] == w for i in range(len(toks))), (w, toks)
        assert "[" + w[0] in text    # the window is bracketed (and styled) in the printed sentence


def test_generated_reviews_follow_their_template():
    rng = np.random.default_rng(1)
    texts, labels, kinds = sentiment.make_corpus(600, rng, noise=0.0)
    pos, neg = set(sentiment.POSITIVE), set(sentiment.NEGATIVE)
    for t, y, k in zip(texts, labels, kinds):
        words = t.split()
        adjs = [w for w in words if w in pos or w in neg]
        if k == "plain":
            assert all((w in pos) == bool(y) for w in adjs), t
        elif k == "negated":
            assert len(adjs) == 1 and (adjs[0] in pos) != bool(y), t
        else:   # contrast / expectation: one adjective of each polarity, so the words alone cannot decide
            assert len(adjs) == 2 and (adjs[0] in pos) != (adjs[1] in pos), t
    assert set(kinds) == set(sentiment.TEMPLATES)
    # with adjectives replaced by their polarity, the same bag of words comes with both labels
    # ("not good , rather bad" vs "not bad , rather good"): counts alone cannot decide
    bags = {}
    for t, y, k in zip(texts, labels, kinds):
        if k in ("contrast", "expectation"):
            abstract = ["+" if w in pos else "-" if w in neg else w for w in t.split()]
            bags.setdefault(frozenset(Counter(abstract).items()), set()).add(int(y))
    assert sum(len(v) == 2 for v in bags.values()) >= 10


def test_label_noise_rate():
    _, clean, _ = sentiment.make_corpus(3000, np.random.default_rng(5), noise=0.0)
    _, noisy, _ = sentiment.make_corpus(3000, np.random.default_rng(5), noise=0.1)
    assert 0.07 < (clean != noisy).mean() < 0.13


def test_test_sentences_are_not_in_training():
    (tr, _, _), (te, _, _), names = sentiment.generated_data(500, 200, np.random.default_rng(0), 0.03)
    assert len(te) == 200 and not set(tr) & set(te) and names == ["negative", "positive"]


def _ids(vocab, texts, width):
    ids, lengths = sentiment.encode(texts, vocab, width)
    return tg.Tensor(ids), lengths


def test_padding_does_not_change_cnn_or_lstm_predictions():
    texts = ["the plot was not good , rather bad .", "what a great movie !", "bad"]
    vocab = sentiment.WordVocab([sentiment.tokenize(t) for t in texts])
    for model in (sentiment.TextCNN(len(vocab), 2), sentiment.LSTMClassifier(len(vocab), 2)):
        model.eval()
        for t in texts:
            alone_ids, alone_len = _ids(vocab, [t], 5)
            padded_ids, padded_len = _ids(vocab, [t, texts[0] + " and more words here to pad"], 5)
            with tg.no_grad():
                a = model(alone_ids, alone_len).numpy()[0]
                b = model(padded_ids, padded_len).numpy()[0]
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=f"{type(model).__name__}: {t}")


def test_cnn_explanation_windows_are_the_max_pool_winners():
    texts = ["the acting was not dull , rather superb .", "the film was bad ."]
    vocab = sentiment.WordVocab([sentiment.tokenize(t) for t in texts])
    cnn = sentiment.TextCNN(len(vocab), 2, filters=4)
    pred, prob, toks, top = sentiment.explain(cnn, vocab, texts[0], "cpu", top=12)
    ids, lengths = _ids(vocab, texts[:1], 5)
    with tg.no_grad():
        maps = [m.numpy()[0] for m in cnn.feature_maps(ids, lengths)]
        logits = cnn.eval()(ids, lengths).numpy()[0]
    assert pred == int(logits.argmax()) and 0.5 <= prob <= 1
    for r in top:
        fmap = maps[cnn.windows.index(r["window"])][r["filter"]]
        assert r["act"] == pytest.approx(fmap.max()) and r["start"] == int(fmap.argmax())
        assert r["words"] == toks[r["start"]:r["start"] + r["window"]]
    assert [r["contrib"] for r in top] == sorted((r["contrib"] for r in top), reverse=True)


def test_sentiment_on_a_csv_file(tmp_path):
    rng = np.random.default_rng(0)
    rows = ["text,label"]
    for _ in range(160):
        good = rng.random() < 0.5
        adj = rng.choice(["lovely", "fine", "nice"] if good else ["awful", "ugly", "rude"])
        rows.append(f"\"the {rng.choice(['hotel', 'room', 'staff'])} was {adj}\",{'pos' if good else 'neg'}")
    path = tmp_path / "reviews.csv"
    path.write_text("\n".join(rows) + "\n")
    con = common.make_console(record=True)
    out = sentiment.main(["--quick", "--csv", str(path), "--epochs", "3"], console=con)
    assert out["classes"] == ["neg", "pos"] and out["n_train"] + out["n_test"] == 160
    assert out["results"][BOW]["test"] >= 0.9      # word-level data: the bag of words is enough here
    text = con.export_text()
    assert "32 test" in text and "per template" not in text   # templates exist only for generated data


def test_sentiment_csv_needs_text_and_label(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("sentence,y\nhello,1\n")
    with pytest.raises(common.UserError, match="columns 'text' and 'label'"):
        sentiment.main(["--csv", str(path)], console=common.make_console(record=True))


# ---------------------------------------------------------------- conv
@pytest.fixture(scope="module")
def conv_run():
    return demo_cache.run("python -m demos conv --quick")


def test_conv_quick_learns_the_digits(conv_run):
    out, _ = conv_run
    assert out["test_acc"] >= 0.45, out["test_acc"]           # chance is 0.1
    assert out["train_acc"] >= 0.45
    assert out["loss_last"] < 0.7 * out["loss_first"]
    cm = out["confusion"]
    assert cm.shape == (10, 10) and cm.sum() == out["n_test"]
    assert np.trace(cm) == round(out["test_acc"] * out["n_test"])
    assert out["filters"] == (6, 5, 5)


def test_conv_prints_accuracy_confusion_digits_and_filters(conv_run):
    _, text = conv_run
    for piece in ("accuracy", "confusion matrix", "test digits and predictions", "pred ",
                  "learned first-layer filters", "filter 5", "Conv2d(1, 6"):
        assert piece in text, piece
    assert any(ch in text for ch in "▓█")                      # the pictures are drawn


def test_drawn_digits_are_reproducible_and_distinct():
    labels = np.repeat(np.arange(10), 40)
    a = conv.draw_digits(labels, np.random.default_rng(3))
    b = conv.draw_digits(labels, np.random.default_rng(3))
    assert a.shape == (400, 28, 28) and a.dtype == np.float32 and a.min() >= 0 and a.max() <= 1
    np.testing.assert_array_equal(a, b)
    # every image has ink, and no two digits look alike on average
    assert (a.reshape(400, -1).max(axis=1) > 0.5).all()
    means = a.reshape(10, 40, -1).mean(axis=1)
    d = np.linalg.norm(means[:, None] - means[None], axis=2)
    assert d[~np.eye(10, dtype=bool)].min() > 0.5


def write_idx(path, arr, code=0x08, gz=False):
    dtype = {0x08: ">u1", 0x0C: ">i4", 0x0D: ">f4"}[code]
    raw = bytes([0, 0, code, arr.ndim]) + np.array(arr.shape, dtype=">u4").tobytes() + arr.astype(dtype).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)


@pytest.mark.parametrize("code,gz", [(0x08, False), (0x08, True), (0x0C, False), (0x0D, True)])
def test_read_idx_round_trips(tmp_path, code, gz):
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 255, (3, 4, 5)) if code != 0x0D else rng.normal(size=(2, 6)).astype(np.float32)
    path = tmp_path / "x.idx"
    write_idx(path, arr, code, gz)
    out = conv.read_idx(path)
    assert out.shape == arr.shape
    np.testing.assert_array_equal(out, arr.astype(out.dtype))


def test_read_idx_rejects_bad_files(tmp_path):
    p = tmp_path / "bad"
    p.write_bytes(b"PK\x03\x04rest")
    with pytest.raises(common.UserError, match="not an IDX file"):
        conv.read_idx(p)
    p.write_bytes(bytes([0, 0, 8, 1]) + np.array([10], dtype=">u4").tobytes() + b"\x01\x02")
    with pytest.raises(common.UserError, match="should hold 10 data bytes"):
        conv.read_idx(p)


def test_conv_on_mnist_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    for split, n, gz in (("train", 300, True), ("t10k", 100, False)):
        y = rng.integers(0, 10, n)
        x = (conv.draw_digits(y, rng) * 255).round()
        sfx = ".gz" if gz else ""
        write_idx(tmp_path / f"{split}-images-idx3-ubyte{sfx}", x, gz=gz)
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte{sfx}", y, gz=gz)
    xtr, ytr, xte, yte = conv.mnist_data(tmp_path)
    assert xtr.shape == (300, 28, 28) and xte.shape == (100, 28, 28) and 0 <= xtr.min() and xtr.max() <= 1
    con = common.make_console(record=True)
    out = conv.main(["--quick", "--mnist", str(tmp_path), "--epochs", "1"], console=con)
    assert out["n_train"] == 300 and out["n_test"] == 100 and np.isfinite(out["loss_last"])
    assert "MNIST from" in con.export_text()
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="t10k"):
        conv.mnist_data(tmp_path)


def test_convnet_stride_and_padding_options():
    m = conv.ConvNet(28, (2, 3), kernel=3, padding=0, stride=2)
    # 28 -> conv(k3, s2) 13 -> pool 6 -> conv 2 -> pool 1
    assert m.side == 1 and m.fc.in_features == 3
    assert m(tg.randn(4, 1, 28, 28)).shape == (4, 10)
    with pytest.raises(ValueError, match="shrinks to nothing"):
        conv.ConvNet(28, (2, 3), kernel=5, padding=0, stride=3)


@pytest.mark.gpu
def test_sentiment_and_conv_quick_on_cuda_learn_like_cpu(sentiment_run, conv_run):
    s = sentiment.main(["--quick", "--device", "cuda"], console=common.make_console(record=True))
    for name in (CNN, LSTM):   # dropout masks come from the GPU's generator: close, not equal
        assert s["results"][name]["test"] >= 0.8
        assert abs(s["results"][name]["test"] - sentiment_run[0]["results"][name]["test"]) < 0.1
    c = conv.main(["--quick", "--device", "cuda"], console=common.make_console(record=True))
    assert c["test_acc"] >= 0.45 and abs(c["test_acc"] - conv_run[0]["test_acc"]) < 0.2


def test_sentiment_has_a_tfidf_logistic_regression_row(sentiment_run):
    out, text = sentiment_run
    r = out["results"][sentiment.TFIDF]
    assert "TF-IDF uni+bigrams" in text
    assert r["params"] == out["results"][sentiment.NGRAM]["params"]     # same n-gram features, reweighted
    assert r["test"] > out["results"][sentiment.BOW]["test"]            # bigrams see some order


def test_conv_average_pooling_option():
    model = conv.ConvNet(28, (2, 3), pool="avg")
    assert type(model.pool1).__name__ == "AvgPool2d" and type(model.pool2).__name__ == "AvgPool2d"
    assert model(tg.randn(2, 1, 28, 28)).shape == (2, 10)
    con = common.make_console(record=True)
    conv.main(["--quick", "--pool", "avg", "--train", "64", "--test", "32", "--epochs", "1"], console=con)
    assert "AvgPool2d(kernel_size=2" in con.export_text()
