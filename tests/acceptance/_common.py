"""Helpers shared by the acceptance programs: moving weights between libraries as NumPy."""
import numpy as np


def numpy_state(model):
    """The model's state_dict as NumPy arrays (a copy), so another library can load it."""
    return {k: np.array(v.detach().cpu().numpy(), copy=True) for k, v in model.state_dict().items()}


def load_numpy_state(torch, model, state):
    """Load NumPy arrays saved by `numpy_state` into `model` (of the library `torch`)."""
    model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
