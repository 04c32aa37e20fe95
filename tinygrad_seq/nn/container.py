"""ModuleDict, ParameterList and ParameterDict: containers that register what they hold, so
parameters appear in parameters() and state_dict under torch's keys ('heads.key.weight',
'params.0', 'pdict.key')."""
from ..tensor import Tensor
from .module import Module, Parameter


def _as_parameter(value, name):
    """A Parameter as is; a plain Tensor wrapped into one (as torch's ParameterList does)."""
    if isinstance(value, Parameter):
        return value
    if isinstance(value, Tensor):
        return Parameter(value, requires_grad=value.requires_grad)
    raise TypeError(f"{name}: expected a Parameter or Tensor, got {type(value).__name__}")


def _params_repr(container):
    """One line per parameter, as torch prints ParameterList / ParameterDict."""
    lines = [f"({k}): Parameter containing: [{p.dtype} of size {p.shape}]"
             for k, p in container._parameters.items()]
    body = "\n  " + "\n  ".join(lines) + "\n" if lines else ""
    return f"{type(container).__name__}({body})"


def _key(key, name):
    if not isinstance(key, str):
        raise TypeError(f"{name}: keys must be strings, got {type(key).__name__}")
    if "." in key or key == "":
        raise KeyError(f"{name}: key {key!r} must be a non-empty string without '.'")
    return key


def _pairs(items, name):
    """(key, value) pairs from a mapping or an iterable of pairs."""
    if hasattr(items, "items"):
        return list(items.items())
    pairs = []
    for i, kv in enumerate(items):
        if not isinstance(kv, (tuple, list)) or len(kv) != 2:
            raise ValueError(f"{name}.update: element #{i} should be a (key, value) pair, got {kv!r}")
        pairs.append(tuple(kv))
    return pairs


class ModuleDict(Module):
    """Modules by name, in insertion order; registered under their keys."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: {key!r} must be a Module, got {type(module).__name__}")
        self.add_module(_key(key, "ModuleDict"), module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def pop(self, key):
        m = self._modules[key]
        del self[key]
        return m

    def clear(self):
        self._modules.clear()

    def update(self, modules):
        for k, m in _pairs(modules, "ModuleDict"):
            self[k] = m


class ParameterList(Module):
    """Parameters in a list, registered as '0', '1', ... (plain Tensors become Parameters)."""

    def __init__(self, values=None):
        super().__init__()
        if values is not None:
            self.extend(values)

    def _index(self, i):
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"ParameterList: index {i} is out of range for {n} parameters")
        return str(i % n)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return ParameterList(list(self._parameters.values())[i])
        return self._parameters[self._index(i)]

    def __setitem__(self, i, value):
        setattr(self, self._index(i), _as_parameter(value, "ParameterList"))

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def append(self, value):
        setattr(self, str(len(self)), _as_parameter(value, "ParameterList"))
        return self

    def extend(self, values):
        for v in values:
            self.append(v)
        return self

    def __repr__(self):
        return _params_repr(self)


class ParameterDict(Module):
    """Parameters by name, in insertion order; registered under their keys."""

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key):
        return self._parameters[key]

    def __setitem__(self, key, value):
        setattr(self, _key(key, "ParameterDict"), _as_parameter(value, "ParameterDict"))

    def __delitem__(self, key):
        del self._parameters[key]

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters)

    def __contains__(self, key):
        return key in self._parameters

    def keys(self):
        return self._parameters.keys()

    def items(self):
        return self._parameters.items()

    def values(self):
        return self._parameters.values()

    def get(self, key, default=None):
        return self._parameters.get(key, default)

    def pop(self, key):
        p = self._parameters[key]
        del self[key]
        return p

    def clear(self):
        self._parameters.clear()

    def update(self, parameters):
        for k, v in _pairs(parameters, "ParameterDict"):
            self[k] = v

    def __repr__(self):
        return _params_repr(self)


__all__ = ["ModuleDict", "ParameterList", "ParameterDict"]
