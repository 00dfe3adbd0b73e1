"""From composed Hydra config to objects: building them, and checking a config before anything trains."""

from pathlib import Path

#: The Hydra config tree shipped beside the package.
CONF_DIR = str(Path(__file__).resolve().parents[2] / "conf")
