"""Datasets, DataLoader, vocabularies, windows, padding and vectorizers."""
import json

import numpy as np
import pytest

import tinygrad_seq as tg
from tinygrad_seq import data
from tinygrad_seq.data import (Dataset, TensorDataset, DataLoader, default_collate, CharVocab, WordVocab, tokenize,
                               next_token_windows, sequence_windows, pad_sequences, BagOfWords, NGramVectorizer,
                               TfidfVectorizer, STOP_WORDS)


# ------------------------------------------------------------------ datasets and loading
def _xy(n=10):
    x = tg.Tensor(np.arange(n * 3, dtype=np.float32).reshape(n, 3))
    y = tg.Tensor(np.arange(n, dtype=np.int64) * 10)
    return TensorDataset(x, y)


def test_tensor_dataset():
    ds = _xy()
    assert len(ds) == 10
    x, y = ds[4]
    np.testing.assert_array_equal(x.numpy(), [12, 13, 14])
    assert int(y) == 40
    with pytest.raises(ValueError, match=r"same size in dim 0, got shapes \(3, 2\), \(4,\)"):
        TensorDataset(tg.zeros(3, 2), tg.zeros(4))
    with pytest.raises(ValueError, match="at least one tensor"):
        TensorDataset()


def test_dataloader_in_order_with_last_partial_batch():
    dl = DataLoader(_xy(), batch_size=4)
    batches = list(dl)
    assert len(dl) == 3 == len(batches)
    assert [tuple(b[0].shape) for b in batches] == [(4, 3), (4, 3), (2, 3)]
    assert isinstance(batches[0], tuple) and batches[0][1].dtype == np.int64
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), np.arange(10) * 10)
    dl = DataLoader(_xy(), batch_size=4, drop_last=True)
    assert len(dl) == 2 and [b[0].shape[0] for b in dl] == [4, 4]


def test_shuffle_with_seed_repeats_and_changes_per_epoch():
    def epochs(loader, k):
        return [np.concatenate([b[1].numpy() for b in loader]) for _ in range(k)]
    a = epochs(DataLoader(_xy(), batch_size=3, shuffle=True, seed=5), 2)
    tg.rand(4)  # other draws from the library generator do not disturb a seeded loader
    b = epochs(DataLoader(_xy(), batch_size=3, shuffle=True, seed=5), 2)
    for ea, eb in zip(a, b):
        np.testing.assert_array_equal(ea, eb)
        assert sorted(ea.tolist()) == list(range(0, 100, 10))  # every sample exactly once
    assert not np.array_equal(a[0], a[1]), "each epoch should draw a new order"
    assert not np.array_equal(a[0], np.arange(0, 100, 10))
    resumed = DataLoader(_xy(), batch_size=3, shuffle=True, seed=5)
    resumed.epoch = 1  # restored from a checkpoint: continues with epoch 1's order
    np.testing.assert_array_equal(epochs(resumed, 1)[0], a[1])


def test_shuffle_without_seed_follows_manual_seed():
    def order():
        return np.concatenate([b[1].numpy() for b in DataLoader(_xy(), batch_size=4, shuffle=True)])
    tg.manual_seed(3)
    first = order()
    tg.manual_seed(3)
    np.testing.assert_array_equal(order(), first)
    assert sorted(first.tolist()) == list(range(0, 100, 10))


def test_tensor_dataset_fast_path_equals_default_collate():
    ds = _xy(13)
    fast = DataLoader(ds, batch_size=4, shuffle=True, seed=1)
    slow = DataLoader(ds, batch_size=4, shuffle=True, seed=1, collate_fn=default_collate)
    for bf, bs in zip(fast, slow):
        assert len(bf) == len(bs) == 2
        for tf, ts in zip(bf, bs):
            assert tf.dtype == ts.dtype and tf.shape == ts.shape
            np.testing.assert_array_equal(tf.numpy(), ts.numpy())


