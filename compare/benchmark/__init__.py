"""compare-bench's parts: what a row is, the two arms it times, probes of a step, and the printed table; and in
``gpu/`` the GPU suite (scripts/gpu_suite.py) built on them."""
