"""Which input tokens an answer depends on, the same way for every model: gradient x input on the embeddings.

influence[t] = sum_d  e[t, d] * d log p(answer at position q) / d e[t, d]

where e is the output of the model's token embedding. One backward pass per answer, and it needs nothing
from the model beyond the contract's ``embed`` layer, so recurrent and attention models are measured alike.
A token the answer cannot see gets exactly zero: the positions after q in a causal model, and in a single-layer
sliding-window transformer the positions outside the window, since no path carries their embedding to
the answer. Positive values push towards the answer, negative ones away from it.

Attention maps come from the models that say they return them (``returns_attention``, then
``forward(..., return_attention=True)``; see compare.models.SequenceModel).
"""

from __future__ import annotations

import torch
from torch import Tensor

from compare.errors import UserError
from compare.models import SequenceModel

METHOD = "gradient × input"


def as_batch(tokens) -> Tensor:
    """Token ids as a (1, T) long tensor."""
    t = torch.as_tensor(tokens, dtype=torch.long)
    return t[None] if t.dim() == 1 else t


def gradient_x_input(model: SequenceModel, tokens, position: int, target: int) -> Tensor:
    """Influence (T,) of every input token on log p(``target``) at ``position``; exactly 0 where it cannot reach."""
    x = as_batch(tokens)
    if not 0 <= position < x.shape[1]:
        raise UserError(f"position {position} is outside the input of {x.shape[1]} tokens")
    captured: list[Tensor] = []
    hook = model.embed.register_forward_hook(lambda _m, _i, out: captured.append(out))
    try:
        with torch.enable_grad():
            logits = model(x)
            logp = logits[0, position].float().log_softmax(-1)[target]
            # Only the embeddings' gradient: the parameters' .grad stay untouched.
            (grad,) = torch.autograd.grad(logp, captured[0])
    finally:
        hook.remove()
    return (grad[0] * captured[0][0].detach()).sum(-1).float()


@torch.no_grad()
def attention_maps(model: SequenceModel, tokens) -> list[Tensor] | None:
    """Per-layer (heads, T, T) attention weights on ``tokens``, or None for a model without attention."""
    if not model.returns_attention:
        return None
    _, maps = model(as_batch(tokens), return_attention=True)
    return [m[0].float() for m in maps]
