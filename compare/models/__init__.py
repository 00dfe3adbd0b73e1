"""Sequence models: every one maps token ids (batch, time) to logits (batch, time, vocab)."""

from compare.models.linear_attention import LinearAttentionLM
from compare.models.minrnn import MinRNNLM
from compare.models.recurrent import RecurrentLM
from compare.models.sizing import count_params, fit_width
from compare.models.transformer import TransformerLM, explicit_attention

__all__ = ["LinearAttentionLM", "MinRNNLM", "RecurrentLM", "TransformerLM", "count_params", "explicit_attention",
           "fit_width"]
