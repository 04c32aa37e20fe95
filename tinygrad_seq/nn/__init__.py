"""Layers with PyTorch's names and parameter layouts (`import tinygrad_seq.nn as nn`)."""
from .module import Module, Parameter, Sequential, ModuleList  # noqa: F401
from .container import ModuleDict, ParameterList, ParameterDict  # noqa: F401
from . import init  # noqa: F401
from . import utils  # noqa: F401
from .rnn_cells import RNNCell, LSTMCell, GRUCell  # noqa: F401
from .rnn import RNNBase, RNN, LSTM, GRU, pad_sequence  # noqa: F401
from . import tbptt  # noqa: F401
from .linear import Linear  # noqa: F401
from .conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d  # noqa: F401
from .pooling import (MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveMaxPool1d,  # noqa: F401
                      AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool2d)
from .dropout import Dropout, Dropout2d  # noqa: F401
from .embedding import Embedding, EmbeddingBag  # noqa: F401
from .activation import (ReLU, Tanh, Sigmoid, LeakyReLU, Softmax, LogSoftmax, Flatten, Identity,  # noqa: F401
                         GELU, ELU, SiLU, Softplus, GLU, Unflatten, Hardtanh, ReLU6, LogSigmoid, SELU)
from .normalization import LayerNorm, BatchNorm1d, BatchNorm2d, GroupNorm  # noqa: F401
from .loss import (CrossEntropyLoss, NLLLoss, MSELoss, BCEWithLogitsLoss, L1Loss, BCELoss,  # noqa: F401
                   SmoothL1Loss, HuberLoss, KLDivLoss)
from .attention import MultiheadAttention  # noqa: F401
from . import functional  # noqa: F401
from . import parallel  # noqa: F401  (nn.parallel.DistributedDataParallel)
