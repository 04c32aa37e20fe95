"""Data parallelism: tinygrad_seq.distributed, nn.parallel.DistributedDataParallel and
data.DistributedSampler.

The multi-process tests launch small scripts (tests/distributed_scripts/) with `mpiexec -n 2`
and skip when mpi4py or mpiexec is missing (`pip install -e ".[mpi]"`); the NCCL test also
needs CuPy and two GPUs. Everything else runs in this process, on one rank.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_seq as tg
import tinygrad_seq.distributed as dist
import tinygrad_seq.nn as nn
from tinygrad_seq.data import DataLoader, DistributedSampler, TensorDataset
from tinygrad_seq.nn.parallel import DistributedDataParallel

from .conftest import requires_torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "tests" / "distributed_scripts"
MPIEXEC = shutil.which("mpiexec")
needs_mpi = pytest.mark.skipif(not dist.is_available() or MPIEXEC is None,
                               reason='needs mpi4py and mpiexec: pip install -e ".[mpi]"')


def mpirun(script, *args, n=2, timeout=120, env=None):
    """Run a script on n ranks; the timeout bounds a hang (a test failure, not a measurement)."""
    e = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
             # waiting ranks yield the CPU instead of spinning: ranks share few cores here
             MPIR_CVAR_ENABLE_HEAVY_YIELD="1", MPIR_CVAR_POLLS_BEFORE_YIELD="10", **(env or {}))
    cmd = [MPIEXEC, "-n", str(n), sys.executable, str(script), *map(str, args)]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e, cwd=ROOT)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"{script.name} on {n} ranks did not finish within {timeout} s (a hang):\n{err.stderr}")


# ================================================================ on 2 ranks (mpiexec)
@needs_mpi
def test_ddp_gradients_equal_single_process_on_the_combined_batch():
    """MLP, conv net and LSTM LM in float64: averaged gradients equal the whole-batch gradient
    (1e-10), parameters bit-identical on both ranks after 20 steps; collectives, no_sync,
    find_unused_parameters, the sampler's coverage and per-rank dropout masks (see the script)."""
    r = mpirun(SCRIPTS / "ddp_check.py")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ALL OK" in r.stdout


@needs_mpi
def test_a_failing_rank_ends_the_job_with_a_nonzero_exit():
    r = mpirun(SCRIPTS / "fail_rank.py", timeout=60)
    assert r.returncode != 0
    assert "rank 1 fails on purpose" in r.stderr
    assert "aborting all ranks" in r.stderr
    assert "passed the barrier" not in r.stdout


@needs_mpi
def test_ranks_with_different_models_fail_at_construction_naming_the_difference():
    r = mpirun(SCRIPTS / "mismatch.py", timeout=60)
    assert r.returncode != 0
    assert "constructed" not in r.stdout
    assert ("the ranks built different models: rank 0 has parameter '0.weight' (4, 3) float32, "
            "rank 1 has parameter '0.weight' (5, 3) float32") in r.stderr


