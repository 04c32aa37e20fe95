"""Layers with PyTorch's names and parameter layouts (`import tinygrad_seq.nn as nn`)."""
from .module import Module, Parameter, Sequential, ModuleList  # noqa: F401
from . import init  # noqa: F401
