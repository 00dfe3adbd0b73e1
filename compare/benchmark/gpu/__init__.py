"""The GPU suite (scripts/gpu_suite.py): every model measured on one GPU, part by part, into one JSON and the
README's tables; ``--smoke`` runs the same code at toy sizes on a CPU."""
