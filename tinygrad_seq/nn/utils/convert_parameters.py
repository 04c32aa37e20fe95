"""All parameters as one flat vector and back (torch.nn.utils.parameters_to_vector /
vector_to_parameters): for methods that treat the model as a point in R^n."""
from ...factories import cat
from ...tensor import Tensor


def _check_one_device(params, name):
    devices = {p.device for p in params}
    if len(devices) > 1:
        raise TypeError(f"{name}: found parameters on different devices {sorted(devices)}; "
                        "all must be on one device")


def parameters_to_vector(parameters):
    """The parameters flattened and concatenated, in order, into one 1-D tensor
    (differentiable: a gradient on the vector reaches the parameters)."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    params = list(parameters)
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    _check_one_device(params, "parameters_to_vector")
    return cat([p.reshape(-1) for p in params], dim=0)


def vector_to_parameters(vec, parameters):
    """Set each parameter's values from its slice of the 1-D `vec` (the inverse of
    parameters_to_vector). As in torch, the parameters' data become views of vec's data."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a Tensor, got {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: expected a 1-D vector, got shape {vec.shape}")
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    params = list(parameters)
    _check_one_device(params + [vec], "vector_to_parameters")
    total = sum(p.array.size for p in params)
    if total != vec.shape[0]:
        raise ValueError(f"vector_to_parameters: the vector has {vec.shape[0]} entries, the parameters "
                         f"{total}")
    offset = 0
    for p in params:
        n = p.array.size
        p.array = vec.array[offset:offset + n].reshape(p.array.shape)
        p._version += 1
        offset += n
