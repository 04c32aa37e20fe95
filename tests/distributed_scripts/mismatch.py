"""Run under `mpiexec -n 2`: the ranks build different models; DDP must refuse at construction."""
import tinygrad_seq.distributed as dist
import tinygrad_seq.nn as nn
from tinygrad_seq.nn.parallel import DistributedDataParallel

dist.init_process_group("mpi")
hidden = 4 if dist.get_rank() == 0 else 5
DistributedDataParallel(nn.Sequential(nn.Linear(3, hidden), nn.Linear(hidden, 2)))
print("constructed: the mismatch was not caught")
