"""The models, written as forward code on tinygrad_attn: the book's three seq2seq models,
the further structures, the Transformer, and the NTM with its LSTM baseline for the copy
task (installed as the package `tinygrad_attn_models`).

    from tinygrad_attn_models import Seq2seq, PeekySeq2seq, AttentionSeq2seq
    model = AttentionSeq2seq(vocab_size, wordvec_size=16, hidden_size=256, seed=0)
    loss = model.loss(xs, ts); loss.backward()
    model.generate(xs, start_id, length)        # (N, length) token ids, greedy

Every gradient comes from the tape: nothing here defines a backward pass. The framework
finds these models through the ``tinygrad_attn.models`` entry points (pyproject.toml) and
never imports this package itself.
"""
from .attention import AttentionDecoder, AttentionSeq2seq
from .ntm import NTM, LSTMCopy
from .peeky import PeekyDecoder, PeekySeq2seq
from .seq2seq import Decoder, Encoder, Seq2seq, Seq2seqBase
# further RNN structures
from .attention_feed import AttentionFeedSeq2seq, FeedDecoder
from .bilstm import BiEncoder, BiLSTMSeq2seq
from .deep import DeepDecoder, DeepEncoder, DeepSeq2seq
from .gnmt import GNMTDecoder, GNMTEncoder, GNMTSeq2seq
from .transformer import Transformer

__all__ = ["Seq2seq", "PeekySeq2seq", "AttentionSeq2seq", "Seq2seqBase", "Encoder",
           "Decoder", "PeekyDecoder", "AttentionDecoder", "Transformer", "NTM", "LSTMCopy"]
__all__ += ["BiLSTMSeq2seq", "AttentionFeedSeq2seq", "DeepSeq2seq", "GNMTSeq2seq", "BiEncoder",
            "FeedDecoder", "DeepEncoder", "DeepDecoder", "GNMTEncoder", "GNMTDecoder"]
