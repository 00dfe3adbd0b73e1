"""Build the parts of a run from a composed config with ``hydra.utils.instantiate``."""

from __future__ import annotations

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from compare.errors import UserError
from compare.models.contract import check_model_contract

#: Keys in a model config that configure training around the model, not the model's constructor.
MODEL_RUN_KEYS = ("compile",)


def build(node: DictConfig, **kwargs):
    """``instantiate(node)``, but a UserError raised inside a constructor surfaces as itself, not wrapped."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as e:
        cause = e.__cause__
        while cause is not None and not isinstance(cause, UserError):
            cause = cause.__cause__
        if isinstance(cause, UserError):
            raise cause from None
        raise UserError(str(e).splitlines()[0] + " " + str(e.__cause__ or "")) from e


def build_model(model_cfg: DictConfig, vocab_size: int):
    """The plain ``nn.Module`` described by ``model_cfg``, sized for ``vocab_size`` tokens; a UserError naming
    what is missing when it does not honour the model contract (compare.models.SequenceModel)."""
    # Resolved while still in its config, so a preset's interpolation (${plan.${size}.params}) finds its keys.
    resolved = OmegaConf.to_container(model_cfg, resolve=True)
    ctor = OmegaConf.create({k: v for k, v in resolved.items() if k not in MODEL_RUN_KEYS})
    model = build(ctor, vocab_size=vocab_size)
    check_model_contract(model)
    return model
