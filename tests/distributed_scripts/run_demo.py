"""Run a demo's main(argv) on every rank and write rank 0's result (plus every rank's count of
tg.save calls) as JSON: python run_demo.py NAME OUT.json [demo args...].
NO_DROPOUT=1 in the environment turns dropout off, so a run can be compared exactly."""
import importlib
import json
import os
import sys

import tinygrad_seq as tg
import tinygrad_seq.distributed as dist
from tinygrad_seq.nn import dropout

name, out, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
if os.environ.get("NO_DROPOUT"):
    dropout.Dropout.forward = lambda self, x: x
saves = []
real_save = tg.save


def counting_save(obj, path):
    saves.append(str(path))
    return real_save(obj, path)


tg.save = counting_save
mod = importlib.import_module(f"demos.{name}")
mod.tg.save = counting_save
result = mod.main(argv)
counts = [len(saves)]
if dist.is_initialized():
    counts = [None] * dist.get_world_size()
    dist.all_gather_object(counts, len(saves))
if dist.get_rank() == 0:
    keep = {k: v for k, v in result.items() if isinstance(v, (int, float, str, list))}
    keep["saves_per_rank"] = counts
    with open(out, "w") as f:
        json.dump(keep, f)
