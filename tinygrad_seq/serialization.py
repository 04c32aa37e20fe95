"""Checkpoints without pickle: `save(obj, path)` and `load(path)`.

A checkpoint is a .npz archive. Every array (or Tensor) is an entry of its own;
the nesting around them - dicts, lists, tuples, numbers, strings, None - is one
JSON string in the entry '__tinygrad_seq__'. Loading uses allow_pickle=False,
so opening a checkpoint can never run code, and files are written atomically:
a crash in the middle of `save` leaves the previous checkpoint untouched, and the
temporary file such a crash leaves behind is removed by the next `save` to that path.

    tg.save({"model": model.state_dict(), "optim": opt.state_dict(),
             "sched": sched.state_dict(), "rng": tg.get_rng_state(), "epoch": 5}, "ckpt.npz")
    ckpt = tg.load("ckpt.npz")
"""
import json
import os
import re
import socket
import time
import uuid
import zipfile

import numpy as np

from . import backend
from .tensor import Tensor

TREE_KEY = "__tinygrad_seq__"
FORMAT = "tinygrad_seq.checkpoint.v1"


def save(obj, path):
    """Write `obj` (nested dicts / lists / tuples of Tensors, NumPy or CuPy arrays,
    numbers, strings and None) to `path` as a pickle-free .npz, atomically; `path` may
    also be a binary file object."""
    arrays = {}
    tree = _encode(obj, arrays, "obj")
    header = json.dumps({"format": FORMAT, "tree": tree})
    arrays[TREE_KEY] = np.array(header)  # a unicode array: no pickle needed
    if hasattr(path, "write"):   # a file object (io.BytesIO, open(..., 'wb')): written in place
        np.savez(path, **arrays)
    else:
        atomic_write(path, lambda f: np.savez(f, **arrays))


def load(path, map_location=None, *, device=None, weights_only=None):
    """Read a checkpoint written by `save` (from a path or a binary file object). Tensors
    (and arrays) come back on `device` (or `map_location`: 'cpu' or 'cuda'), NumPy-backed by
    default. A damaged file raises ValueError('... corrupt or truncated checkpoint <path> ...').
    `weights_only` is accepted for torch's signature: loading never unpickles, so it is
    always weights-only."""
    is_file = hasattr(path, "read")   # a binary file object rather than a path
    source = path if is_file else os.fspath(path)
    path = f"<{type(source).__name__}>" if is_file else source
    device = backend.normalize_device(device if device is not None else map_location)
    if not is_file and not os.path.exists(source):
        raise FileNotFoundError(f"load: no checkpoint at '{path}'")
    try:
        start = source.tell() if is_file else None
        if not zipfile.is_zipfile(source):
            raise ValueError("not a zip/npz archive")
        if start is not None:
            source.seek(start)   # is_zipfile moved the file position
        with np.load(source, allow_pickle=False) as z:
            arrays = {}
            for name in z.files:  # read everything now: a bad CRC shows up only on reading
                try:
                    arrays[name] = z[name]
                except ValueError as e:
                    if "allow_pickle" in str(e):
                        raise _PickleRefused(name) from None
                    raise
    except _PickleRefused as e:
        raise ValueError(f"load: '{path}' holds an array of Python objects (entry '{e.args[0]}'), which would "
                         "need pickle to load; refusing to unpickle (checkpoints hold only plain arrays)") from None
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, UnicodeDecodeError) as e:
        raise ValueError(f"load: corrupt or truncated checkpoint '{path}' ({type(e).__name__}: {e})") from e
    if TREE_KEY not in arrays:
        raise ValueError(f"load: '{path}' is an .npz but not a tinygrad_seq checkpoint (no '{TREE_KEY}' entry)")
    try:
        header = json.loads(str(arrays.pop(TREE_KEY)[()]))
        if header.get("format") != FORMAT:
            raise ValueError(f"unknown format {header.get('format')!r}, expected {FORMAT!r}")
        return _decode(header["tree"], arrays, device)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
        # (RecursionError: a header nested absurdly deep, which `save` never writes)
        raise ValueError(f"load: corrupt or truncated checkpoint '{path}' ({type(e).__name__}: {e})") from e


class _PickleRefused(Exception):
    pass


# ------------------------------------------------------------------ the JSON tree
# Every container is a one-key dict naming its kind, so a user's dict key can
# never be mistaken for a tag: {"$dict": [[key, value], ...]} keeps int keys
# (optimizer state is keyed by parameter index) and the order.

