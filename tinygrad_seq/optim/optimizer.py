"""Optimizer base: parameter groups, the step loop, zero_grad and state dicts.

Subclasses write only `_update(xp, p, g, state, group)`: the math of one step for
one parameter, on raw backend arrays (NumPy or CuPy). The base class skips
parameters without a gradient, runs under no_grad and keeps the state per
parameter, in the parameter's dtype and on its device.
"""
import math
import numbers

from .. import backend
from ..autograd import no_grad, enable_grad
from ..tensor import Tensor


class Optimizer:
    """Base class, like torch.optim.Optimizer.

    params: an iterable of Tensors, or of dicts {'params': [...], 'lr': ..., ...}
    (parameter groups; keys a group leaves out come from `defaults`).
    """

    def __init__(self, params, defaults):
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params must be an iterable of Tensors or of dicts, got a single Tensor; "
                            "wrap it in a list")
        _check_lr(name, defaults.get("lr"))
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = {}  # param -> {name: array or int}; Tensors hash by identity
        groups = list(params)
        if not groups:
            raise ValueError(f"{name} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, group):
        name = type(self).__name__
        if not isinstance(group, dict):
            raise TypeError(f"{name}: a parameter group must be a dict, got {type(group).__name__}")
        if "params" not in group:
            raise KeyError(f"{name}: a parameter group needs a 'params' entry, got keys {sorted(group)}")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: optimizer can only optimize Tensors, "
                                f"but parameter {i} is a {type(p).__name__}")
            if p.dtype.kind != "f":
                raise TypeError(f"{name}: parameter {i} has dtype {p.dtype}; only floating point "
                                "tensors can be optimized")
        if not params:
            raise ValueError(f"{name}: a parameter group has an empty parameter list")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params) or len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group "
                             "(or twice in one)")
        full = dict(self.defaults)
        full.update(group)
        full["params"] = params
        _check_lr(name, full["lr"])
        self.param_groups.append(full)

    # ------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none=True):
        """Forget the gradients. set_to_none=False zeroes them instead: a fresh zero array,
        never an in-place write (the autograd engine may share gradient arrays)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None or set_to_none:
                    p.grad = None
                else:
                    p.grad = Tensor._wrap(backend.xp(p.device).zeros_like(p.grad.array), p.device)

    def step(self, closure=None):
        """One update of every parameter that has a gradient. `closure` (optional)
        re-evaluates the model and returns the loss, as in torch."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    g = p.grad.array
                    if g.shape != p.array.shape:
                        raise ValueError(f"{type(self).__name__}: gradient of shape {g.shape} does not match "
                                         f"its parameter of shape {p.shape}")
                    if g.dtype != p.array.dtype:  # keep the state and update in the parameter's dtype
                        g = g.astype(p.array.dtype)
                    state = _follow(self.state.setdefault(p, {}), p)
                    self._update(backend.xp(p.device), p.array, g, state, group)
                    p._version += 1  # the parameter changed in place: a graph that saved it is stale
        return loss

    def _update(self, xp, p, g, state, group):
        """Update the raw array `p` in place from its gradient `g` (never write into g);
        xp is numpy or cupy, matching p's device."""
        raise NotImplementedError

    # ------------------------------------------------------------ state dicts
    def state_dict(self):
        """{'state': {index: {name: array or number}}, 'param_groups': [{hyperparameters,
        'params': [indices]}]}, as in torch: parameters are referred to by their position
        across the groups, so the dict holds only plain arrays, numbers and strings.
        Arrays are copies (a later step does not change a saved state)."""
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {k: (v.copy() if backend.is_array(v) else v)
                                           for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyperparameters and state from `state_dict()` (possibly after save/load);
        arrays are copied onto each parameter's device and dtype."""
        name = type(self).__name__
        for key in ("state", "param_groups"):
            if key not in state_dict:
                raise KeyError(f"{name}.load_state_dict: the state dict has no '{key}' entry")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter groups, "
                             f"the optimizer has {len(self.param_groups)}")
        for i, (sg, g) in enumerate(zip(saved_groups, self.param_groups)):
            if len(sg["params"]) != len(g["params"]):
                raise ValueError(f"{name}.load_state_dict: parameter group {i} has {len(sg['params'])} parameters "
                                 f"in the state dict but {len(g['params'])} in the optimizer")
        by_index = {}
        for sg, g in zip(saved_groups, self.param_groups):
            for idx, p in zip(sg["params"], g["params"]):
                by_index[int(idx)] = p
        new_state = {}
        for idx, st in state_dict["state"].items():
            p = by_index.get(int(idx))
            if p is None:
                raise ValueError(f"{name}.load_state_dict: state for parameter {idx}, which no group lists")
            new_state[p] = {k: _to_param_array(v, p, f"{name}.load_state_dict: state '{k}' of parameter {idx}")
                            for k, v in st.items()}
        for sg, g in zip(saved_groups, self.param_groups):
            for k, v in sg.items():
                if k != "params":
                    g[k] = tuple(v) if isinstance(v, list) else v  # betas come back from JSON as lists
        self.state = new_state

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(g.items()) if k != "params"]
        return "\n".join(lines) + "\n)"


def _check_lr(name, lr):
    if not isinstance(lr, numbers.Real) or isinstance(lr, bool) or math.isnan(lr) or lr < 0:
        raise ValueError(f"{name}: invalid learning rate {lr!r} (must be a number >= 0)")


def _follow(state, p):
    """The state, with arrays made before the parameter moved or changed dtype (Module.to,
    .double()) copied onto its device and dtype: the update (CuPy's fused Adam kernel above
    all) cannot mix devices or dtypes. Costs a type check per entry when nothing moved."""
    for k, v in state.items():
        if backend.is_array(v) and (backend.device_of(v) != p.device or
                                    (v.dtype.kind == "f" and v.dtype != p.array.dtype)):
            state[k] = _to_param_array(v, p, f"optimizer state '{k}'")
    return state


def _to_param_array(v, p, what):
    """A state entry from a state dict: arrays become arrays on p's device in p's dtype
    (float state only), numbers stay numbers."""
    if isinstance(v, Tensor):
        v = v.array
    if not backend.is_array(v):
        return v.item() if hasattr(v, "item") else v
    if v.dtype.kind == "f" and v.shape != p.array.shape and v.ndim != 0:
        raise ValueError(f"{what} has shape {v.shape}, the parameter has shape {p.shape}")
    arr = backend.to_device(v, p.device)
    return arr.astype(p.array.dtype if arr.dtype.kind == "f" else arr.dtype, copy=True)
