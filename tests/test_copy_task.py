"""Copy samples are right: the answer equals the input and only the answer is scored."""

import pytest
import torch

from compare.errors import UserError
from compare.tasks import IGNORE, CopyTask


@pytest.mark.parametrize("length", [1, 2, 7, 64])
@pytest.mark.parametrize("vocab", [2, 16])
def test_copy_samples(length, vocab):
    task = CopyTask(length=length, vocab_size=vocab)
    x, y = task.sample(32, length, torch.Generator().manual_seed(1))
    assert x.shape == y.shape == (32, task.sequence_length(length))
    assert x.dtype == torch.long and x.max() < task.num_tokens
    symbols = x[:, :length]
    assert (x[:, length] == task.sep).all()
    assert (symbols < vocab).all()
    scored = y != IGNORE
    assert scored[:, length:].all() and not scored[:, :length].any()
    assert torch.equal(y[:, length:], symbols)
    # The answer is never in the input after the separator except as teacher forcing of earlier answers.
    assert torch.equal(x[:, length + 1:], symbols[:, :-1])


def test_same_seed_same_batch_and_sets_are_fixed():
    task = CopyTask(length=8, seed=3)
    a = task.sample(4, 8, torch.Generator().manual_seed(5))
    b = task.sample(4, 8, torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0])
    assert torch.equal(task.validation_set(16).inputs, CopyTask(length=8, seed=3).validation_set(16).inputs)
    assert not torch.equal(task.validation_set(16).inputs, task.eval_set(8, 16).inputs)


@pytest.mark.parametrize("kwargs, bad", [({"length": 0}, "task.length=0"), ({"length": -4}, "task.length=-4"),
                                         ({"vocab_size": 1}, "task.vocab_size=1")])
def test_bad_settings_are_named(kwargs, bad):
    with pytest.raises(UserError, match=bad):
        CopyTask(**kwargs)
