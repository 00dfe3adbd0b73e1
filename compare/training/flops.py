"""Training compute: the FLOPs of one forward and backward pass, counted once per input length and cached.

What is counted. ``torch.utils.flop_counter.FlopCounterMode`` counts matrix products only (mm, addmm, bmm,
convolutions and its attention kernels): 2 FLOPs per multiply-add, the backward's products included (about twice
the forward's, so a weight matrix of N numbers costs about 6 N FLOPs per token). Element-wise work (activations,
gates, LayerNorm, softmax, the loss), the embedding lookup and its gradient, and the optimizer step are not
counted: that is the usual convention (Kaplan et al. 2020, section 2.1: C ~ 6 N per token plus attention), and
it leaves out a few per cent of the arithmetic. For the log-space scan of minGRU/minLSTM the scan itself is
element-wise (cumsum, logcumsumexp, exp over hidden_size numbers a position), about 10 operations a number
against the 4 x hidden_size multiply-adds a number of its gate projection: its count is the projections and the
MLP, which dominate.

Where the counter is blind, and what is done:

- ``F.scaled_dot_product_attention`` on CPU runs ``_scaled_dot_product_flash_attention_for_cpu``, for which
  torch has no formula (it counts 0 for attention);
- ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` run one fused oneDNN (CPU) or cuDNN (GPU) kernel that the counter does
  not see at all (it counts only the model's output layer).

So the count runs one forward and backward pass at batch 1 on a copy of the model, with attention on
torch's math path (plain matmuls, which are counted: the full T x T scores, as the GPU kernels' formulas and the
usual MFU convention count them, though a causal kernel may skip the masked half). A model gives the count of a
layer the counter cannot see itself: ``SequenceModel.analytic_flops(length)`` returns {submodule name: FLOPs},
which replace whatever the counter saw inside that submodule. RecurrentLM does so for its recurrent layer
(2 x gates x hidden x (input + hidden) per token and layer forward, three times that with the backward);
tests/test_flops.py checks that number against the counter on the ``meta`` device, where the layer decomposes
into its per-step matmuls (too slow to count that way in every run: 86 s for 1,024 tokens).

Every op counted here is linear in the batch, so a step's FLOPs are ``batch x per-sequence FLOPs`` at its length.
"""

from __future__ import annotations

import copy
import torch
import torch.nn.functional as F
from torch import nn



def _analytic(model: nn.Module, length: int) -> dict[str, int]:
    give = getattr(model, "analytic_flops", None)
    return dict(give(length)) if callable(give) else {}


def counted_flops(model: nn.Module, tokens: torch.Tensor) -> dict[str, int]:
    """{module path: FLOPs} that FlopCounterMode counts in one forward and backward of ``model`` on ``tokens``
    (``Global`` is the total), attention on the math path; ``model``'s gradients are left set."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, sdpa_kernel(SDPBackend.MATH):
        logits = model(tokens)
        # The loss itself is element-wise (not counted); any loss sends the same gradients through the matmuls.
        F.cross_entropy(logits.flatten(0, 1).float(), tokens.flatten()).backward()
    return {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}


def sequence_flops(model: nn.Module, length: int, spare: nn.Module | None = None) -> int:
    """FLOPs of one forward and backward pass over one sequence of ``length`` tokens (see the module docstring).

    ``spare``: a copy of ``model`` to run the count on (made afresh when not given; the count sets its gradients,
    so never pass the model being trained). It runs where the copy is, on the model's device by default."""
    counter_model = spare if spare is not None else copy.deepcopy(model)
    device = next(counter_model.parameters()).device
    counts = counted_flops(counter_model, torch.zeros(1, length, dtype=torch.long, device=device))
    counter_model.zero_grad(set_to_none=True)
    total = counts.get("Global", 0)
    root = type(model).__name__
    for name, flops in _analytic(model, length).items():
        total += int(flops) - counts.get(f"{root}.{name}", 0)
    return int(total)


class FlopsPerSequence:
    """``sequence_flops`` of one model, cached by input length (a run counts each length it trains at once)."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self._copy: nn.Module | None = None
        self._by_length: dict[int, int] = {}

    def __call__(self, length: int) -> int:
        if length not in self._by_length:
            if self._copy is None:
                self._copy = copy.deepcopy(self.model)
            self._by_length[length] = sequence_flops(self.model, length, self._copy)
        return self._by_length[length]
