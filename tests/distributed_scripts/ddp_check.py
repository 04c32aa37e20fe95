"""Run under `mpiexec -n 2`: DistributedDataParallel against one process with the whole batch.

Every rank also computes the single-process reference itself (a copy of the model on the
combined batch), so each rank checks its own averaged gradients. Prints 'ALL OK' on rank 0.
"""
import copy
import os
import tempfile

import numpy as np

import tinygrad_seq as tg
import tinygrad_seq.distributed as dist
import tinygrad_seq.nn as nn
from tinygrad_seq.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("mpi")
rank, world = dist.get_rank(), dist.get_world_size()
assert world == 2, world
assert dist.is_initialized()


def check(cond, msg):
    if not cond:
        raise AssertionError(f"rank {rank}: {msg}")


# ---------------------------------------------------------------- collectives
x = tg.tensor([float(rank + 1), 10.0 * (rank + 1)], dtype=tg.float64)
dist.all_reduce(x)
check(np.array_equal(x.numpy(), [3.0, 30.0]), f"all_reduce sum {x.numpy()}")
x = tg.tensor([float(rank + 1)], dtype=tg.float64)
dist.all_reduce(x, op=dist.ReduceOp.AVG)
check(x.item() == 1.5, "all_reduce avg")
x = tg.tensor([float(rank), -float(rank)])
dist.all_reduce(x, op=dist.ReduceOp.MAX)
check(x.tolist() == [1.0, 0.0], "all_reduce max")
x = tg.tensor([rank * 7 + 1, 2])
dist.broadcast(x, src=1)
check(x.tolist() == [8, 2], "broadcast")
parts = [tg.zeros(3), tg.zeros(3)]
dist.all_gather(parts, tg.full((3,), float(rank)))
check([p.tolist() for p in parts] == [[0.0] * 3, [1.0] * 3], "all_gather")
dist.barrier()


def raises(fn, etype, text):
    try:
        fn()
    except etype as e:
        check(text in str(e), f"expected {text!r} in {e!r}")
        return
    check(False, f"expected {etype.__name__} with {text!r}")


# bad arguments raise on every rank before any communication (so nobody waits)
raises(lambda: dist.all_reduce(tg.ones(2), op="mean"), ValueError, "unknown op 'mean'")
raises(lambda: dist.all_reduce(tg.tensor([1, 2]), op=dist.ReduceOp.AVG), TypeError, "AVG needs a floating")
raises(lambda: dist.broadcast(tg.ones(2), src=2), ValueError, "src=2 is not a rank of this group (0..1)")
raises(lambda: dist.all_gather([tg.ones(2)], tg.ones(2)), ValueError, "list of world_size=2 tensors, got a list of 1")
raises(lambda: dist.all_gather([tg.ones(3), tg.ones(3)], tg.ones(2)), ValueError, "tensor_list[0] is (3,)")
raises(lambda: dist.all_reduce([1.0]), TypeError, "expected a Tensor, got list")
raises(lambda: dist.init_process_group("mpi"), RuntimeError, "already initialized")
dist.barrier()

# ---------------------------------------------------------------- models
def mlp():
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(4 * 3 * 3, 3)

    def forward(self, x):
        return self.fc(self.pool(self.conv(x).relu()).flatten(1))


class CharLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(11, 5)
        self.lstm = nn.LSTM(5, 8, batch_first=True)
        self.out = nn.Linear(8, 11)

    def forward(self, ids):
        h, _ = self.lstm(self.emb(ids))
        return self.out(h)


def data(kind, gen):
    B = 8
    if kind == "mlp":
        return gen.standard_normal((B, 6)), gen.integers(0, 3, B)
    if kind == "conv":
        return gen.standard_normal((B, 1, 8, 8)), gen.integers(0, 3, B)
    ids = gen.integers(0, 11, (B, 7))
    return ids, gen.integers(0, 11, (B, 7))


def loss_of(model, kind, x, y):
    xt = tg.tensor(x) if kind == "lstm" else tg.tensor(x, dtype=tg.float64)
    out = model(xt)
    if kind == "lstm":
        return nn.functional.cross_entropy(out.reshape(-1, 11), tg.tensor(y.reshape(-1)))
    return nn.functional.cross_entropy(out, tg.tensor(y))


def grads(model):
    return {n: p.grad.numpy().copy() for n, p in model.named_parameters()}


for kind, make in (("mlp", mlp), ("conv", ConvNet), ("lstm", CharLM)):
    tg.manual_seed(rank)   # different initial weights: DDP must copy rank 0's
    model = make().double()
    ddp = DDP(model, bucket_cap_mb=0.001)   # tiny buckets: several collectives
    check(len(ddp._buckets) > 1, f"{kind}: expected several buckets")
    ref = copy.deepcopy(model)
    gen = np.random.default_rng(123)   # same data on every rank
    opt = tg.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    ref_opt = tg.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    for step in range(20):
        x, y = data(kind, gen)
        half = len(x) // world
        opt.zero_grad()
        loss_of(ddp, kind, x[rank * half:(rank + 1) * half], y[rank * half:(rank + 1) * half]).backward()
        ref_opt.zero_grad()
        loss_of(ref, kind, x, y).backward()
        if step in (0, 19):
            g, rg = grads(model), grads(ref)
            for n in rg:
                check(np.allclose(g[n], rg[n], rtol=1e-10, atol=1e-12),
                      f"{kind} step {step}: gradient of {n} differs by {np.abs(g[n] - rg[n]).max()}")
        opt.step()
        ref_opt.step()
    flat = np.concatenate([p.numpy().ravel() for p in model.parameters()])
    allp = [tg.zeros(flat.shape, dtype=tg.float64) for _ in range(world)]
    dist.all_gather(allp, tg.tensor(flat))
    check(allp[0].numpy().tobytes() == allp[1].numpy().tobytes(), f"{kind}: parameters differ across ranks")
    check(np.allclose(flat, np.concatenate([p.numpy().ravel() for p in ref.parameters()]), rtol=1e-9),
          f"{kind}: 20 DDP steps drifted from the single-process run")
    check(list(ddp.state_dict())[0].startswith("module."), "state_dict keys")

