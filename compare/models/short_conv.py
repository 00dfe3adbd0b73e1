"""A short causal depthwise convolution over time, as Mamba and DeltaNet put before their recurrences.

Each channel mixes its own last ``kernel_size`` values (the current one included), so a token sees a few of its
neighbours before the recurrence reads it: the local shifts that MQAR's key-then-value pairs need come cheaply
(Zoology, Arora et al. 2023, puts one before every mixer for that reason). Read token by token it is a
recurrence too, with the last ``kernel_size - 1`` inputs as its state.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ShortConv(nn.Module):
    """Causal depthwise Conv1d over (batch, time, channels), and the same one token at a time (``step``)."""

    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.conv = nn.Conv1d(channels, channels, kernel_size, groups=channels, padding=kernel_size - 1)

    def forward(self, x: Tensor) -> Tensor:
        """(batch, time, channels) -> the same shape; output t reads inputs t - kernel_size + 1 ... t."""
        return self.conv(x.transpose(1, 2))[..., :x.shape[1]].transpose(1, 2)

    def initial_state(self, x: Tensor) -> Tensor:
        """The state before the first token: ``kernel_size - 1`` zero inputs, (batch, kernel_size - 1, channels)."""
        return x.new_zeros(x.shape[0], self.kernel_size - 1, x.shape[-1])

    def step(self, x_t: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        """One token (batch, channels) and the last inputs -> (output, the state after it)."""
        window = torch.cat([state, x_t[:, None]], dim=1)  # (batch, kernel_size, channels), oldest first
        out = torch.einsum("bkc,ck->bc", window, self.conv.weight[:, 0]) + self.conv.bias
        return out, window[:, 1:]

    def stepped(self, x: Tensor) -> Tensor:
        """``forward``'s output computed one token at a time through ``step``, as a model reading a stream would."""
        state, out = self.initial_state(x), []
        for t in range(x.shape[1]):
            y, state = self.step(x[:, t], state)
            out.append(y)
        return torch.stack(out, dim=1)

    def state_size(self) -> int:
        """Numbers carried per sequence while reading: the last ``kernel_size - 1`` inputs of every channel."""
        return (self.kernel_size - 1) * self.conv.in_channels
