"""Scatter-add, the one array operation NumPy and CuPy spell differently."""
import numpy as np


def scatter_add(xp_, target, index, values):
    """target[index] += values, adding repeated indices (unlike plain assignment)."""
    if xp_ is np:
        np.add.at(target, index, values)
    else:
        import cupyx
        cupyx.scatter_add(target, index, values)
    return target