def test_default_collate_types():
    batch = default_collate([(np.ones(2, dtype=np.float64), 1, 0.5, "a", True),
                             (np.zeros(2, dtype=np.float64), 2, 1.5, "b", False)])
    assert isinstance(batch, tuple) and len(batch) == 5
    arr, ints, floats, strs, flags = batch
    assert arr.dtype == np.float64 and arr.shape == (2, 2)
    assert ints.dtype == np.int64 and ints.tolist() == [1, 2]
    assert floats.dtype == np.float32 and floats.tolist() == [0.5, 1.5]
    assert strs == ["a", "b"] and flags.dtype == np.bool_
    d = default_collate([{"x": tg.ones(3), "y": [1, np.int32(2)]}, {"x": tg.zeros(3), "y": [3, np.int32(4)]}])
    assert set(d) == {"x", "y"} and d["x"].shape == (2, 3) and isinstance(d["y"], list)
    assert d["y"][0].tolist() == [1, 3] and d["y"][1].dtype == np.int32
    with pytest.raises(ValueError, match=r"cannot stack samples of different shapes \[\(2,\), \(3,\)\]"):
        default_collate([tg.zeros(2), tg.zeros(3)])
    with pytest.raises(TypeError, match="cannot batch samples of type set"):
        default_collate([{1}, {2}])


