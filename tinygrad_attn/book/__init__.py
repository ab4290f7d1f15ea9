"""The book's hand-derived reference implementation (the "oracle").

Plain NumPy forward passes with hand-written backward passes, straight from the
formulas of *Deep Learning from Scratch 2* (chapters 5-8): the layers, the three
seq2seq models (plain, peeky, attention), Adam/SGD and gradient clipping.

This package exists only so the tests can prove the project's autograd equal to
the book's math (and exchange weights with the book's code).  Nothing in the
forward-only framework uses it, and it imports nothing from the rest of the
project -- only NumPy.  Every function keeps the dtype it is given (float32 or
float64).
"""

from .layers import (
    Affine,
    Attention,
    AttentionWeight,
    Embedding,
    LSTM,
    Softmax,
    TimeAffine,
    TimeAttention,
    TimeEmbedding,
    TimeLSTM,
    TimeSoftmaxWithLoss,
    WeightSum,
    sigmoid,
    softmax,
)
from .models import (
    AttentionDecoder,
    AttentionEncoder,
    AttentionSeq2seq,
    Decoder,
    Encoder,
    PeekyDecoder,
    PeekySeq2seq,
    Seq2seq,
    init_params,
)
from .optim import SGD, Adam, clip_grads

__all__ = [
    "sigmoid",
    "softmax",
    "Softmax",
    "Embedding",
    "TimeEmbedding",
    "Affine",
    "TimeAffine",
    "LSTM",
    "TimeLSTM",
    "TimeSoftmaxWithLoss",
    "WeightSum",
    "AttentionWeight",
    "Attention",
    "TimeAttention",
    "Encoder",
    "Decoder",
    "Seq2seq",
    "PeekyDecoder",
    "PeekySeq2seq",
    "AttentionEncoder",
    "AttentionDecoder",
    "AttentionSeq2seq",
    "init_params",
    "Adam",
    "SGD",
    "clip_grads",
]
