"""Run under `mpiexec -n 2`: rank 1 raises while rank 0 waits in a collective. The excepthook
that init_process_group installs must abort the whole job (non-zero exit), not hang it."""
import tinygrad_seq.distributed as dist

dist.init_process_group("mpi")
if dist.get_rank() == 1:
    raise ValueError("rank 1 fails on purpose")
dist.barrier()   # rank 0 would wait here forever without the abort
print("rank 0 passed the barrier: the job was not aborted")
