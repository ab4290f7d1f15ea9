"""Modules: trainable parameters and the layers the models are built from.

Forward code only: every gradient comes from the tape (`Variable.backward`).

    module.py     Parameter, Module (parameters, buffers, state_dict, train/eval) and the
                  containers Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict
    layers.py     Linear, Embedding (their `init` choice), Identity, Flatten, Dropout
    init.py       initialisers under PyTorch's names (xavier_uniform_, kaiming_normal_, ...)
    activation.py ReLU, Tanh, Sigmoid, GELU, SiLU, Mish, LeakyReLU, ELU, Softplus, Softmax,
                  LogSoftmax
    normalization.py  BatchNorm1d, BatchNorm2d (running statistics as buffers)
    recurrent.py  LSTM
    bidirectional.py  BiLSTM (a second LSTM reads the input backwards)
    stacked.py    StackedLSTM (layers with residual connections)
    attention.py  Attention, attention_weight, weight_sum
    transformer.py  LayerNorm, MultiHeadAttention, PositionalEncoding, FeedForward,
                  TransformerEncoderLayer, TransformerDecoderLayer (pre-norm)
    ntm.py        NTM (LSTM controller, one read and one write head) and its addressing

Layers are initialised as in *Deep Learning from Scratch 2* unless told otherwise
(`Linear` and `Embedding` take ``init``). Each constructor takes ``dtype`` (float32 by
default) and ``rng`` (a ``numpy.random.Generator``) or ``seed``; weights are drawn as
float64, scaled, then cast to ``dtype`` (as the book's ``randn(...) / sqrt(n)``, then
``astype``). A layer's `forward` returns everything it produces (e.g. `Attention` returns
the context and the weights): nothing is stashed. The reference: docs/nn.md.
"""
from . import init
from .activation import (ELU, GELU, LeakyReLU, LogSoftmax, Mish, ReLU, SiLU, Sigmoid, Softmax,
                         Softplus, Tanh)
from .attention import Attention, attention_weight, weight_sum
from .layers import Dropout, Embedding, Flatten, Identity, Linear, make_rng
from .module import (Module, ModuleDict, ModuleList, Parameter, ParameterDict, ParameterList,
                     Sequential)
from .normalization import BatchNorm1d, BatchNorm2d
from .recurrent import LSTM
from .bidirectional import BiLSTM
from .ntm import NTM, NTMHeads
from .stacked import StackedLSTM
from .transformer import (FeedForward, LayerNorm, MultiHeadAttention, PositionalEncoding,
                          TransformerDecoderLayer, TransformerEncoderLayer)

__all__ = ["Parameter", "Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList",
           "ParameterDict", "Linear", "Embedding", "Identity", "Flatten", "Dropout", "init",
           "ReLU", "Tanh", "Sigmoid", "GELU", "SiLU", "Mish", "LeakyReLU", "ELU", "Softplus",
           "Softmax", "LogSoftmax", "BatchNorm1d", "BatchNorm2d", "LSTM", "Attention",
           "attention_weight", "weight_sum", "make_rng", "BiLSTM", "StackedLSTM",
           "LayerNorm", "MultiHeadAttention", "PositionalEncoding", "FeedForward",
           "TransformerEncoderLayer", "TransformerDecoderLayer", "NTM", "NTMHeads"]