def _encode(obj, arrays, where):
    if isinstance(obj, Tensor):
        return {"$tensor": _add_array(obj.array, arrays, where), "requires_grad": obj.requires_grad}
    if backend.is_array(obj):
        return {"$array": _add_array(obj, arrays, where)}
    if isinstance(obj, np.generic):  # keep the NumPy scalar's dtype (np.float32 stays np.float32)
        return {"$scalar": _add_array(np.asarray(obj), arrays, where)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not (k is None or isinstance(k, (bool, int, float, str))):
                raise TypeError(f"save: dict keys must be strings or numbers, got {type(k).__name__} key {k!r} "
                                f"in {where}")
            items.append([k, _encode(v, arrays, f"{where}[{k!r}]")])
        return {"$dict": items}
    if isinstance(obj, (list, tuple)):
        kind = "$list" if isinstance(obj, list) else "$tuple"
        return {kind: [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]}
    hint = " (save its state_dict() instead)" if callable(getattr(obj, "state_dict", None)) else ""
    raise TypeError(f"save: cannot store a {type(obj).__name__} (at {where}) without pickle{hint}; checkpoints "
                    "hold dicts, lists, tuples, Tensors, arrays, numbers, strings and None")


def _add_array(arr, arrays, where):
    arr = backend.to_numpy(arr)
    if arr.dtype.hasobject:
        raise TypeError(f"save: {where} is an array of Python objects (dtype {arr.dtype}), which would need pickle")
    key = f"a{len(arrays)}"
    arrays[key] = arr
    return key


def _decode(node, arrays, device):
    if not isinstance(node, dict):
        return node
    (tag, value), *rest = node.items()
    if tag == "$tensor":
        arr = arrays.pop(value)
        return Tensor(arr, requires_grad=bool(node.get("requires_grad")) and arr.dtype.kind == "f", device=device)
    if tag == "$array":
        return backend.to_device(arrays.pop(value), device)
    if tag == "$scalar":
        return arrays.pop(value)[()]
    if tag == "$dict":
        return {_key(k): _decode(v, arrays, device) for k, v in value}
    if tag == "$list":
        return [_decode(v, arrays, device) for v in value]
    if tag == "$tuple":
        return tuple(_decode(v, arrays, device) for v in value)
    raise ValueError(f"unknown node {tag!r}")


def _key(k):
    if isinstance(k, list):  # JSON has no tuples; keys are scalars, so this is damage
        raise ValueError(f"bad dict key {k!r}")
    return k


# ------------------------------------------------------------------ atomic files
STALE_AFTER_S = 3600   # a temporary file untouched this long has no live writer


def _host():
    """This machine's name as it appears in temporary file names (letters, digits, '-')."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "host"


def _temp_name(path):
    """.<name>.<host>.<pid>.<random>.tmp beside `path`: who writes it is in its name."""
    return f".{os.path.basename(path)}.{_host()}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True   # exists (owned by someone else), or cannot tell: keep its file
    return True


def remove_stale_temporaries(path):
    """Delete the temporary files a killed `atomic_write(path, ...)` left beside `path`: only
    names of this path's pattern, and only when their writer is gone (a process of this
    host that no longer runs) or they have not been written to for STALE_AFTER_S seconds.
    A save in progress, here or on another host sharing the directory, is never touched.
    (Names without a host, from older versions, are judged by age alone.)"""
    directory = os.path.dirname(os.path.abspath(path))
    pattern = re.compile(r"\." + re.escape(os.path.basename(path))
                         + r"\.(?:([A-Za-z0-9-]+)\.)?(\d+)\.[0-9a-f]{8}\.tmp")   # see _temp_name
    host, me = _host(), os.getpid()
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        m = pattern.fullmatch(name)
        if m is None:
            continue
        full = os.path.join(directory, name)
        try:
            idle = time.time() - os.stat(full).st_mtime
            pid = int(m.group(2))
            dead = m.group(1) == host and pid != me and not _pid_alive(pid)
            if dead or idle > STALE_AFTER_S:
                os.unlink(full)
        except OSError:   # gone already, or not ours to remove: leave it
            pass


def atomic_write(path, write, mode="wb"):
    """Write a file so that `path` holds either its old content or the complete new one:
    `write(f)` fills a temporary file in the same directory, which is flushed, fsynced
    and renamed over `path` (os.replace is atomic). On any error the temporary file is
    removed and `path` is untouched; one left by a killed process is removed by the next
    write (remove_stale_temporaries)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    remove_stale_temporaries(path)
    tmp = os.path.join(directory, _temp_name(path))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # 0o666 & ~umask, like open()
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable (POSIX); not possible on every OS
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
