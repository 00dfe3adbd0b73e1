"""compare: recurrent networks and transformers, side by side, on the same sequence tasks."""

__version__ = "0.1.0"
