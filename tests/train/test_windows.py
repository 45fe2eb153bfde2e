"""CLM windows: split, shift-by-one targets, seeded sampling, sharding across processes."""

from __future__ import annotations

import pytest
import torch

from attento.data.windows import CLMWindows
from attento.errors import UserError


def test_split_holds_out_the_last_tenth() -> None:
    w = CLMWindows(list(range(1000)), block_size=8)
    assert w.train_data.tolist() == list(range(900))
    assert w.val_data.tolist() == list(range(900, 1000))


def test_targets_are_inputs_shifted_by_one() -> None:
    # tokens equal to their position, so a window is a run of consecutive numbers
    w = CLMWindows(list(range(1000)), block_size=8, seed=3)
    [(x, y)] = w.train_batches(batch_size=5, n_micro=1)
    assert x.shape == y.shape == (5, 8)
    assert torch.equal(y, x + 1)
    assert torch.equal(x[:, 1:] - x[:, :-1], torch.ones(5, 7, dtype=torch.long))
    assert int(y.max()) < 900  # never reads into the held-out part


def test_sampling_is_seeded_and_resumable() -> None:
    a = CLMWindows(list(range(5000)), block_size=16, seed=1)
    b = CLMWindows(list(range(5000)), block_size=16, seed=1)
    a.train_batches(4, 2)
    saved = a.state_dict()
    first = a.train_batches(4, 2)
    b.load_state_dict(saved)
    again = b.train_batches(4, 2)
    for (xa, ya), (xb, yb) in zip(first, again, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    other = CLMWindows(list(range(5000)), block_size=16, seed=2).train_batches(4, 2)
    assert not torch.equal(other[0][0], first[0][0])


def test_processes_share_out_one_global_batch() -> None:
    single = CLMWindows(list(range(5000)), block_size=16, seed=5).train_batches(3, 4)
    parts = [CLMWindows(list(range(5000)), 16, seed=5).train_batches(3, 4, r, 2) for r in (0, 1)]
    assert len(parts[0]) == len(parts[1]) == 2
    joined = parts[0] + parts[1]
    for (xs, _), (xp, _) in zip(single, joined, strict=True):
        assert torch.equal(xs, xp)


def test_eval_windows_are_fixed_and_sharded() -> None:
    w = CLMWindows(list(range(5000)), block_size=16, seed=5)
    one = [x for x, _ in w.eval_batches(4, 3)]
    w.train_batches(8, 1)  # training draws do not move the eval windows
    two = [x for x, _ in w.eval_batches(4, 3)]
    assert all(torch.equal(a, b) for a, b in zip(one, two, strict=True))
    assert int(min(x.min() for x in one)) >= 4500  # from the validation part
    shards = [list(w.eval_batches(4, 3, r, 2)) for r in (0, 1)]
    assert sorted(len(s) for s in shards) == [2, 2]


@pytest.mark.parametrize("n", [10, 50, 180])
def test_corpus_shorter_than_a_block_is_a_user_error(n: int) -> None:
    with pytest.raises(UserError, match="too short"):
        CLMWindows(list(range(n)), block_size=32)
