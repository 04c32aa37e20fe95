"""Edge cases of the nn layers and checkpoints: empty batches, dtype mismatches, bad
constructor arguments and damaged or abandoned checkpoint files each give torch's result
or one clear error naming the layer."""
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
import tinygrad_seq.nn.functional as F
from tinygrad_seq import serialization


def t64(*shape, seed=0):
    return tg.Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


# ---------------------------------------------------------------- empty batches through the RNNs
@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("num_layers,bidirectional,batch_first", [(1, False, False), (2, True, False),
                                                                   (2, False, True), (1, True, True)])
def test_rnn_batch_zero_gives_empty_outputs(mode, fused, num_layers, bidirectional, batch_first):
    layer = getattr(nn, mode)(3, 4, num_layers=num_layers, bidirectional=bidirectional,
                              batch_first=batch_first, fused=fused).double()
    D = 2 if bidirectional else 1
    x = t64(0, 5, 3) if batch_first else t64(5, 0, 3)
    for lengths in (None, []):
        out, h = layer(x, lengths=lengths)
        assert out.shape == ((0, 5, 4 * D) if batch_first else (5, 0, 4 * D))
        for s in (h if mode == "LSTM" else (h,)):
            assert s.shape == (num_layers * D, 0, 4)
        out.sum().backward()
        assert x.grad.shape == x.shape
        assert layer.weight_hh_l0.grad.shape == layer.weight_hh_l0.shape
        assert not layer.weight_hh_l0.grad.numpy().any()   # nothing flowed: zero gradient
        x.grad = None


def test_rnn_batch_zero_with_initial_state():
    lstm = nn.LSTM(3, 2, num_layers=2).double()
    h0 = tg.Tensor(np.zeros((2, 0, 2)))
    out, (h, c) = lstm(tg.Tensor(np.zeros((4, 0, 3))), (h0, h0))
    assert out.shape == (4, 0, 2) and h.shape == c.shape == (2, 0, 2)


# ---------------------------------------------------------------- dtype mismatches
@pytest.mark.parametrize("make,shape,name", [
    (lambda: nn.Conv1d(3, 4, 2), (2, 3, 6), "Conv1d"),
    (lambda: nn.Conv2d(3, 4, 2), (2, 3, 5, 5), "Conv2d"),
    (lambda: nn.Conv1d(3, 4, 2), (3, 6), "Conv1d"),
    (lambda: nn.LayerNorm(5), (2, 5), "LayerNorm"),
])
def test_float64_input_into_float32_weights_is_a_type_error(make, shape, name):
    with pytest.raises(TypeError, match=rf"{name}: input dtype float64 does not match the weight's dtype float32"):
        make()(tg.Tensor(np.zeros(shape)))


def test_functional_conv_dtype_mismatch_names_the_op():
    x, w = tg.Tensor(np.zeros((1, 2, 4, 4))), tg.Tensor(np.zeros((3, 2, 2, 2), dtype=np.float32))
    with pytest.raises(TypeError, match="conv2d: input dtype float64 does not match the weight's dtype float32"):
        F.conv2d(x, w)
    with pytest.raises(TypeError, match="conv1d: bias dtype float32 does not match the weight's dtype float64"):
        F.conv1d(tg.Tensor(np.zeros((1, 2, 4))), tg.Tensor(np.zeros((3, 2, 2))),
                 tg.Tensor(np.zeros(3, dtype=np.float32)))


def test_pooling_keeps_the_input_dtype():   # no weights: float64 in, float64 out (as torch)
    x = tg.Tensor(np.arange(10.0).reshape(1, 2, 5))
    assert nn.MaxPool1d(2)(x).dtype == np.float64 and nn.AvgPool1d(2)(x).dtype == np.float64


# ---------------------------------------------------------------- constructor arguments
def test_zero_size_layers_construct_and_run():
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):   # as torch
        lin = nn.Linear(0, 3)
    y = lin(tg.Tensor(np.zeros((2, 0), dtype=np.float32)))
    np.testing.assert_array_equal(y.numpy(), np.broadcast_to(lin.bias.numpy(), (2, 3)))
    with pytest.warns(UserWarning, match="zero-element"):
        assert nn.Linear(3, 0)(tg.randn(2, 3)).shape == (2, 0)
    with pytest.warns(UserWarning, match="zero-element"):
        assert nn.Conv1d(0, 4, 1).weight.shape == (4, 0, 1)
    assert nn.Embedding(0, 3).weight.shape == (0, 3)
    assert nn.AdaptiveMaxPool1d(0)(tg.randn(1, 2, 5)).shape == (1, 2, 0)


