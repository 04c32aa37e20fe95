"""Checkpoints: pickle-free .npz round trips, atomic writes, clear errors for damaged
files, and an exact (bit for bit) resume of a training run."""
import json
import os
import zipfile

import numpy as np
import pytest

import tinygrad_seq as tg
import tinygrad_seq.nn as nn
from tinygrad_seq import optim, serialization
from tinygrad_seq.optim import lr_scheduler


def _nested():
    return {
        "weights": tg.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True),
        "ids": tg.Tensor(np.array([3, 1, 4], dtype=np.int64)),
        "mask": tg.Tensor(np.array([True, False])),
        "f64": tg.Tensor(np.linspace(0, 1, 4)),
        "scalar_tensor": tg.Tensor(np.float32(2.5)),
        "raw": np.ones((2, 2), dtype=np.float16),
        "np_scalar": np.float32(1.25),
        "np_int": np.int64(7),
        "ints": [1, -2, 10 ** 30],
        "floats": (0.1, float("inf"), float("-inf")),
        "text": "héllo ✓",
        "none": None,
        "flag": True,
        3: {"nested": [[], {}, ()], 0: "int key"},
        "empty": np.zeros((0, 5), dtype=np.float32),
    }


def test_round_trip_keeps_structure_types_and_dtypes(tmp_path):
    obj = _nested()
    path = tmp_path / "ck.npz"
    tg.save(obj, path)
    back = tg.load(path)
    assert list(back) == list(obj)  # order and key types (the int key 3) kept
    for k in ("weights", "ids", "mask", "f64", "scalar_tensor"):
        assert isinstance(back[k], tg.Tensor) and back[k].device == "cpu"
        assert back[k].dtype == obj[k].dtype and back[k].shape == obj[k].shape
        np.testing.assert_array_equal(back[k].numpy(), obj[k].numpy())
    assert back["weights"].requires_grad and not back["ids"].requires_grad
    assert isinstance(back["raw"], np.ndarray) and back["raw"].dtype == np.float16
    assert type(back["np_scalar"]) is np.float32 and back["np_scalar"] == 1.25
    assert type(back["np_int"]) is np.int64
    assert back["ints"] == [1, -2, 10 ** 30]
    assert back["floats"] == (0.1, float("inf"), float("-inf")) and isinstance(back["floats"], tuple)
    assert back["text"] == "héllo ✓" and back["none"] is None and back["flag"] is True
    assert back[3] == {"nested": [[], {}, ()], 0: "int key"}
    assert back["empty"].shape == (0, 5)
    tg.save({"nan": float("nan")}, path)
    assert np.isnan(tg.load(path)["nan"])


def test_file_is_a_plain_npz_without_pickle(tmp_path):
    path = tmp_path / "ck.npz"
    tg.save({"a": tg.ones(2, 3), "b": [1, 2]}, path)
    with np.load(path, allow_pickle=False) as z:  # readable by NumPy itself, never unpickling
        arrays = {k: z[k] for k in z.files}
    header = json.loads(str(arrays.pop(serialization.TREE_KEY)))
    assert header["format"] == serialization.FORMAT
    assert [a.shape for a in arrays.values()] == [(2, 3)]
    assert all(a.dtype != object for a in arrays.values())


def test_module_state_dict_round_trip(tmp_path):
    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(tg.randn(3, 4))
            self.b = nn.Parameter(tg.randn(4))

    a, b = Tiny(), Tiny()
    assert not np.array_equal(a.w.numpy(), b.w.numpy())
    tg.save(a.state_dict(), tmp_path / "m.npz")
    b.load_state_dict(tg.load(tmp_path / "m.npz"))
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=n)
        assert isinstance(q, nn.Parameter)


def test_path_is_used_exactly_and_str_paths_work(tmp_path):
    path = str(tmp_path / "checkpoint.ckpt")  # no .npz added
    tg.save([1, 2], path)
    assert os.listdir(tmp_path) == ["checkpoint.ckpt"]
    assert tg.load(path, map_location="cpu") == [1, 2]
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        tg.load(path, device="tpu")


def test_unsupported_objects_are_refused_at_save(tmp_path):
    path = tmp_path / "x.npz"
    with pytest.raises(TypeError, match=r"save: cannot store a set \(at obj\['s'\]\) without pickle"):
        tg.save({"s": {1, 2}}, path)
    with pytest.raises(TypeError, match=r"cannot store a Linear \(at obj\) without pickle \(save its state_dict"):
        tg.save(tg.nn.Linear(2, 2), path)          # torch pickles whole modules; we take state_dicts
    with pytest.raises(TypeError, match=r"cannot store a Adam .*state_dict"):
        tg.save(tg.optim.Adam(tg.nn.Linear(2, 2).parameters()), path)
    with pytest.raises(TypeError, match=r"obj\[1\] is an array of Python objects \(dtype object\)"):
        tg.save([1, np.array([{}, []], dtype=object)], path)
    with pytest.raises(TypeError, match="dict keys must be strings or numbers, got tuple key"):
        tg.save({(1, 2): 3}, path)
    assert not os.listdir(tmp_path)  # nothing written, no temp files


