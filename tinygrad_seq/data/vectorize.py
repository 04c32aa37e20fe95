"""Documents to fixed-size float32 vectors: bag of words, n-grams and TF-IDF.

    vec = TfidfVectorizer(stop_words="english").fit(train_docs)
    X = vec.transform(test_docs)          # Tensor (n_docs, n_features), float32

A document is a string (run through `tokenize`) or a list of tokens. Stop words
are dropped before n-grams are formed (as in scikit-learn).
"""
from collections import Counter

import numpy as np

from ..tensor import Tensor
from .text import tokenize, WordVocab

# English stop words (NLTK's list, plus a few contraction fragments that `tokenize` keeps)
STOP_WORDS = frozenset("""
a about above after again against ain all am an and any are aren aren't as at be because been before
being below between both but by can couldn couldn't d did didn didn't do does doesn doesn't doing don
don't down during each few for from further had hadn hadn't has hasn hasn't have haven haven't having
he her here hers herself him himself his how i if in into is isn isn't it it's its itself just ll m ma
me mightn mightn't more most mustn mustn't my myself needn needn't no nor not now o of off on once only
or other our ours ourselves out over own re s same shan shan't she she's should should've shouldn
shouldn't so some such t than that that'll the their theirs them themselves then there these they
this those through to too under until up ve very was wasn wasn't we were weren weren't what when where
which while who whom why will with won won't wouldn wouldn't y you you'd you'll you're you've your
yours yourself yourselves
""".split())


class BagOfWords:
    """Token counts per document (binary=True: 1 if present).

    vocab: the features, fixed in advance - an iterable of tokens (columns in that
    order; other tokens are ignored) or a WordVocab (columns are its ids; unknown
    tokens count in its '<unk>' column). Without vocab, fit() keeps the tokens seen
    at least min_freq times in the corpus (at most max_size of them), most frequent
    first. stop_words: None, 'english' (STOP_WORDS) or an iterable of words.
    """
    name = "BagOfWords"

    def __init__(self, vocab=None, min_freq=1, max_size=None, binary=False, stop_words=None, tokenizer=tokenize,
                 ngram_range=(1, 1)):
        lo, hi = ngram_range
        if not 1 <= lo <= hi:
            raise ValueError(f"{self.name}: n-gram range must satisfy 1 <= min_n <= max_n, got {ngram_range}")
        if min_freq < 1:
            raise ValueError(f"{self.name}: min_freq must be >= 1, got {min_freq}")
        self.ngram_range = (int(lo), int(hi))
        self.min_freq, self.max_size, self.binary = min_freq, max_size, binary
        self.tokenizer = tokenizer
        self.stop_words = STOP_WORDS if stop_words == "english" else (
            frozenset(stop_words) if stop_words is not None else frozenset())
        self.unk_column = None
        self.vocabulary_ = None  # feature -> column, set by fit (or given)
        if isinstance(vocab, WordVocab):
            self.vocabulary_, self.unk_column = dict(vocab.stoi), vocab.unk_index
        elif vocab is not None:
            self.vocabulary_ = {t: i for i, t in enumerate(dict.fromkeys(vocab))}
        self._fixed = vocab is not None

    # ------------------------------------------------------------ features of one document
    def features(self, doc):
        """The n-grams of one document, stop words removed first, joined by spaces."""
        toks = self.tokenizer(doc) if isinstance(doc, str) else list(doc)
        toks = [t for t in toks if t not in self.stop_words]
        lo, hi = self.ngram_range
        return [" ".join(toks[i:i + n]) for n in range(lo, hi + 1) for i in range(len(toks) - n + 1)]

    # ------------------------------------------------------------ sklearn-style API
    def fit(self, docs):
        docs = _docs(docs, self.name)
        if not self._fixed:
            counts = Counter(f for d in docs for f in self.features(d))
            kept = [f for f, c in sorted(counts.items(), key=lambda fc: -fc[1]) if c >= self.min_freq]
            self.vocabulary_ = {f: i for i, f in enumerate(kept[:self.max_size])}
        return self

    def transform(self, docs):
        """A float32 Tensor (n_docs, n_features) of counts."""
        return Tensor(self._counts(_docs(docs, self.name)))

    def fit_transform(self, docs):
        docs = _docs(docs, self.name)
        return self.fit(docs).transform(docs)

    def get_feature_names_out(self):
        self._check_fitted()
        return sorted(self.vocabulary_, key=self.vocabulary_.get)

    def __len__(self):
        self._check_fitted()
        return len(self.vocabulary_)

    def _check_fitted(self):
        if self.vocabulary_ is None:
            raise RuntimeError(f"{self.name}: call fit() (or pass vocab=) before transform")

    def _counts(self, docs):
        self._check_fitted()
        rows, cols = [], []
        for r, d in enumerate(docs):
            for f in self.features(d):
                c = self.vocabulary_.get(f, self.unk_column)
                if c is not None:
                    rows.append(r)
                    cols.append(c)
        width = max(self.vocabulary_.values(), default=-1) + 1
        out = np.zeros((len(docs), width), dtype=np.float32)
        np.add.at(out, (np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64)), 1)
        return np.minimum(out, 1, out=out) if self.binary else out


