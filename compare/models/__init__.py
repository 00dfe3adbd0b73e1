"""Sequence models: every one maps token ids (batch, time) to logits (batch, time, vocab).

Each derives from :class:`SequenceModel` (``contract.py``), which lists what every model provides and what
is optional; :func:`check_model_contract` names what a model lacks.
"""

from compare.models.contract import MECHANISM_KEYS, SequenceModel, check_model_contract, contract_problems
from compare.models.deltanet import DeltaNetLM
from compare.models.linear_attention import LinearAttentionLM
from compare.models.mamba import MambaLM
from compare.models.minrnn import MinRNNLM
from compare.models.recurrent import RecurrentLM
from compare.models.sizing import count_params, fit_width
from compare.models.transformer import TransformerLM, explicit_attention

__all__ = ["MECHANISM_KEYS", "DeltaNetLM", "LinearAttentionLM", "MambaLM", "MinRNNLM", "RecurrentLM", "SequenceModel",
           "TransformerLM", "check_model_contract", "contract_problems", "count_params", "explicit_attention", "fit_width"]