def test_rng_state_resumes_the_random_stream(tmp_path):
    tg.manual_seed(42)
    tg.rand(3)
    tg.save({"rng": tg.get_rng_state()}, tmp_path / "r.npz")
    expected = tg.randn(5).numpy()
    tg.manual_seed(7)
    tg.set_rng_state(tg.load(tmp_path / "r.npz")["rng"])
    np.testing.assert_array_equal(tg.randn(5).numpy(), expected)


# ------------------------------------------------------------------ atomic writes
def test_crash_before_rename_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    tg.save({"version": 1, "w": tg.ones(3)}, path)
    before = path.read_bytes()

    def crash(src, dst):
        raise OSError("simulated crash before the rename")
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        tg.save({"version": 2, "w": tg.zeros(3)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert tg.load(path)["version"] == 1
    assert os.listdir(tmp_path) == ["ck.npz"]  # the temporary file was removed


def test_crash_while_writing_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    tg.save({"version": 1}, path)
    real_savez = np.savez

    def half_write_then_die(f, **arrays):
        real_savez(f, **arrays)
        f.truncate(f.tell() // 2)  # a partial file on disk ...
        raise KeyboardInterrupt    # ... and the process is interrupted
    monkeypatch.setattr(np, "savez", half_write_then_die)
    with pytest.raises(KeyboardInterrupt):
        tg.save({"version": 2, "big": np.zeros(1000)}, path)
    monkeypatch.undo()
    assert tg.load(path)["version"] == 1
    assert os.listdir(tmp_path) == ["ck.npz"]
    with pytest.raises(KeyboardInterrupt):  # a first save that crashes leaves nothing behind
        monkeypatch.setattr(np, "savez", half_write_then_die)
        tg.save({"x": 1}, tmp_path / "new.npz")
    assert os.listdir(tmp_path) == ["ck.npz"]


def test_overwrite_replaces_content(tmp_path):
    path = tmp_path / "ck.npz"
    tg.save({"v": 1}, path)
    tg.save({"v": 2}, path)
    assert tg.load(path) == {"v": 2}
    assert os.listdir(tmp_path) == ["ck.npz"]


# ------------------------------------------------------------------ damaged files
@pytest.fixture
def good_checkpoint(tmp_path):
    path = tmp_path / "good.npz"
    tg.save({"w": tg.Tensor(np.arange(4000, dtype=np.float32)), "step": 3}, path)
    return path


@pytest.mark.parametrize("damage", ["truncate_half", "truncate_tail", "garbage", "empty", "flip_data"])
def test_damaged_checkpoint_gives_clear_error(good_checkpoint, damage):
    data = bytearray(good_checkpoint.read_bytes())
    if damage == "truncate_half":
        data = data[:len(data) // 2]
    elif damage == "truncate_tail":
        data = data[:-10]
    elif damage == "garbage":
        data = bytearray(os.urandom(2000))
    elif damage == "empty":
        data = bytearray()
    else:  # flip bytes inside the array's stored data: the zip CRC catches it
        mid = len(data) // 3
        data[mid:mid + 8] = bytes(255 - b for b in data[mid:mid + 8])
    good_checkpoint.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupt or truncated checkpoint") as e:
        tg.load(good_checkpoint)
    assert str(good_checkpoint) in str(e.value)


def test_pickled_object_arrays_are_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, **{serialization.TREE_KEY: np.array(json.dumps({"format": serialization.FORMAT, "tree": None})),
                      "a0": np.array([{"x": 1}], dtype=object)})
    with pytest.raises(ValueError, match=r"holds an array of Python objects \(entry 'a0'\).*refusing to unpickle"):
        tg.load(path)


def test_other_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        tg.load(tmp_path / "missing.npz")
    plain = tmp_path / "plain.npz"
    np.savez(plain, x=np.zeros(3))
    with pytest.raises(ValueError, match="is an .npz but not a tinygrad_seq checkpoint"):
        tg.load(plain)
    badtree = tmp_path / "badtree.npz"
    np.savez(badtree, **{serialization.TREE_KEY: np.array("{not json")})
    with pytest.raises(ValueError, match=f"corrupt or truncated checkpoint '{badtree}'"):
        tg.load(badtree)
    npy = tmp_path / "x.npy"
    np.save(npy, np.zeros(3))
    with pytest.raises(ValueError, match="corrupt or truncated checkpoint.*not a zip"):
        tg.load(npy)
    missing_entry = tmp_path / "m.npz"
    np.savez(missing_entry, **{serialization.TREE_KEY: np.array(json.dumps(
        {"format": serialization.FORMAT, "tree": {"$array": "a9"}}))})
    with pytest.raises(ValueError, match="corrupt or truncated checkpoint"):
        tg.load(missing_entry)
    empty_zip = tmp_path / "z.npz"
    with zipfile.ZipFile(empty_zip, "w"):
        pass
    with pytest.raises(ValueError, match="not a tinygrad_seq checkpoint"):
        tg.load(empty_zip)


# ------------------------------------------------------------------ exact resume
class TinyMLP(nn.Module):
    """4 -> 8 -> 1 with tanh and a dropout-like random mask."""

    def __init__(self):
        super().__init__()
        self.w1 = nn.Parameter(tg.randn(4, 8) * 0.5)
        self.b1 = nn.Parameter(tg.zeros(8))
        self.w2 = nn.Parameter(tg.randn(8, 1) * 0.5)
        self.b2 = nn.Parameter(tg.zeros(1))

    def forward(self, x):
        h = (x @ self.w1 + self.b1).tanh()
        keep = tg.where(tg.rand(*h.shape) > 0.25, 1 / 0.75, 0.0)  # inverted dropout from the library RNG
        return (h * keep) @ self.w2 + self.b2


def _setup(opt_name, sched_name):
    model = TinyMLP()
    opt = {"Adam": lambda ps: optim.Adam(ps, lr=0.05, weight_decay=1e-3),
           "AdamW": lambda ps: optim.AdamW(ps, lr=0.05, amsgrad=True),
           "SGD": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True)}[opt_name](model.parameters())
    sched = {"StepLR": lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
             "CosineAnnealingLR": lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=1e-3),
             "ExponentialLR": lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9)}[sched_name](opt)
    return model, opt, sched