def test_dataloader_over_a_custom_dataset_and_collate_fn():
    class Squares(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {"x": float(i), "y": i * i}

    batches = list(DataLoader(Squares(), batch_size=2))
    assert [b["y"].tolist() for b in batches] == [[0, 1], [4, 9], [16]]
    assert batches[0]["x"].dtype == np.float32
    seqs = [[1, 2, 3], [4], [5, 6]]
    dl = DataLoader(seqs, batch_size=3, collate_fn=pad_sequences)  # ragged samples need their own collate
    padded, lengths = next(iter(dl))
    assert padded.tolist() == [[1, 2, 3], [4, 0, 0], [5, 6, 0]] and lengths.tolist() == [3, 1, 2]
    with pytest.raises(NotImplementedError, match="Dataset must implement __len__"):
        len(Dataset())


@pytest.mark.parametrize("bad", [0, -2, 1.5, None, True])
def test_dataloader_batch_size_error(bad):
    with pytest.raises(ValueError, match=f"DataLoader: batch_size must be a positive integer, got {bad!r}"):
        DataLoader(_xy(), batch_size=bad)


def test_dataloader_needs_a_sized_dataset():
    with pytest.raises(TypeError, match="needs __len__ and __getitem__"):
        DataLoader(iter([1, 2]), batch_size=1)


# ------------------------------------------------------------------ text
def test_tokenize():
    assert tokenize("Hello, World! Don't STOP...") == ["hello", ",", "world", "!", "don't", "stop", ".", ".", "."]
    assert tokenize("  ") == []
    assert tokenize("Naïve café-au-lait 42") == ["naïve", "café", "-", "au", "-", "lait", "42"]


def test_char_vocab():
    v = CharVocab("abracadabra")
    assert v.itos[:2] == ["<pad>", "<unk>"] and v.pad_index == 0 and v.unk_index == 1
    assert v.itos[2:] == ["a", "b", "r", "c", "d"]  # by frequency (a5 b2 r2 c1 d1), ties first seen
    ids = v.encode("cab!")
    assert ids == [5, 2, 3, 1]
    assert v.decode(ids) == "cab<unk>" and v.decode(ids, skip_specials=True) == "cab"
    assert v.decode(tg.Tensor(np.array([[2, 3]]))) == "ab" and v.decode(np.int64(4)) == "r"
    assert len(v) == 7 and "a" in v and "z" not in v and v["z"] == 1
    assert CharVocab("abracadabra", min_freq=2).itos == ["<pad>", "<unk>", "a", "b", "r"]
    assert CharVocab("abracadabra", max_size=1).itos == ["<pad>", "<unk>", "a"]
    assert CharVocab("ab", specials=["<bos>", "<eos>"]).itos == ["<pad>", "<unk>", "<bos>", "<eos>", "a", "b"]
    with pytest.raises(IndexError, match="CharVocab.decode: id 7 out of range for a vocabulary of 7 tokens"):
        v.decode([2, 7])
    with pytest.raises(IndexError, match="id -1 out of range"):
        v.decode([-1])
    with pytest.raises(TypeError, match="ids must be integers, got dtype float64"):
        v.decode([1.5])
    with pytest.raises(ValueError, match="min_freq must be >= 1"):
        CharVocab("ab", min_freq=0)


def test_vocab_from_itos_rebuilds_a_kept_vocabulary():
    """What a checkpoint keeps (list(vocab.itos)) gives back the same ids, specials included."""
    v = CharVocab("abracadabra", specials=["<bos>"])
    back = CharVocab.from_itos(list(v.itos), specials=v.specials)
    assert type(back) is CharVocab and back.itos == v.itos and back.stoi == v.stoi
    assert back.encode("cab!") == v.encode("cab!") and back.pad_index == 0 and back.unk_index == 1
    assert CharVocab.from_itos(["<pad>", "<unk>", "x"]).decode([2, 1]) == "x<unk>"
    with pytest.raises(ValueError, match=r"CharVocab.from_itos: the special tokens \['<unk>'\] are not"):
        CharVocab.from_itos(["<pad>", "a"])
    with pytest.raises(ValueError, match="WordVocab: duplicate tokens"):
        WordVocab.from_itos(["<pad>", "<unk>", "a", "a"])


def test_word_vocab_and_files(tmp_path):
    v = WordVocab("The cat sat. The cat ran!", min_freq=1)
    assert v.itos == ["<pad>", "<unk>", "the", "cat", "sat", ".", "ran", "!"]
    assert v.encode("the dog sat") == [2, 1, 4] and v.encode(["cat", "ran"]) == [3, 6]
    assert v.decode([2, 3, 4]) == "the cat sat"
    sentences = WordVocab([["a", "b"], ["b", "c"]])  # token lists
    assert sentences.itos == ["<pad>", "<unk>", "b", "a", "c"]
    path = tmp_path / "vocab.json"
    v.save(path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["type"] == "WordVocab" and doc["itos"] == v.itos
    back = WordVocab.load(path)
    assert back.itos == v.itos and back.stoi == v.stoi and back.encode("the cat") == [2, 3]
    cv = CharVocab("héllo ✓")
    cv.save(tmp_path / "c.json")
    assert CharVocab.load(tmp_path / "c.json").decode(cv.encode("✓hé")) == "✓hé"
    with pytest.raises(ValueError, match="holds a WordVocab, not a CharVocab"):
        CharVocab.load(path)
    (tmp_path / "bad.json").write_text("{oops")
    with pytest.raises(ValueError, match="is not a saved vocabulary"):
        WordVocab.load(tmp_path / "bad.json")


def test_next_token_windows():
    ids = list(range(10, 20))
    X, y = next_token_windows(ids, 3)
    assert X.dtype == np.int64 and y.dtype == np.int64 and X.shape == (7, 3) and y.shape == (7,)
    assert X.tolist()[0] == [10, 11, 12] and y.tolist()[0] == 13
    assert X.tolist()[-1] == [16, 17, 18] and y.tolist()[-1] == 19
    X2, y2 = next_token_windows(np.array(ids), 4, stride=3)
    expect = [(ids[s:s + 4], ids[s + 4]) for s in range(0, len(ids) - 4, 3)]
    assert list(zip(X2.tolist(), y2.tolist())) == expect
    X3, _ = next_token_windows(tg.Tensor(np.array(ids)), 9)
    assert X3.shape == (1, 9)
    with pytest.raises(ValueError, match="next_token_windows: 3 ids are too few for one window of 4 ids"):
        next_token_windows([1, 2, 3], 3)
    with pytest.raises(ValueError, match="window must be a positive integer, got 0"):
        next_token_windows(ids, 0)
    with pytest.raises(ValueError, match="stride must be a positive integer"):
        next_token_windows(ids, 2, stride=0)
    with pytest.raises(ValueError, match=r"1-d sequence of integer ids, got shape \(2, 5\)"):
        next_token_windows(np.zeros((2, 5), dtype=np.int64), 2)


def test_sequence_windows():
    ids = np.arange(11)
    x, y = sequence_windows(ids, 4)  # non-overlapping by default
    assert x.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]] and y.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    x, y = sequence_windows(ids, 3, stride=2)
    np.testing.assert_array_equal(y.numpy(), x.numpy() + 1)
    assert x.shape == (4, 3) and x.tolist()[-1] == [6, 7, 8] and x.dtype == np.int64
    with pytest.raises(ValueError, match="sequence_windows: 3 ids are too few"):
        sequence_windows([1, 2, 3], 3)