# ---------------------------------------------------------------- no_sync accumulates locally
tg.manual_seed(0)
model = mlp().double()
ddp = DDP(model)
ref = copy.deepcopy(model)
gen = np.random.default_rng(5)
xs = [data("mlp", gen) for _ in range(2)]
with ddp.no_sync():
    x, y = xs[0]
    loss_of(ddp, "mlp", x[rank * 4:(rank + 1) * 4], y[rank * 4:(rank + 1) * 4]).backward()
local = grads(model)
x, y = xs[1]
loss_of(ddp, "mlp", x[rank * 4:(rank + 1) * 4], y[rank * 4:(rank + 1) * 4]).backward()
for x, y in xs:
    loss_of(ref, "mlp", x, y).backward()
for n, g in grads(model).items():
    check(np.allclose(g, grads(ref)[n], rtol=1e-10, atol=1e-12), f"no_sync: gradient of {n}")
other = [tg.zeros(local["0.bias"].shape, dtype=tg.float64) for _ in range(world)]
dist.all_gather(other, tg.tensor(local["0.bias"]))
check(not np.array_equal(other[0].numpy(), other[1].numpy()), "no_sync must not average")


# ---------------------------------------------------------------- unused parameters
class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 2)
        self.b = nn.Linear(3, 2)
        self.never = nn.Linear(3, 2)

    def forward(self, x, head):
        return (self.a if head == "a" else self.b)(x)


tg.manual_seed(0)
two = TwoHeads().double()
ddp = DDP(two, find_unused_parameters=True)
xx = tg.ones(1, 3, dtype=tg.float64)
ddp(xx, "a" if rank == 0 else "b").sum().backward()
# a: only rank 0 has a gradient (1 per element) -> averaged 0.5 on both ranks; never: None
check(np.allclose(two.a.bias.grad.numpy(), 0.5) and np.allclose(two.b.bias.grad.numpy(), 0.5),
      "find_unused_parameters: locally unused parameters count as zero")
check(two.never.weight.grad is None, "a parameter unused on every rank keeps grad None")

tg.manual_seed(0)
ddp = DDP(TwoHeads().double())
ddp(xx, "a").sum().backward()
try:
    ddp(xx, "a")
    check(False, "unused parameters without find_unused_parameters should raise")
except RuntimeError as e:
    check("find_unused_parameters=True" in str(e) and "never.weight" in str(e), str(e))

# ---------------------------------------------------------------- sampler and dropout masks
sampler = tg.data.DistributedSampler(list(range(11)), shuffle=True, seed=3)
for epoch in range(2):
    sampler.set_epoch(epoch)
    mine = list(sampler)
    everyone = [None, None]
    dist.all_gather_object(everyone, mine)
    check(len(everyone[0]) == len(everyone[1]) == 6, "equal shards")
    check(sorted(set(everyone[0] + everyone[1])) == list(range(11)), "sampler covers the dataset")
sampler.set_epoch(0)
first = list(sampler)
sampler.set_epoch(1)
check(first != list(sampler), "a new order each epoch")

tg.manual_seed(42)
lin = nn.Linear(4, 4)
w = [None, None]
dist.all_gather_object(w, lin.weight.numpy())   # before DDP copies rank 0's weights
check(np.array_equal(w[0], w[1]), "manual_seed should give the same initial weights on every rank")
DDP(nn.Sequential(lin))
masks = [None, None]
dist.all_gather_object(masks, nn.functional.dropout(tg.ones(64), 0.5).numpy())
check(not np.array_equal(masks[0], masks[1]), "dropout masks should differ across ranks")

# ---------------------------------------------------------------- checkpoint: rank 0 writes, every rank reads
where = [tempfile.mkdtemp() if rank == 0 else None]
dist.broadcast_object_list(where, src=0)
path = os.path.join(where[0], "ck.npz")
tg.manual_seed(0)
model = mlp()
ddp = DDP(model)
if rank == 0:
    tg.save(model.state_dict(), path)
dist.barrier()   # the file is complete before anyone reads it
fresh = mlp()
fresh.load_state_dict(tg.load(path))
for (n, p), q in zip(model.named_parameters(), fresh.parameters()):
    check(np.array_equal(p.numpy(), q.numpy()), f"checkpoint: {n}")
dist.barrier()
if rank == 0:
    os.remove(path)
    os.rmdir(where[0])
    print("ALL OK")
dist.destroy_process_group()