def _demo(tmp_path, name, distributed, *argv):
    out = tmp_path / f"{name}-{'dist' if distributed else 'one'}.json"
    args = [name, out, *argv] + (["--distributed"] if distributed else [])
    if distributed:
        r = mpirun(SCRIPTS / "run_demo.py", *args, env={"NO_DROPOUT": "1"})
    else:
        env = dict(os.environ, PYTHONPATH=str(ROOT), NO_DROPOUT="1")
        r = subprocess.run([sys.executable, str(SCRIPTS / "run_demo.py"), *map(str, args)],
                           capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(out.read_text())


@needs_mpi
def test_charlm_distributed_reaches_the_single_process_loss_and_checkpoints_once(tmp_path):
    argv = ["--quick", "--steps", "30", "--eval-every", "1000", "--checkpoint-every", "10",
            "--sample-length", "10"]
    two = _demo(tmp_path, "charlm", True, *argv, "--checkpoint", tmp_path / "two.npz")
    one = _demo(tmp_path, "charlm", False, *argv, "--checkpoint", tmp_path / "one.npz")
    np.testing.assert_allclose(two["train_losses"], one["train_losses"], rtol=1e-5)
    assert abs(two["val_loss"] - one["val_loss"]) < 1e-4
    assert two["saves_per_rank"] == [4, 0] and one["saves_per_rank"] == [4]   # rank 0 writes, once each time
    ck = tg.load(tmp_path / "two.npz")   # a plain checkpoint: keys of the unwrapped model
    assert all(not k.startswith("module.") for k in ck["model"])


@needs_mpi
def test_conv_demo_distributed_reaches_the_single_process_loss(tmp_path):
    argv = ["--quick", "--train", "640", "--test", "40", "--epochs", "1"]
    two, one = _demo(tmp_path, "conv", True, *argv), _demo(tmp_path, "conv", False, *argv)
    assert two["loss_first"] != two["loss_last"]
    for k in ("loss_first", "loss_last"):
        assert abs(two[k] - one[k]) < 1e-4, (k, two[k], one[k])


def _two_gpus():
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() >= 2
    except Exception:
        return False


@needs_mpi
@pytest.mark.gpu
@pytest.mark.skipif(not _two_gpus(), reason="needs CuPy with NCCL and two GPUs")
def test_nccl_collectives_and_ddp_on_two_gpus():
    r = mpirun(SCRIPTS / "nccl_check.py", timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "NCCL OK" in r.stdout


@pytest.mark.skipif(not dist.is_available(), reason='needs mpi4py: pip install -e ".[mpi]"')
def test_nccl_without_cupy_or_enough_gpus_says_so():
    code = ("import tinygrad_seq.distributed as d, tinygrad_seq.backend as b\n"
            "b._cupy = None\n"
            "try:\n    d.init_process_group('nccl')\nexcept RuntimeError as e:\n    print(e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=ROOT)
    assert "init_process_group('nccl'): CuPy is not installed" in r.stdout, r.stdout + r.stderr


# ================================================================ in this process
def test_missing_mpi4py_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)   # `import mpi4py` now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "tinygrad-seq\[mpi\]"'):
        dist.init_process_group("mpi")
    assert not dist.is_initialized()


def test_without_a_process_group():
    assert not dist.is_initialized()
    assert (dist.get_rank(), dist.get_world_size()) == (0, 1)
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.all_reduce(tg.ones(2))
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.barrier()
    with pytest.raises(ValueError, match="unknown backend 'gloo'"):
        dist.init_process_group("gloo")


def test_import_installs_no_excepthook():
    r = subprocess.run([sys.executable, "-c", "import sys; h = sys.excepthook; "
                        "import tinygrad_seq.distributed, tinygrad_seq.nn.parallel; "
                        "print(sys.excepthook is h, 'mpi4py.MPI' in sys.modules)"],
                       capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.stdout.split() == ["True", "False"], r.stdout + r.stderr


def _net():
    return nn.Sequential(nn.Linear(5, 7), nn.Dropout(0.3), nn.Tanh(), nn.Linear(7, 2))


def test_ddp_on_one_process_is_the_module():
    tg.manual_seed(3)
    plain = _net()
    tg.manual_seed(3)
    inner = _net()
    ddp = DistributedDataParallel(inner)
    assert ddp.module is inner
    assert list(ddp.state_dict()) == ["module." + k for k in plain.state_dict()]
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    tg.manual_seed(9)
    plain(tg.tensor(x)).sum().backward()
    tg.manual_seed(9)   # same dropout mask: DDP on one rank leaves the generator alone
    ddp(tg.tensor(x)).sum().backward()
    for (n, p), q in zip(plain.named_parameters(), inner.parameters()):
        assert np.array_equal(p.grad.numpy(), q.grad.numpy()), n
    with ddp.no_sync():
        ddp(tg.tensor(x))
    ddp.load_state_dict(ddp.state_dict())
    with pytest.raises(TypeError, match="expected a Module"):
        DistributedDataParallel(lambda x: x)


def test_post_accumulate_grad_hook_fires_once_with_the_whole_gradient():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    b = tg.tensor([3.0, 4.0], requires_grad=True)
    unused = tg.tensor([0.0], requires_grad=True)
    seen = []
    for name, t in (("w", w), ("b", b), ("unused", unused)):
        t.register_post_accumulate_grad_hook(lambda t, name=name: seen.append((name, t.grad.tolist())))
    # w reaches the loss by three paths, b by two: each hook sees the finished sum, once
    ((w * 2 + w * b).sum() + (w * 3).sum() + (b * b).sum()).backward()
    assert sorted(seen) == [("b", [7.0, 10.0]), ("w", [8.0, 9.0])]
    seen.clear()
    h = b.register_post_accumulate_grad_hook(lambda t: seen.append("second"))
    h.remove()
    (b * 1).sum().backward()
    assert seen == [("b", [8.0, 11.0])]
    with pytest.raises(RuntimeError, match="leaf tensors that require grad"):
        (w * 2).register_post_accumulate_grad_hook(print)


# ---------------------------------------------------------------- DistributedSampler
@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (9, 3, False), (2, 4, False),
                                                  (7, 2, True), (1, 1, False)])
def test_sampler_shards_equal_and_cover_the_dataset(n, replicas, drop_last):
    for shuffle in (False, True):
        shards = [list(DistributedSampler(range(n), replicas, r, shuffle=shuffle, drop_last=drop_last))
                  for r in range(replicas)]
        lengths = {len(s) for s in shards}
        expected = len(DistributedSampler(range(n), replicas, 0, drop_last=drop_last))
        assert len(lengths) == 1 and lengths.pop() == expected
        seen = [i for s in shards for i in s]
        if drop_last:
            assert len(set(seen)) == len(seen) == (n // replicas) * replicas   # no repeats, the rest dropped
        else:
            assert set(seen) == set(range(n))                                  # every sample at least once
            assert len(seen) - n < replicas                                    # padding only to equalize


def test_sampler_set_epoch_reshuffles_the_same_way_on_every_rank():
    samplers = [DistributedSampler(range(20), 2, r, seed=5) for r in range(2)]
    orders = []
    for epoch in range(3):
        for s in samplers:
            s.set_epoch(epoch)
        shards = [list(s) for s in samplers]
        assert sorted(shards[0] + shards[1]) == list(range(20))   # disjoint: the ranks agree on the order
        orders.append(shards[0])
    assert orders[0] != orders[1] != orders[2]
    again = DistributedSampler(range(20), 2, 0, seed=5)
    again.set_epoch(1)
    assert list(again) == orders[1]   # seed + epoch fixes the order


@requires_torch
@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (5, 4, False), (8, 2, False)])
def test_sampler_matches_torch_without_shuffle(n, replicas, drop_last):
    from torch.utils.data import DistributedSampler as TorchSampler
    for r in range(replicas):
        ours = DistributedSampler(range(n), replicas, r, shuffle=False, drop_last=drop_last)
        theirs = TorchSampler(range(n), replicas, r, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
    with pytest.raises(ValueError, match=r"rank should be in the interval \[0, 2\]"):
        TorchSampler(range(n), 3, 3)
    with pytest.raises(ValueError, match=r"invalid rank 3, rank should be in the interval \[0, 2\]"):
        DistributedSampler(range(n), 3, 3)


def test_sampler_with_dataloader_and_bad_arguments():
    ds = TensorDataset(tg.arange(10))
    sampler = DistributedSampler(ds, num_replicas=2, rank=1, shuffle=False)
    loader = DataLoader(ds, batch_size=2, sampler=sampler)
    assert len(loader) == 3
    assert [b[0].tolist() for b in loader] == [[1, 3], [5, 7], [9]]
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, batch_size=2, sampler=sampler, shuffle=True)
    with pytest.raises(ValueError, match="num_replicas must be at least 1"):
        DistributedSampler(ds, num_replicas=0, rank=0)
    with pytest.raises(TypeError, match="rank must be an integer"):
        DistributedSampler(ds, num_replicas=2, rank=0.5)
    assert (DistributedSampler(ds).num_replicas, DistributedSampler(ds).rank) == (1, 0)   # no group: one rank




@needs_mpi
def test_distributed_benchmark_quick_run_reports_both_rank_counts(tmp_path):
    """Structure only (timings are never asserted): all-reduce rows on 2 ranks, a step row per rank count."""
    path = tmp_path / "d.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "benchmarks", "distributed", "--quick", "--json", str(path)],
                       capture_output=True, text=True, timeout=180, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    runs = json.loads(path.read_text())["runs"]
    assert set(runs) == {"1", "2"} and runs["1"]["allreduce"] == []
    for row in runs["2"]["allreduce"]:
        assert row["ms"] > 0 and abs(row["busbw_gbs"] - row["algbw_gbs"]) < 1e-9   # 2(N-1)/N = 1 at N=2
    for n in ("1", "2"):
        assert runs[n]["world"] == int(n) and runs[n]["step"]["chars_per_s"] > 0
    assert "char-LSTM step" in r.stdout and "busbw GB/s" in r.stdout