def test_pad_sequences():
    padded, lengths = pad_sequences([[1, 2, 3], [4], [5, 6]], padding_value=-1)
    assert padded.dtype == np.int64 and lengths.dtype == np.int64
    assert padded.tolist() == [[1, 2, 3], [4, -1, -1], [5, 6, -1]] and lengths.tolist() == [3, 1, 2]
    tm, _ = pad_sequences([tg.Tensor(np.array([1, 2], dtype=np.int32)), np.array([3])], batch_first=False)
    assert tm.tolist() == [[1, 3], [2, 0]] and tm.dtype == np.int64
    feats, lens = pad_sequences([np.ones((2, 3), dtype=np.float32), np.ones((4, 3), dtype=np.float32)])
    assert feats.shape == (2, 4, 3) and feats.dtype == np.float32 and lens.tolist() == [2, 4]
    assert feats.numpy()[0, 2:].sum() == 0
    assert pad_sequences([[0.5], []])[0].dtype == np.float32
    assert pad_sequences([[], [7]])[0].tolist() == [[0], [7]]
    with pytest.raises(ValueError, match="got no sequences"):
        pad_sequences([])
    with pytest.raises(ValueError, match=r"differ beyond the time dim: \[\(2,\), \(3,\)\]"):
        pad_sequences([np.ones((1, 2)), np.ones((1, 3))])
    with pytest.raises(ValueError, match="sequence 1 is a scalar"):
        pad_sequences([[1], 5])


# ------------------------------------------------------------------ vectorizers
DOCS = [["the", "cat", "sat", "on", "the", "mat"], ["the", "dog", "sat"],
        ["a", "cat", "and", "a", "dog", "and", "a", "bird"]]
VOCAB = ["the", "cat", "sat", "on", "mat", "dog", "a", "and", "bird"]
# scikit-learn 1.9.1: TfidfVectorizer(analyzer=lambda d: d, vocabulary=VOCAB, **options).fit_transform(DOCS)
SKLEARN_TFIDF = {
    "default": [[0.6503311, 0.32516555, 0.32516555, 0.42755362, 0.42755362, 0, 0, 0, 0],
                [0.57735027, 0, 0.57735027, 0, 0, 0.57735027, 0, 0, 0],
                [0, 0.19534855, 0, 0, 0, 0.19534855, 0.77057961, 0.51371974, 0.25685987]],
    "smooth_idf=False": [[0.61841687, 0.30920844, 0.30920844, 0.46170383, 0.46170383, 0, 0, 0, 0],
                         [0.57735027, 0, 0.57735027, 0, 0, 0.57735027, 0, 0, 0],
                         [0, 0.17351541, 0, 0, 0, 0.17351541, 0.77726918, 0.51817945, 0.25908973]],
    "sublinear_tf=True": [[0.58683219, 0.34659255, 0.34659255, 0.45572755, 0.45572755, 0, 0, 0, 0],
                          [0.57735027, 0, 0.57735027, 0, 0, 0.57735027, 0, 0, 0],
                          [0, 0.24769122, 0, 0, 0, 0.24769122, 0.68348483, 0.55143125, 0.32568418]],
}
SKLEARN_IDF = [1.28768207, 1.28768207, 1.28768207, 1.69314718, 1.69314718, 1.28768207, 1.69314718, 1.69314718,
               1.69314718]


@pytest.mark.parametrize("opt", list(SKLEARN_TFIDF))
def test_tfidf_matches_sklearn(opt):
    kw = {} if opt == "default" else {opt.split("=")[0]: opt.split("=")[1] == "True"}
    vec = TfidfVectorizer(vocab=VOCAB, **kw)
    X = vec.fit_transform(DOCS)
    assert X.dtype == np.float32 and X.shape == (3, 9)
    np.testing.assert_allclose(X.numpy(), SKLEARN_TFIDF[opt], rtol=1e-6, atol=1e-7)
    if opt == "default":
        np.testing.assert_allclose(vec.idf_, SKLEARN_IDF, rtol=1e-6)
        # unseen words are ignored; rows have unit norm
        row = vec.transform([["cat", "cat", "zebra", "bird"]]).numpy()[0]
        np.testing.assert_allclose(row[[1, 8]], [0.83559154, 0.54935123], rtol=1e-6)
        assert vec.transform([["zebra"]]).numpy().sum() == 0  # an empty row stays zero (no NaN)
        raw = TfidfVectorizer(vocab=VOCAB, norm=None).fit(DOCS).transform(DOCS).numpy()
        np.testing.assert_allclose(raw[0, :2], [2 * SKLEARN_IDF[0], SKLEARN_IDF[1]], rtol=1e-6)


