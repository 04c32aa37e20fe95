"""The host malloc setting is the program's choice: importing the library changes nothing in
the process; set_host_malloc applies it explicitly (demos and benchmarks call it)."""
import ctypes.util
import subprocess
import sys

import pytest

from tinygrad_seq import backend

GLIBC = sys.platform.startswith("linux") and "libc.so" in str(ctypes.util.find_library("c"))

# Records every ctypes library the import opens and every mallopt call made through it.
SPY = """
import ctypes, json, sys
calls = []
real = ctypes.CDLL
class Spy:
    def __init__(self, name, *a, **k):
        self._lib, self._name = real(name, *a, **k), str(name)
    def __getattr__(self, attr):
        fn = getattr(self._lib, attr)
        if attr == "mallopt":
            return lambda *args: calls.append(args) or fn(*args)
        return fn
ctypes.CDLL = Spy
import tinygrad_seq, tinygrad_seq.nn, tinygrad_seq.optim, tinygrad_seq.backend as b
before = list(calls)
if len(sys.argv) > 1:
    b.set_host_malloc(sys.argv[1])
print(json.dumps({"at_import": before, "after": calls, "mode": b.host_malloc.host_malloc()}))
"""


def _run(*args):
    import json
    out = subprocess.run([sys.executable, "-c", SPY, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_import_leaves_malloc_alone():
    r = _run()
    assert r["at_import"] == [] and r["after"] == [] and r["mode"] == "system"


def test_set_host_malloc_is_explicit_and_reversible():
    r = _run("cached")
    assert r["at_import"] == []
    if GLIBC:   # M_MMAP_THRESHOLD (-3) and M_TRIM_THRESHOLD (-1), both fixed
        assert r["after"] == [[-3, backend.MMAP_MIN], [-1, backend.TRIM_KEEP]] and r["mode"] == "cached"
    else:
        assert r["after"] == [] and r["mode"] == "system"
    with pytest.raises(ValueError, match="set_host_malloc: mode must be 'cached' or 'system', got 'fast'"):
        backend.set_host_malloc("fast")
    assert backend.set_host_malloc("system") == GLIBC
    assert backend.host_malloc.host_malloc() == "system"
