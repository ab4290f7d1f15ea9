"""Primitives, one module per family; each op's forward sits beside its gradient rule.

arithmetic  add sub mul div neg pow
elementwise exp log tanh sigmoid relu cast
reduction   sum mean max min
shape       broadcast_to sum_to reshape transpose expand_dims squeeze concat split stack unstack
indexing    getitem embedding where masked_fill
linalg      matmul
softmax     softmax log_softmax softmax_cross_entropy
normalization normalize (layer_norm's normalisation: the one measured primitive)
composite   layer_norm masked_softmax softplus gelu cosine_similarity roll circular_convolution
            dropout (compositions of the above: no rule of their own)
recurrent   lstm: its step-by-step composite, fused into one node with a fast first-order
            rule (the NumPy kernels in lstm_kernels)
"""
