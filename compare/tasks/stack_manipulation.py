"""Stack manipulation (Delétang et al. 2023, deterministic context-free): run pop / push actions on a stack and
write the stack that is left.

The input is a stack of bits given bottom to top, then actions ``pop``, ``push0``, ``push1`` (a pop on an empty
stack does nothing). The answer is the final stack top to bottom (as popping it would give it), then ``end``,
written at n + 1 BLANKs; the reference code pads the rest with 0s and scores only up to ``end``
(``tasks/dcf/stack_manipulation.py``, ``accuracy_mask``), and so does this task: the positions after ``end`` are
not scored, in the loss either (the reference code trains on the padding too).
"""

from __future__ import annotations

import torch
from torch import Tensor

from compare.errors import UserError
from compare.tasks.transduction import TransductionTask

BITS = ("0", "1")
ACTIONS = ("pop", "push0", "push1")
POP, PUSH0, PUSH1 = range(len(BITS), len(BITS) + len(ACTIONS))
#: Answer symbols: the two bits, then the end of the stack.
END = 2


class StackManipulationTask(TransductionTask):
    """Bits (a stack, bottom first), actions, n + 1 BLANKs; the answer: the final stack top first, ``end``."""

    name = "stack_manipulation"
    title = "Stack Manipulation"
    level = "DCF"

    def input_symbols(self) -> list[str]:
        return [*BITS, *ACTIONS]

    def output_symbols(self) -> list[str]:
        return [*BITS, "end"]

    def output_length(self, n: int) -> int:
        return n + 1

    def draw(self, batch_size: int, length: int, generator: torch.Generator) -> Tensor:
        """As the reference code: length 1 is one bit; otherwise a stack of 1..length-1 bits (uniform), then
        actions drawn uniformly from pop, push0, push1."""
        device = generator.device
        bits = torch.randint(0, len(BITS), (batch_size, length), generator=generator, device=device)
        if length == 1:
            return bits
        stack = torch.randint(1, length, (batch_size, 1), generator=generator, device=device)
        actions = torch.randint(POP, PUSH1 + 1, (batch_size, length), generator=generator, device=device)
        return torch.where(torch.arange(length, device=device) < stack, bits, actions)

    def answer(self, symbols: Tensor) -> tuple[Tensor, Tensor]:
        n = symbols.shape[1]
        rows = []
        for row in symbols.tolist():
            stack: list[int] = []
            for s in row:
                if s < POP:
                    stack.append(s)
                elif s == POP:
                    if stack:
                        stack.pop()
                else:
                    stack.append(s - PUSH0)
            rows.append(stack[::-1] + [END] + [0] * (n - len(stack)))
        answers = torch.tensor(rows, dtype=torch.long, device=symbols.device)
        ends = (answers == END).long().argmax(1, keepdim=True)
        return answers, torch.arange(n + 1, device=symbols.device) <= ends

    def check_symbols(self, symbols: list[int]) -> None:
        first_action = next((i for i, s in enumerate(symbols) if s >= POP), len(symbols))
        if first_action == 0:
            raise UserError("the stack is missing: start with its bits (bottom first), then the actions, "
                            "e.g. 0110 push1 pop pop")
        if any(s < POP for s in symbols[first_action:]):
            raise UserError("a bit after an action: the stack's bits come first, then only pop, push0, push1")

    def parse_words(self, text: str):
        # The stack may be typed as one word of bits ("0110 push1 pop"): spread it into one symbol per bit.
        words = []
        for w in text.replace(",", " ").split():
            words += list(w) if w and set(w) <= set(BITS) else [w]
        return super().parse_words(" ".join(words))

    def format_tokens(self, tokens: list[int]) -> str:
        names = self.token_names()
        symbols = tokens[:tokens.index(self.blank)] if self.blank in tokens else tokens
        stack = "".join(names[t] for t in symbols if t < POP)
        return " ".join([stack, *(names[t] for t in symbols if t >= POP)])

    def format_answer(self, tokens: list[int]) -> str:
        names = self.token_names()
        end = self.token_names().index("end")
        shown = tokens[:tokens.index(end) + 1] if end in tokens else tokens
        return " ".join(names[t] for t in shown)

    def input_help(self) -> str:
        return ("A stack of bits, bottom first, then actions pop, push0, push1, e.g. 0110 push1 pop pop. The answer, "
                "written at the blanks after it all at once: the stack that is left, top first, then end.")
