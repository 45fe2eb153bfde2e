"""Generation tests run tiny models one token at a time: one thread avoids the cost of waking a
second thread for every small matrix product (large on a busy 2-core machine)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