class NGramVectorizer(BagOfWords):
    """Counts of word n-grams for n in the range `n` (an int n means (n, n)):
    NGramVectorizer(n=(1, 2)) counts words and word pairs ("new york")."""
    name = "NGramVectorizer"

    def __init__(self, n=(1, 2), vocab=None, min_freq=1, max_size=None, binary=False, stop_words=None,
                 tokenizer=tokenize):
        ngram_range = (n, n) if isinstance(n, int) else tuple(n)
        super().__init__(vocab, min_freq, max_size, binary, stop_words, tokenizer, ngram_range)


class TfidfVectorizer(BagOfWords):
    """TF-IDF with scikit-learn's defaults: tf = raw count (1 + ln(count) if
    sublinear_tf), idf = ln((1 + n_docs) / (1 + df)) + 1 (smooth_idf; without it
    ln(n_docs / df) + 1), rows scaled to unit L2 norm (norm='l2'; None keeps them).
    df counts the fitted documents containing the feature."""
    name = "TfidfVectorizer"

    def __init__(self, n=(1, 1), vocab=None, min_freq=1, max_size=None, stop_words=None, tokenizer=tokenize,
                 smooth_idf=True, sublinear_tf=False, norm="l2", binary=False):
        if norm not in ("l2", None):
            raise ValueError(f"TfidfVectorizer: norm must be 'l2' or None, got {norm!r}")
        ngram_range = (n, n) if isinstance(n, int) else tuple(n)
        super().__init__(vocab, min_freq, max_size, binary, stop_words, tokenizer, ngram_range)
        self.smooth_idf, self.sublinear_tf, self.norm = smooth_idf, sublinear_tf, norm
        self.idf_ = None

    def fit(self, docs):
        docs = _docs(docs, self.name)
        super().fit(docs)
        df = (self._counts(docs) > 0).sum(axis=0).astype(np.float64)
        n = len(docs) + int(self.smooth_idf)  # smoothing: as if one extra document held every feature once
        self.idf_ = (np.log(n / (df + int(self.smooth_idf))) + 1).astype(np.float32)
        return self

    def transform(self, docs):
        if self.idf_ is None:
            raise RuntimeError(f"{self.name}: call fit() before transform")
        tf = self._counts(_docs(docs, self.name))
        if self.sublinear_tf:
            present = tf > 0
            np.log(tf, out=tf, where=present)
            tf[present] += 1                             # 1 + ln(count) where count > 0
        x = tf * self.idf_
        if self.norm == "l2":
            norms = np.sqrt((x * x).sum(axis=1, keepdims=True))
            x = x / np.where(norms > 0, norms, 1)       # empty documents stay all zero
        return Tensor(x.astype(np.float32, copy=False))


def _docs(docs, name):
    if isinstance(docs, str):
        raise TypeError(f"{name}: expected a list of documents, got a single string (wrap it in a list)")
    return list(docs)