def _train(model, opt, sched, steps):
    for _ in range(steps):
        x, y = tg.randn(6, 4), tg.randn(6, 1)  # fresh random data every step
        loss = ((model(x) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()


@pytest.mark.parametrize("opt_name,sched_name", [("Adam", "StepLR"), ("AdamW", "CosineAnnealingLR"),
                                                 ("SGD", "ExponentialLR")])
def test_exact_resume_bit_for_bit(tmp_path, opt_name, sched_name):
    tg.manual_seed(1)
    model, opt, sched = _setup(opt_name, sched_name)
    _train(model, opt, sched, 10)
    reference = {n: p.numpy().copy() for n, p in model.named_parameters()}

    tg.manual_seed(1)
    model, opt, sched = _setup(opt_name, sched_name)
    _train(model, opt, sched, 5)
    tg.save({"model": model.state_dict(), "optim": opt.state_dict(), "sched": sched.state_dict(),
             "rng": tg.get_rng_state(), "step": 5}, tmp_path / "ck.npz")
    del model, opt, sched

    tg.manual_seed(999)  # a fresh process: different initialisation and random stream
    model, opt, sched = _setup(opt_name, sched_name)
    ck = tg.load(tmp_path / "ck.npz")
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optim"])
    sched.load_state_dict(ck["sched"])
    tg.set_rng_state(ck["rng"])
    assert ck["step"] == 5
    _train(model, opt, sched, 5)
    for n, p in model.named_parameters():
        assert np.array_equal(p.numpy(), reference[n]), f"{n} differs after resuming"
    assert sched.last_epoch == 10


# ------------------------------------------------------------------ GPU
@pytest.mark.gpu
def test_cuda_tensors_save_and_load_to_cpu_or_cuda(tmp_path):
    t = tg.randn(3, 4, device="cuda")
    tg.save({"t": t, "raw": t.array}, tmp_path / "g.npz")
    back = tg.load(tmp_path / "g.npz")
    assert back["t"].device == "cpu" and isinstance(back["raw"], np.ndarray)
    np.testing.assert_array_equal(back["t"].numpy(), t.numpy())
    on_gpu = tg.load(tmp_path / "g.npz", map_location="cuda")
    assert on_gpu["t"].device == "cuda" and tg.backend.device_of(on_gpu["raw"]) == "cuda"
    np.testing.assert_array_equal(on_gpu["t"].numpy(), t.numpy())
