"""What the block-stacked models share: the MLP, the pre-LayerNorm residual block around a mixer, and the LM shell.

The transformer, causal linear attention and minGRU/minLSTM differ only in how a layer mixes positions
(softmax attention, linear attention, a linear recurrence). Around that mixer they are the same network:

    tokens -> embedding (+ a learned position table) -> dropout -> [x + mix(ln1(x)); x + mlp(ln2(x))] x L
           -> final LayerNorm -> linear head -> logits

Each model file keeps its mixer, its block's forward (the two residual lines, in the open) and its LM's
forward; this module holds what they had written three times: the MLP, the block's layers, the shell's
layers and its loop over the blocks.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from compare.errors import UserError
from compare.models.contract import SequenceModel


def mlp(width: int, d_ff: int, dropout: float) -> nn.Sequential:
    """The position-wise feed-forward layer: Linear(width, d_ff) -> GELU -> Linear(d_ff, width) -> dropout."""
    return nn.Sequential(nn.Linear(width, d_ff), nn.GELU(), nn.Linear(d_ff, width), nn.Dropout(dropout))


class PreNormBlock(nn.Module):
    """ln1, the mixing step, ln2 and an MLP; a subclass's forward is x + mix(ln1(x)), then x + mlp(ln2(x)).

    The mixing step's modules are passed as keywords (``attn=...``, or ``rnn=..., drop=...``) and registered
    under those names between ln1 and ln2, so state-dict keys (and checkpoints) read ``blocks.0.attn.qkv.weight``
    as each model always had. The caller builds them before this builds the MLP: the order in which layers
    draw their initial weights from the seeded generator, and the order of ``parameters()``, stay what they were.
    """

    def __init__(self, width: int, d_ff: int, dropout: float, **mixing: nn.Module) -> None:
        super().__init__()
        if not mixing:
            raise TypeError("PreNormBlock needs the modules of its mixing step as keywords, e.g. attn=...")
        self.ln1 = nn.LayerNorm(width)
        for name, module in mixing.items():
            self.add_module(name, module)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = mlp(width, d_ff, dropout)


class BlockStackLM(SequenceModel):
    """The LM shell: embedding (+ optional learned position table) -> dropout -> ``num_layers`` blocks
    -> final LayerNorm -> linear head. Subclasses write ``forward``: what reaches the blocks and how
    (``run_blocks`` when each block returns only its output), and the rest of the model contract
    (:class:`~compare.models.contract.SequenceModel`: ``name``, ``mechanism``, ``max_positions``).

    ``block`` makes one block; it is called here, after the embeddings exist, so the layers draw their
    initial weights in the order they always did (embedding, positions, blocks, head).
    """

    def __init__(self, vocab_size: int, width: int, num_layers: int, block: Callable[[], nn.Module],
                 dropout: float, position_table: int | None = None) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.num_layers = num_layers
        self.embed = nn.Embedding(vocab_size, width)
        self.pos = nn.Embedding(position_table, width) if position_table else None
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(block() for _ in range(num_layers))
        self.ln_f = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab_size)

    def run_blocks(self, x: Tensor, *block_args) -> Tensor:
        """Logits from the embedded input ``x``: dropout, every block in turn (each given ``block_args``), ln_f, head."""
        x = self.drop(x)
        for block in self.blocks:
            x = block(x, *block_args)
        return self.head(self.ln_f(x))


def check_stack(num_layers: int, mlp_ratio: float, d_ff: int | None, dropout: float) -> None:
    """UserError for a stack no model here can build: fewer than one layer, a non-positive MLP width or ratio,
    a dropout outside [0, 1)."""
    if num_layers < 1:
        raise UserError(f"num_layers={num_layers} must be >= 1")
    if mlp_ratio <= 0:
        raise UserError(f"mlp_ratio={mlp_ratio} must be > 0")
    if d_ff is not None and d_ff < 1:
        raise UserError(f"d_ff={d_ff} must be >= 1")
    if not 0 <= dropout < 1:
        raise UserError(f"dropout={dropout} must be in [0, 1)")


def check_heads(n_heads: int, d_model: int | None) -> None:
    """UserError for fewer than one head, or an explicit width that the heads cannot split evenly."""
    if n_heads < 1:
        raise UserError(f"n_heads={n_heads} must be >= 1")
    if d_model is not None and (d_model < 1 or d_model % n_heads):
        raise UserError(f"d_model={d_model} must be a positive multiple of n_heads={n_heads}")


def check_mode(mode: str, modes: tuple[str, ...]) -> str:
    """``mode`` if it is one of ``modes`` (how a model runs its mixer), else a UserError listing them."""
    if mode not in modes:
        raise UserError(f"mode={mode!r} is not known; choose one of {list(modes)}")
    return mode
