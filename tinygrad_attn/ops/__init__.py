"""The ops, one module per family; each primitive's forward sits beside its gradient rule.

Primitives (a forward and a rule each):
arithmetic    add sub mul div neg pow
elementwise   exp log tanh sigmoid relu cast sin cos log1p expm1
reduction     sum mean max min cumsum
shape         broadcast_to sum_to reshape transpose expand_dims squeeze concat split stack
              unstack
indexing      getitem embedding where masked_fill
linalg        matmul
softmax       softmax log_softmax softmax_cross_entropy
recurrent     lstm: its step-by-step composite, fused into one node with a fast
              first-order rule (the NumPy kernels in lstm_kernels)
normalization normalize (layer_norm's normalisation: a measured primitive)
comparison    < <= > >= == != (bool data, never on the tape)

Compositions of the primitives (no rule of their own):
math          abs sqrt square reciprocal tan clip maximum minimum leaky_relu sign floor ceil
statistics    prod var std logsumexp mean_squared_error (and cumsum_composed)
layout        flatten moveaxis repeat tile flip triu tril diagonal trace pad
contraction   einsum tensordot outer linear
composite     layer_norm masked_softmax softplus gelu cosine_similarity roll
              circular_convolution dropout binary_cross_entropy_with_logits
"""