@pytest.mark.parametrize("make,match", [
    (lambda: nn.Linear(-1, 3), "Linear: in_features must be a non-negative integer, got -1"),
    (lambda: nn.Linear(2, -3), "Linear: out_features must be a non-negative integer, got -3"),
    (lambda: nn.Linear(2.5, 3), "Linear: in_features must be a non-negative integer, got 2.5"),
    (lambda: nn.Conv1d(3, 4, 0), r"Conv1d: kernel_size, stride and dilation must be positive, got \(0,\)"),
    (lambda: nn.Conv2d(3, 4, (2, 0)), r"Conv2d: kernel_size, stride and dilation must be positive"),
    (lambda: nn.Conv1d(3, 4, 2, stride=0), r"Conv1d: kernel_size, stride and dilation must be positive"),
    (lambda: nn.Conv1d(3, 4, 2, dilation=0), r"Conv1d: kernel_size, stride and dilation must be positive"),
    (lambda: nn.Conv2d(3, 4, 2, padding=-1), "Conv2d: padding must be non-negative, got -1"),
    (lambda: nn.Conv1d(3, 4, 2, padding="full"), "Conv1d: padding must be an int, a tuple, 'valid' or 'same'"),
    (lambda: nn.Conv1d(3, 4, 2, stride=2, padding="same"), "Conv1d: padding='same' is not supported"),
    (lambda: nn.Conv1d(3, 4, 1, groups=0), "Conv1d: groups must be a positive integer, got 0"),
    (lambda: nn.Conv1d(3, 4, 1, groups=-1), "Conv1d: groups must be a positive integer, got -1"),
    (lambda: nn.Conv1d(-3, 4, 1), "Conv1d: in_channels must be a non-negative integer, got -3"),
    (lambda: nn.Conv2d(3, -4, 1), "Conv2d: out_channels must be a non-negative integer, got -4"),
    (lambda: nn.MaxPool1d(0), r"MaxPool1d: kernel_size, stride and dilation must be positive"),
    (lambda: nn.MaxPool2d(2, stride=0), r"MaxPool2d: kernel_size, stride and dilation must be positive"),
    (lambda: nn.MaxPool2d(3, padding=-1), r"MaxPool2d: kernel_size, stride and dilation must be positive"),
    (lambda: nn.MaxPool2d(3, padding=2), r"MaxPool2d: padding \(2, 2\) should be at most half"),
    (lambda: nn.AvgPool1d(0), r"AvgPool1d: kernel_size, stride and dilation must be positive"),
    (lambda: nn.AvgPool2d(2, divisor_override=0), "AvgPool2d: divisor_override must be non-zero"),
    (lambda: nn.AdaptiveMaxPool1d(-1), "AdaptiveMaxPool1d: output_size must be a non-negative int"),
    (lambda: nn.Embedding(-1, 3), "Embedding: num_embeddings must be a non-negative integer, got -1"),
    (lambda: nn.Embedding(4, -3), "Embedding: embedding_dim must be a non-negative integer, got -3"),
    (lambda: nn.LayerNorm(-2), "LayerNorm: normalized_shape entry must be a non-negative integer, got -2"),
    (lambda: nn.RNN(3, 0), "RNN: input_size and hidden_size must be positive"),
    (lambda: nn.GRU(0, 3), "GRU: input_size and hidden_size must be positive"),
    (lambda: nn.LSTM(3, 2, num_layers=0), "LSTM: num_layers must be an integer >= 1"),
    (lambda: nn.LSTM(3, 2, dropout=1.5), r"LSTM: dropout must be a number in \[0, 1\]"),
    (lambda: nn.RNN(3, 2, dropout=-0.1), r"RNN: dropout must be a number in \[0, 1\]"),
    (lambda: nn.Dropout(1.1), "Dropout: probability has to be between 0 and 1"),
    (lambda: nn.Dropout(-0.5), "Dropout: probability has to be between 0 and 1"),
])
def test_bad_constructor_arguments_raise_one_clear_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_functional_conv_groups_zero():
    with pytest.raises(ValueError, match="conv2d: groups must be a positive integer, got 0"):
        F.conv2d(tg.randn(1, 2, 4, 4), tg.randn(2, 2, 2, 2), groups=0)


