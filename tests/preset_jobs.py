"""The jobs of a preset's own sweep, composed as Hydra composes them inside each job (for the preset tests)."""

from __future__ import annotations

import itertools

from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf, read_write

from compare.train import CONF_DIR


def composed(*overrides: str, job_num: int = 0):
    """The config one job of a sweep runs with, hydra node included and resolvable (as inside the job)."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=list(overrides), return_hydra_config=True)
    with read_write(cfg.hydra.job):
        cfg.hydra.job.num = job_num
    HydraConfig.instance().set_config(cfg)
    return cfg


def sweep_jobs(preset: str) -> list[list[str]]:
    """The overrides of every job of ``preset``'s own sweep, expanded as Hydra's basic sweeper expands them."""
    params = composed(f"experiment={preset}").hydra.sweeper.params
    parsed = OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in params.items()])
    axes = [[f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()] if o.is_sweep_override()
            else [f"{o.get_key_element()}={o.get_value_element_as_str()}"] for o in parsed]
    return [list(job) for job in itertools.product(*axes)]


def job_config(preset: str, overrides: list[str], num: int = 0, extra: tuple[str, ...] = ()) -> dict:
    """The resolved config one job of ``preset`` runs with, as its results.json records it (no hydra node)."""
    cfg = composed(f"experiment={preset}", *overrides, *extra, job_num=num)
    job = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    job.output_dir = f"/sweep/{num}"
    return OmegaConf.to_container(job, resolve=True)
