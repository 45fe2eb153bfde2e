"""Recurrent language models: RNN (tanh), LSTM and GRU.

A recurrent network reads the text one token at a time and carries a *hidden state* h, a
vector that is its whole memory of everything read so far:

    h_t = cell(x_t, h_{t-1})        logits_t = W_out · h_t

The same cell (the same weights) runs at every step, so the model has no length limit and
no position table: order is given by the order of the steps. Two consequences the course
points out:

- training is *sequential*: h_t needs h_{t-1}, so the T steps of a sequence cannot be
  computed at once, as a transformer computes all its positions in parallel;
- the gradient that teaches step t from a mistake at step t + d is multiplied d times by the
  cell's Jacobian; in the plain tanh RNN it usually shrinks towards zero (*vanishing gradient*)
  and distant context is forgotten. The LSTM and GRU add *gates*: sigmoids in [0, 1] that
  decide what to keep, write and show. When the forget gate stays near 1 the memory (and its
  gradient) passes through many steps almost unchanged.

Each cell is written out below as a small class whose `__call__` is its equations (`RNNCell`,
`LSTMCell`, `GRUCell`). The model stores its weights in PyTorch's fused modules (nn.RNN,
nn.LSTM, nn.GRU, same parameter layout as the cells) and uses them by default because they
are much faster; `model(idx, explicit=True)` runs the written-out cells on the same weights
instead, and the tests prove both give the same outputs, states and gradients.

Generation: the cache of a recurrent model is just the hidden state after the tokens seen so
far (`RecurrentCache`), so each new token costs one step, whatever the length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from attento.errors import UserError
from attento.models.mlp_lm import LMConfig

# A layer's state: h (B, H) for RNN and GRU, the pair (h, c) for LSTM. The model passes the
# states of all layers stacked as PyTorch does: h (L, B, H), or (h, c) both (L, B, H).
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


# --- the cells, written out --------------------------------------------------------------------


class Cell:
    """One step of a recurrent layer; the weights are those of layer `layer` of a PyTorch
    nn.RNN/LSTM/GRU (`weight_ih`: (G·H, I), `weight_hh`: (G·H, H), `bias_ih`, `bias_hh`: (G·H,),
    with G = 1, 4 or 3 blocks of rows stacked in PyTorch's order)."""

    def __init__(
        self,
        weight_ih: torch.Tensor,
        weight_hh: torch.Tensor,
        bias_ih: torch.Tensor,
        bias_hh: torch.Tensor,
    ) -> None:
        self.weight_ih, self.weight_hh = weight_ih, weight_hh
        self.bias_ih, self.bias_hh = bias_ih, bias_hh

    @classmethod
    def from_torch(cls, module: nn.RNNBase, layer: int) -> Cell:
        """The cell of `layer` in `module`, sharing its weights (gradients flow into them)."""
        return cls(*(getattr(module, f"{name}_l{layer}") for name in WEIGHT_NAMES))

    def zero_state(self, batch_size: int) -> State:
        return self.weight_hh.new_zeros(batch_size, self.weight_hh.size(1))

    def __call__(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """x (B, I), state -> (h (B, H), new state)."""
        raise NotImplementedError


WEIGHT_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


class RNNCell(Cell):
    """Elman RNN: h_t = tanh(W_ih·x_t + b_ih + W_hh·h_{t-1} + b_hh).

    One matrix reads the new token, one reads the memory; tanh squashes their sum into the
    new memory. Backpropagating through d steps multiplies d factors W_hhᵀ·diag(tanh'), and
    tanh' <= 1: the gradient from a distant mistake usually vanishes.
    """

    def __call__(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.tanh(x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh)
        return h, h


class LSTMCell(Cell):
    """Long Short-Term Memory (Hochreiter & Schmidhuber, 1997), PyTorch's gate order i, f, g, o:

        i = σ(W_ii·x + b_ii + W_hi·h + b_hi)     input gate: how much of g to write
        f = σ(W_if·x + b_if + W_hf·h + b_hf)     forget gate: how much of c to keep
        g = tanh(W_ig·x + b_ig + W_hg·h + b_hg)  candidate memory
        o = σ(W_io·x + b_io + W_ho·h + b_ho)     output gate: how much of the memory to show
        c' = f ⊙ c + i ⊙ g                       the cell memory: a gated running sum
        h' = o ⊙ tanh(c')

    c' depends on c through a product with f only (no matrix, no squashing), so when f ≈ 1
    memory and gradient cross many steps intact.
    """

    def zero_state(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        h = super().zero_state(batch_size)
        return h, torch.zeros_like(h)

    def __call__(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        h, c = state
        gates = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh
        i, f, g, o = gates.chunk(4, dim=-1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g
        h = o * torch.tanh(c)
        return h, (h, c)


class GRUCell(Cell):
    """Gated Recurrent Unit (Cho et al., 2014), PyTorch's gate order r, z, n:

        r = σ(W_ir·x + b_ir + W_hr·h + b_hr)          reset gate: how much memory the
                                                      candidate may read
        z = σ(W_iz·x + b_iz + W_hz·h + b_hz)          update gate: how much memory to keep
        n = tanh(W_in·x + b_in + r ⊙ (W_hn·h + b_hn))  candidate state
        h' = (1 - z) ⊙ n + z ⊙ h

    An LSTM with the memory and the output merged into h, and the input and forget gates tied
    into z: fewer weights (3 blocks instead of 4), much the same ability to remember.
    """

    def __call__(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x_r, x_z, x_n = (x @ self.weight_ih.T + self.bias_ih).chunk(3, dim=-1)
        h_r, h_z, h_n = (h @ self.weight_hh.T + self.bias_hh).chunk(3, dim=-1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        h = (1 - z) * n + z * h
        return h, h


CELLS: dict[str, type[Cell]] = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}
TORCH_MODULES: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def run_cells(
    cells: list[Cell],
    x: torch.Tensor,
    state: State | None = None,
    dropout: float = 0.0,
    training: bool = False,
) -> tuple[torch.Tensor, State]:
    """The explicit recurrence: what nn.RNN/LSTM/GRU(batch_first=True) computes, step by step.

    x (B, T, I), state as PyTorch's (None = zeros) -> (top layer's h at every step (B, T, H),
    final state of every layer). Layer l reads the outputs of layer l - 1 (with dropout
    between layers while training, as PyTorch does).
    """
    B, T, _ = x.shape
    lstm = isinstance(cells[0], LSTMCell)
    finals = []
    for layer, cell in enumerate(cells):
        if state is None:
            s = cell.zero_state(B)
        elif lstm:
            s = (state[0][layer], state[1][layer])
        else:
            s = state[layer]
        outputs = []
        for t in range(T):
            h, s = cell(x[:, t], s)
            outputs.append(h)
        x = torch.stack(outputs, dim=1)
        if layer < len(cells) - 1:
            x = F.dropout(x, dropout, training)
        finals.append(s)
    if lstm:
        return x, (torch.stack([h for h, _ in finals]), torch.stack([c for _, c in finals]))
    return x, torch.stack(finals)


# --- the language model ------------------------------------------------------------------------


@dataclass
class RecurrentConfig(LMConfig):
    """Shape of an RNN/LSTM/GRU LM (the cell is the model's arch); the "model" entry of
    config.json."""

    vocab_size: int
    block_size: int = 128  # length of the training windows (backpropagation through time)
    n_embd: int = 64  # token vector size, the first layer's input
    n_hidden: int = 128  # state size of every layer
    n_layer: int = 1
    dropout: float = 0.0  # on the embeddings, between layers and before the output
    POSITIVE: ClassVar[tuple[str, ...]] = ("n_embd", "n_hidden", "n_layer")


class RecurrentCache:
    """What a recurrent model remembers of the tokens seen so far: its state, nothing else.

    Same protocol as GPT's KV cache: `length` counts the tokens seen, `batch_size` the rows.
    """

    def __init__(self, batch_size: int) -> None:
        self.batch_size, self.length = batch_size, 0
        self.state: State | None = None


class RecurrentLM(nn.Module):
    """token embedding -> n_layer recurrent layers -> logits; `arch` picks the cell."""

    arch: ClassVar[str]  # "rnn", "lstm" or "gru": set by the subclasses below
    config_class = RecurrentConfig

    def __init__(self, config: RecurrentConfig) -> None:
        super().__init__()
        self.config = c = config
        self.embed = nn.Embedding(c.vocab_size, c.n_embd)
        self.drop = nn.Dropout(c.dropout)
        self.rnn = TORCH_MODULES[self.arch](
            c.n_embd, c.n_hidden, c.n_layer, batch_first=True, dropout=c.dropout
        )
        self.lm_head = nn.Linear(c.n_hidden, c.vocab_size)
        if self.arch == "lstm":
            # Forget-gate bias 1 (Gers et al., 2000; Jozefowicz et al., 2015): start by
            # remembering, so the early gradient reaches distant steps.
            with torch.no_grad():
                for layer in range(c.n_layer):
                    H = c.n_hidden
                    getattr(self.rnn, f"bias_ih_l{layer}")[H : 2 * H] = 1.0
                    getattr(self.rnn, f"bias_hh_l{layer}")[H : 2 * H] = 0.0

    def cells(self) -> list[Cell]:
        """The written-out cell of every layer, on this model's weights."""
        return [CELLS[self.arch].from_torch(self.rnn, i) for i in range(self.config.n_layer)]

    def new_cache(self, batch_size: int) -> RecurrentCache:
        """An empty cache (zero state) for `batch_size` rows."""
        return RecurrentCache(batch_size)

    def zero_state(self, batch_size: int) -> State:
        c = self.config
        h = self.lm_head.weight.new_zeros(c.n_layer, batch_size, c.n_hidden)
        return (h, torch.zeros_like(h)) if self.arch == "lstm" else h

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        *,
        cache: RecurrentCache | None = None,
        valid: torch.Tensor | None = None,
        explicit: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """idx (B, T) -> logits (B, T, V); with targets (B, T) -> (logits, mean cross-entropy).

        With `cache`, idx continues from the cached state, which is then replaced by the new
        one. `valid` (B, cache.length + T) marks real tokens of left-padded rows: at padding the
        state is left unchanged, so a row gives the logits it would give alone. `explicit`
        runs the written-out cells instead of PyTorch's fused modules (same result, slower).
        """
        if idx.dim() != 2:
            raise UserError(f"expected token ids of shape (batch, time), got {tuple(idx.shape)}")
        B, T = idx.shape
        state = None
        if cache is not None:
            if cache.batch_size != B:
                raise UserError(f"the cache holds {cache.batch_size} rows but the input has {B}")
            state = cache.state
        if valid is not None:
            past = 0 if cache is None else cache.length
            if tuple(valid.shape) != (B, past + T):
                raise UserError(
                    f"valid must have shape (batch, cached + new tokens) = {(B, past + T)}, "
                    f"got {tuple(valid.shape)}"
                )
            valid = valid[:, past:].to(device=idx.device, dtype=torch.bool)
            if bool(valid.all()):
                valid = None
        x = self.drop(self.embed(idx))
        if valid is not None:
            out, state = self._masked(x, state, valid, explicit)
        elif explicit:
            out, state = run_cells(self.cells(), x, state, self.config.dropout, self.training)
        else:
            out, state = self.rnn(x, state)
        if cache is not None:
            cache.state, cache.length = state, cache.length + T
        logits = self.lm_head(self.drop(out))
        if targets is None:
            return logits
        loss = F.cross_entropy(
            logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1), ignore_index=-100
        )
        return logits, loss

    def _masked(
        self, x: torch.Tensor, state: State | None, valid: torch.Tensor, explicit: bool
    ) -> tuple[torch.Tensor, State]:
        """One step at a time, keeping the old state of rows whose token is padding."""
        state = self.zero_state(x.size(0)) if state is None else state
        outputs = []
        for t in range(x.size(1)):
            if explicit:
                out, new = run_cells(self.cells(), x[:, t : t + 1], state)
            else:
                out, new = self.rnn(x[:, t : t + 1], state)
            keep = valid[None, :, t, None]  # (1, B, 1)
            if isinstance(state, tuple):
                state = tuple(torch.where(keep, n, s) for n, s in zip(new, state, strict=True))
            else:
                state = torch.where(keep, new, state)
            outputs.append(out)
        return torch.cat(outputs, dim=1), state


class RNNLM(RecurrentLM):
    """Language model on the plain tanh RNN (Elman, 1990)."""

    arch = "rnn"


class LSTMLM(RecurrentLM):
    """Language model on the LSTM."""

    arch = "lstm"


class GRULM(RecurrentLM):
    """Language model on the GRU."""

    arch = "gru"
