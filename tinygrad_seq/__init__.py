"""tinygrad_seq: a small, readable deep-learning framework for sequence models.

    import tinygrad_seq as tg
    x = tg.randn(3, 4, requires_grad=True)
    (x.tanh() * 2).sum().backward()
"""
# autograd first: tensor.py builds on its names (autograd imports no tensor module)
from .autograd import (Function, no_grad, enable_grad, is_grad_enabled, set_grad_enabled,  # noqa: F401
                       detect_anomaly, AutogradError, unbroadcast)
from .tensor import (Tensor, where, float16, float32, float64, int32, int64, bool_,  # noqa: F401
                     get_default_dtype, set_default_dtype)
from .tensor import pad_ as pad  # noqa: F401
from .factories import (tensor, zeros, ones, full, randn, rand, randint, arange, eye,  # noqa: F401
                        zeros_like, ones_like, randn_like, cat, concatenate, stack)
from .backend import (manual_seed, cuda_available, get_rng_state, set_rng_state,  # noqa: F401
                      flush_checks)
from .gradcheck import gradcheck, gradgradcheck  # noqa: F401
from .serialization import save, load  # noqa: F401
from . import nn, optim, data, models, utils  # noqa: F401,E402  (tg.nn, tg.optim, tg.data, ...)
from . import autograd as _autograd, tensor_xp as _tensor_xp  # noqa: E402
_autograd.use_tensor_types(Tensor, _tensor_xp.TensorXP)   # the engine's types (see autograd.py)

import numpy as np  # noqa: E402

__version__ = "0.1.0"


# functional forms of the Tensor methods, as in torch
def exp(x): return x.exp()
def log(x): return x.log()
def sqrt(x): return x.sqrt()
def tanh(x): return x.tanh()
def sigmoid(x): return x.sigmoid()
def relu(x): return x.relu()
def matmul(a, b): return a @ b
def maximum(a, b): return a.maximum(b)
def minimum(a, b): return a.minimum(b)
def clip(x, min=None, max=None): return x.clip(min, max)
clamp = clip
def sum(x, axis=None, keepdims=False, **kw): return x.sum(axis, keepdims, **kw)  # noqa: A001
def mean(x, axis=None, keepdims=False, **kw): return x.mean(axis, keepdims, **kw)
def logsumexp(x, axis=None, keepdims=False, **kw): return x.logsumexp(axis, keepdims, **kw)
def softmax(x, axis=-1, **kw): return x.softmax(axis, **kw)
def log_softmax(x, axis=-1, **kw): return x.log_softmax(axis, **kw)
def split(x, size, dim=0): return x.split(size, dim)
def unbind(x, dim=0): return x.unbind(dim)
def chunk(x, chunks, dim=0): return x.chunk(chunks, dim)
def reshape(x, *shape): return x.reshape(*shape)
def flatten(x, start_dim=0, end_dim=-1): return x.flatten(start_dim, end_dim)
def transpose(x, dim0, dim1): return x.transpose(dim0, dim1)
def permute(x, *dims): return x.permute(*dims)
def squeeze(x, dim=None): return x.squeeze(dim)
def unsqueeze(x, dim): return x.unsqueeze(dim)
def broadcast_to(x, shape): return x.broadcast_to(shape)
def argmax(x, axis=None, keepdims=False, **kw): return x.argmax(axis, keepdims, **kw)


# ---------------------------------------------------------------- everyday PyTorch API
from .functions import *  # noqa: F401,F403,E402  (torch.max, torch.einsum, torch.cdist, ...)
from .factories import (empty, linspace, randperm, full_like, empty_like, rand_like,  # noqa: F401,E402
                        from_numpy, as_tensor, bernoulli, multinomial, normal,
                        LongTensor, FloatTensor, DoubleTensor, IntTensor, BoolTensor)
from .backend import device  # noqa: F401,E402
from . import cuda, backends  # noqa: F401,E402

# torch's dtype names (the builtins float / int / bool are shadowed only inside this module)
float = float32  # noqa: A001
double = float64
half = float16
int = int32  # noqa: A001
long = int64
bool = bool_  # noqa: A001
int8, int16, uint8 = np.dtype("int8"), np.dtype("int16"), np.dtype("uint8")