# ---------------------------------------------------------------- load_state_dict
def test_load_state_dict_refuses_a_list_naming_the_key():
    lin = nn.Linear(2, 3)
    state = {"weight": [[0.0, 0.0]] * 3, "bias": np.zeros(3, dtype=np.float32)}
    with pytest.raises(TypeError, match="load_state_dict into Linear: 'weight' holds a list, expected a Tensor"):
        lin.load_state_dict(state)


# ---------------------------------------------------------------- checkpoints
def test_deeply_nested_checkpoint_header_is_a_value_error(tmp_path):
    tree = '{"$list": [' * 900 + "null" + "]}" * 900    # (json.dumps itself would recurse too deep)
    header = '{"format": %s, "tree": %s}' % (json.dumps(serialization.FORMAT), tree)
    path = tmp_path / "deep.npz"
    np.savez(path, **{serialization.TREE_KEY: np.array(header)})
    with pytest.raises(ValueError, match="corrupt or truncated checkpoint"):
        tg.load(path)


KILLED_SAVE = """
import os, sys
from tinygrad_seq.serialization import atomic_write
def write(f):
    f.write(b"x" * 100000)
    f.flush()
    os._exit(9)          # killed in the middle of the save
atomic_write(sys.argv[1], write)
"""


def _temps(directory):
    return sorted(n for n in os.listdir(directory) if n.endswith(".tmp"))


def test_next_save_removes_the_temporary_file_of_a_killed_save(tmp_path):
    path = tmp_path / "ckpt.npz"
    tg.save({"a": np.ones(3)}, path)
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    rc = subprocess.run([sys.executable, "-c", KILLED_SAVE, str(path)], env=env).returncode
    assert rc == 9
    orphans = _temps(tmp_path)
    assert len(orphans) == 1 and orphans[0].startswith(".ckpt.npz.")
    np.testing.assert_array_equal(tg.load(path)["a"], np.ones(3))   # the old checkpoint is intact
    tg.save({"a": np.zeros(3)}, path)
    assert _temps(tmp_path) == []
    np.testing.assert_array_equal(tg.load(path)["a"], np.zeros(3))


def test_cleanup_spares_live_writers_other_hosts_and_other_files(tmp_path):
    path = tmp_path / "ckpt.npz"
    host = serialization._host()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    names = {
        "dead": f".ckpt.npz.{host}.{dead.pid}.0123abcd.tmp",              # removed
        "live": f".ckpt.npz.{host}.{os.getppid()}.0123abcd.tmp",          # a running process: kept
        "mine": f".ckpt.npz.{host}.{os.getpid()}.0123abcd.tmp",           # this process: kept
        "other_host": f".ckpt.npz.elsewhere-{host}.{dead.pid}.0123abcd.tmp",   # can't tell: kept
        "old_live": f".ckpt.npz.{host}.{os.getppid()}.4567cdef.tmp",      # untouched for 2 h: removed
        "other_ckpt": f".ckpt.npz.bak.{host}.{dead.pid}.0123abcd.tmp",    # another file's: kept
        "user_file": "ckpt.npz.tmp",                                       # not our pattern: kept
        "no_host": f".ckpt.npz.{dead.pid}.89abcdef.tmp",                  # no host, recent: kept
        "no_host_old": f".ckpt.npz.{dead.pid}.fedcba98.tmp",              # no host, 2 h old: removed
    }
    for n in names.values():
        (tmp_path / n).write_bytes(b"partial")
    two_hours_ago = time.time() - 2 * 3600
    for k in ("old_live", "no_host_old"):
        os.utime(tmp_path / names[k], (two_hours_ago, two_hours_ago))
    tg.save({"a": 1}, path)
    left = set(os.listdir(tmp_path))
    for k in ("dead", "old_live", "no_host_old"):
        assert names[k] not in left, k
    for k in ("live", "mine", "other_host", "other_ckpt", "user_file", "no_host"):
        assert names[k] in left, k
