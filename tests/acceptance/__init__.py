"""Acceptance programs: small scripts written in the shape of PyTorch's examples and tutorials
(word-language model, time-sequence prediction, MNIST CNN, char-RNN name classification and
generation, seq2seq translation with attention in its batched and its first, one-sentence form).
Each is one function `run(torch, ...)` taking the library module, so the same code runs with
`run(tinygrad_seq)` and `run(torch)`; tests/test_acceptance.py compares the two."""