def test_bag_of_words_counts_binary_and_learned_vocab():
    bow = BagOfWords()
    X = bow.fit_transform(DOCS)
    assert bow.get_feature_names_out() == ["the", "a", "cat", "sat", "dog", "and", "on", "mat", "bird"]
    assert X.dtype == np.float32 and len(bow) == 9
    assert X.numpy()[0].tolist() == [2, 0, 1, 1, 0, 0, 1, 1, 0]
    assert X.numpy()[2].tolist() == [0, 3, 1, 0, 1, 2, 0, 0, 1]
    assert BagOfWords(binary=True).fit_transform(DOCS).numpy().max() == 1
    assert BagOfWords(min_freq=2).fit(DOCS).get_feature_names_out() == ["the", "a", "cat", "sat", "dog", "and"]
    assert BagOfWords(max_size=2).fit(DOCS).get_feature_names_out() == ["the", "a"]
    s = BagOfWords().fit(["The cat, the hat."])  # strings go through tokenize
    assert s.get_feature_names_out() == ["the", "cat", ",", "hat", "."]


def test_bag_of_words_with_stop_words_and_fixed_vocabularies():
    bow = BagOfWords(stop_words="english").fit(DOCS)
    assert bow.get_feature_names_out() == ["cat", "sat", "dog", "mat", "bird"]
    assert {"the", "and", "a", "on", "don't", "you"} <= STOP_WORDS and "cat" not in STOP_WORDS
    assert isinstance(STOP_WORDS, frozenset)
    custom = BagOfWords(stop_words=["cat"]).fit(DOCS)
    assert "cat" not in custom.get_feature_names_out() and "the" in custom.get_feature_names_out()
    fixed = BagOfWords(vocab=["dog", "cat"])
    assert fixed.transform(DOCS).numpy().tolist() == [[0, 1], [1, 0], [1, 1]]  # usable without fit
    wv = WordVocab(DOCS[0])
    X = BagOfWords(vocab=wv).fit_transform(DOCS).numpy()
    assert X.shape == (3, len(wv))
    assert X[2, wv.unk_index] == 7 and X[:, wv.pad_index].sum() == 0  # unknown words count in <unk>
    assert X[0, wv["the"]] == 2


def test_ngrams():
    ng = NGramVectorizer(n=(1, 2)).fit([["new", "york", "is", "new"]])
    assert ng.get_feature_names_out() == ["new", "york", "is", "new york", "york is", "is new"]
    assert ng.transform([["new", "york", "new", "york"]]).numpy().tolist() == [[2, 2, 0, 2, 0, 0]]
    bi = NGramVectorizer(n=2, stop_words="english").fit(["The cat and the hat"])
    assert bi.get_feature_names_out() == ["cat hat"]  # stop words go before pairs are formed
    tf = TfidfVectorizer(n=(1, 2)).fit(["a b", "b c"])
    assert "a b" in tf.get_feature_names_out()
    with pytest.raises(ValueError, match=r"1 <= min_n <= max_n, got \(2, 1\)"):
        NGramVectorizer(n=(2, 1))


def test_vectorizer_errors():
    with pytest.raises(RuntimeError, match="BagOfWords: call fit"):
        BagOfWords().transform(DOCS)
    with pytest.raises(RuntimeError, match="TfidfVectorizer: call fit"):
        TfidfVectorizer().transform(DOCS)
    with pytest.raises(TypeError, match="got a single string"):
        BagOfWords().fit("the cat")
    with pytest.raises(ValueError, match="norm must be 'l2' or None"):
        TfidfVectorizer(norm="l1")


def test_public_names():
    for name in ("Dataset", "TensorDataset", "DataLoader", "CharVocab", "WordVocab", "tokenize", "next_token_windows",
                 "sequence_windows", "pad_sequences", "BagOfWords", "NGramVectorizer", "TfidfVectorizer",
                 "STOP_WORDS"):
        assert hasattr(data, name), name


@pytest.mark.gpu
def test_dataloader_on_cuda_tensors():
    ds = TensorDataset(tg.arange(12, device="cuda").reshape(6, 2), tg.arange(6, device="cuda"))
    fast = list(DataLoader(ds, batch_size=4, shuffle=True, seed=0))
    slow = list(DataLoader(ds, batch_size=4, shuffle=True, seed=0, collate_fn=default_collate))
    for bf, bs in zip(fast, slow):
        for tf, ts in zip(bf, bs):
            assert tf.device == ts.device == "cuda"
            np.testing.assert_array_equal(tf.numpy(), ts.numpy())


def test_tensor_dataset_subclass_with_own_getitem_is_respected():
    class Doubled(TensorDataset):
        def __getitem__(self, i):
            x, y = super().__getitem__(i)
            return x * 2, y

    batches = list(DataLoader(Doubled(tg.arange(4), tg.arange(4)), batch_size=2))
    assert batches[0][0].tolist() == [0, 2] and batches[1][0].tolist() == [4, 6]
