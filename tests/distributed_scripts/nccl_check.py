"""Run under `mpiexec -n 2` on a machine with two GPUs: NCCL collectives on CUDA tensors with
no host copies, and DDP gradients on the GPU equal to one process on the whole batch."""
import copy

import numpy as np

import tinygrad_seq as tg
import tinygrad_seq.distributed as dist
import tinygrad_seq.nn as nn
from tinygrad_seq import backend
from tinygrad_seq.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("nccl")
rank = dist.get_rank()
x = tg.full((1000,), float(rank + 1), device="cuda")
before = backend.host_copies()
dist.all_reduce(x)
dist.all_reduce(x, op=dist.ReduceOp.AVG)
parts = [tg.zeros(1000, device="cuda") for _ in range(2)]
dist.all_gather(parts, x)
dist.broadcast(x, src=1)
assert backend.host_copies() == before, "NCCL collectives copied to the host"
assert np.allclose(x.numpy(), 3.0), x.numpy()[:3]

tg.manual_seed(rank)
model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3)).double().to("cuda")
ddp = DDP(model, bucket_cap_mb=0.001)
ref = copy.deepcopy(model)
gen = np.random.default_rng(0)
xb, yb = gen.standard_normal((8, 6)), gen.integers(0, 3, 8)
mine = slice(rank * 4, rank * 4 + 4)
nn.functional.cross_entropy(ddp(tg.tensor(xb[mine], dtype=tg.float64, device="cuda")),
                            tg.tensor(yb[mine], device="cuda")).backward()
nn.functional.cross_entropy(ref(tg.tensor(xb, dtype=tg.float64, device="cuda")),
                            tg.tensor(yb, device="cuda")).backward()
for (n, p), q in zip(model.named_parameters(), ref.parameters()):
    assert np.allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-12), n
dist.barrier()
if rank == 0:
    print("NCCL OK")
