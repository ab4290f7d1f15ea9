"""Modules: trainable parameters and the layers the models are built from.

Forward code only: every gradient comes from the tape (`Variable.backward`).

    module.py     Parameter, Module (parameters, named_parameters, zero_grad, state_dict)
    layers.py     Linear, Embedding, and the initialisation helpers (make_rng)
    recurrent.py  LSTM
    bidirectional.py  BiLSTM (a second LSTM reads the input backwards)
    stacked.py    StackedLSTM (layers with residual connections)
    attention.py  Attention, attention_weight, weight_sum
    transformer.py  LayerNorm, MultiHeadAttention, PositionalEncoding, FeedForward, Dropout,
                  TransformerEncoderLayer, TransformerDecoderLayer (pre-norm)
    ntm.py        NTM (LSTM controller, one read and one write head) and its addressing

Layers are initialised as in *Deep Learning from Scratch 2*. Each constructor takes
``dtype`` (float32 by default) and ``rng`` (a ``numpy.random.Generator``) or ``seed``;
weights are drawn as float64 standard normals, scaled, then cast to ``dtype`` (as the
book's ``randn(...) / sqrt(n)``, then ``astype``). A layer's `forward` returns everything
it produces (e.g. `Attention` returns the context and the weights): nothing is stashed.
"""
from .attention import Attention, attention_weight, weight_sum
from .layers import Embedding, Linear, make_rng
from .module import Module, Parameter
from .recurrent import LSTM
from .bidirectional import BiLSTM
from .ntm import NTM, NTMHeads
from .stacked import StackedLSTM
from .transformer import (Dropout, FeedForward, LayerNorm, MultiHeadAttention,
                          PositionalEncoding, TransformerDecoderLayer, TransformerEncoderLayer)

__all__ = ["Parameter", "Module", "Linear", "Embedding", "LSTM", "Attention",
           "attention_weight", "weight_sum", "make_rng", "BiLSTM", "StackedLSTM",
           "LayerNorm", "MultiHeadAttention", "PositionalEncoding", "FeedForward", "Dropout",
           "TransformerEncoderLayer", "TransformerDecoderLayer", "NTM", "NTMHeads"]
