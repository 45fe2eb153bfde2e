"""The training loop shared by every model.

One optimiser step:
1. draw this step's batch (`grad_accum` micro-batches, split across processes);
2. for each micro-batch: forward pass `model(x, y) -> (logits, loss)`, then backward,
   adding up the gradients (each loss is divided by the number of micro-batches, so the
   sum is the gradient of the mean loss over the whole batch);
3. clip the gradient's global norm (one unlucky batch cannot throw the weights far);
4. set the learning rate from the schedule and let AdamW update the weights.
Every `eval_interval` steps the loss on held-out text is measured and a checkpoint written.

The loop knows nothing about the architecture or the objective: it needs a model, a batch
source (`train_batches`, `eval_batches`, `state_dict`/`load_state_dict` of tensors) chosen by
`objective`, and an optimiser (optim.py). A batch source may bring its own `loss(model, batch)`
and `evaluate(model)` (the reward model, DPO, PPO, whose batches are not (x, y) pairs); without
them a batch is (x, y) and the loss the model's own, `model(x, y) -> (logits, loss)`. A source
whose `train_dropout` is False trains with the model in eval mode (no dropout). A source that
draws its batches from the model being trained (PPO's rollouts) is handed that model, on its
device, through `use_model(model)` before the first step.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from attento.data.masking import IGNORE
from attento.errors import UserError
from attento.files import lock_folder
from attento.memory import check_fits
from attento.train import checkpoint, distributed, optim, setup, snapshots
from attento.train.config import TrainConfig
from attento.train.log import LOG_FILE, TrainLog
from attento.train.malloc import keep_freed_memory


@dataclass
class TrainResult:
    """What a finished run reports (also printed by `attento train --json`)."""

    out: str
    steps: int
    best_val_loss: float
    final_val_loss: float
    final_train_loss: float
    elapsed_s: float
    tokens_per_s: float
    params: int


def load_init(cfg: TrainConfig) -> tuple[torch.nn.Module, Any, TrainConfig]:
    """The model `cfg.init_from` names, to train further, and the config that describes the
    run: its arch and shape, and its own tokenizer (the windows are its full context)."""
    from attento.models.folder import load_model

    model, tokenizer = load_model(cfg.init_from)
    if tokenizer is None:
        raise UserError(f"{cfg.init_from} has no tokenizer files: training needs the model's own")
    shape = {k: v for k, v in model.config.to_dict().items() if k != "vocab_size"}
    return (
        model.train(),
        tokenizer,
        cfg.replace(arch=model.arch, model=shape, tokenizer=cfg.init_from),
    )


# keys that may change when a run is resumed: when to stop, how often to report, where to run
WHOLE_SPLIT_TOKENS = 8192  # tokens per forward pass when an evaluation reads the whole split
RESUMABLE = {
    "max_steps",
    "time_budget_min",
    "eval_interval",
    "log_interval",
    "device",
    "compile",
    "grad_checkpoint",
}


def check_same_run(saved: TrainConfig, given: TrainConfig) -> None:
    a, b = saved.to_dict(), given.to_dict()
    for key in a:
        if key not in RESUMABLE and a[key] != b[key]:
            raise UserError(
                f"cannot resume: the checkpoint was trained with {key}={a[key]!r}, "
                f"not {b[key]!r} (only {', '.join(sorted(RESUMABLE))} may change)"
            )


def train(
    cfg: TrainConfig | None,
    out: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    text: str | None = None,
    init: tuple[torch.nn.Module, Any] | None = None,
    batches: Any | None = None,
) -> TrainResult:
    """Train a model as `cfg` says, writing checkpoints, log.csv and loss.png into `out`.

    With `resume`, continue the checkpoint in `out` (then `cfg` may be None to take the
    saved config unchanged). `text` replaces loading `cfg.corpus` (for notebooks and tests).
    Fine-tuning (attento.align.sft) passes `init` = (model, tokenizer) to start from instead
    of a fresh model, and `batches`, its own batch source, instead of the corpus.
    """
    out = Path(out)
    keep_freed_memory()  # a step reuses the last step's pages instead of faulting in new ones
    world = distributed.setup(cfg.device if cfg is not None else "auto")
    finished = False
    try:
        # process 0 holds the run folder for the whole run: a second run there stops at once
        with lock_folder(out) if world.is_main else contextlib.nullcontext():
            result = _train(cfg, out, world, resume, progress, text, init, batches)
        finished = True
        return result
    finally:
        distributed.teardown(world, finished)


def _train(
    cfg: TrainConfig | None,
    out: Path,
    world: distributed.World,
    resume: bool,
    progress: bool,
    text: str | None,
    init: tuple[torch.nn.Module, Any] | None = None,
    batches: Any | None = None,
) -> TrainResult:
    from attento.data import load_corpus

    ckpt = None
    if resume:
        if world.is_main:
            checkpoint.recover(out)
        distributed.barrier(world)
        ckpt = checkpoint.load_checkpoint(out)
        if cfg is not None:
            check_same_run(ckpt.config, cfg)
        else:
            cfg = ckpt.config
    elif cfg is None:
        raise UserError("give a training config (or resume a checkpoint)")
    else:
        checkpoint.check_fresh_out(out)
    setup.seed_everything(cfg.seed + world.rank)
    if batches is None:
        text = load_corpus(cfg.corpus) if text is None else text

    if ckpt is not None:
        tokenizer, model = ckpt.tokenizer, ckpt.model
        trained = cfg.tokenizer == "char" or cfg.tokenizer.startswith("bpe:")
        if batches is None and not trained and cfg.init_from is None:
            given = setup.make_tokenizer(cfg.tokenizer, text)
            if given.vocab_size != tokenizer.vocab_size:
                raise UserError(
                    f"tokenizer {cfg.tokenizer} has {given.vocab_size} tokens but the "
                    f"checkpoint's model was trained with {tokenizer.vocab_size}"
                )
    elif init is not None:
        model, tokenizer = init
    elif cfg.init_from is not None:
        model, tokenizer, cfg = load_init(cfg)
    else:
        model, tokenizer = setup.fresh_start(cfg, text, progress and world.is_main)
    if cfg.grad_checkpoint:
        if not hasattr(model, "checkpoint_blocks"):
            raise UserError(f"gradient checkpointing is for GPT blocks, not --arch {cfg.arch}")
        model.checkpoint_blocks = True
    block_size = model.config.block_size
    if batches is None:
        batches = setup.make_batches(cfg, text, model.config, tokenizer)
    model.to(world.device)
    if hasattr(batches, "use_model"):
        batches.use_model(model)
    trainable = [p for p in model.parameters() if p.requires_grad]
    check_fits(  # on top of the weights, already allocated: a gradient and two moments each
        3 * sum(p.numel() * p.element_size() for p in trainable),
        f"training {sum(p.numel() for p in trainable):,} parameters (gradients, AdamW moments)",
    )
    optimizer = optim.build_optimizer(model, cfg)
    state = checkpoint.TrainState()
    log = TrainLog()
    if ckpt is not None:
        optimizer.load_state_dict(ckpt.tensors["optimizer"])
        batches.load_state_dict(ckpt.tensors["sampler"])
        checkpoint.set_rng_states(ckpt.rng_scalars, ckpt.tensors["rng"])
        if world.distributed:
            checkpoint.set_rank_rng_states(ckpt.tensors["rng"], world, cfg.seed + ckpt.state.step)
        state = ckpt.state
        log = TrainLog.read(out, state.step)
        if world.is_main:
            log.write(out)  # drop the rows logged after the checkpoint: they are redone
    elif world.is_main:
        out.mkdir(parents=True, exist_ok=True)
        (out / LOG_FILE).unlink(missing_ok=True)

    raw_model = model
    if cfg.compile:
        model = torch.compile(model)
    step_model = model
    if world.distributed:
        step_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[world.device.index] if world.device.type == "cuda" else None
        )
    runner = _Runner(cfg, world, model, step_model, optimizer, batches, block_size)
    return runner.run(raw_model, tokenizer, out, state, log, progress)


def lm_loss(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """The loss of a model whose forward takes the targets (CLM, MLM, SFT)."""
    x, y = batch
    return model(x, y)[1]


def to_device(batch: Any, device: torch.device) -> Any:
    """A batch (a tensor, or a tuple, list or dict of them) on `device`."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return type(batch)(to_device(v, device) for v in batch)


def batch_rows(batch: Any) -> int:
    """How many examples a batch holds: the length of its first tensor."""
    while not isinstance(batch, torch.Tensor):
        batch = next(iter(batch.values())) if isinstance(batch, dict) else batch[0]
    return len(batch)


class _Runner:
    """The loop itself, with the pieces it needs at hand."""

    def __init__(self, cfg, world, model, step_model, optimizer, batches, block_size) -> None:
        self.cfg, self.world, self.model, self.step_model = cfg, world, model, step_model
        self.optimizer, self.batches, self.block_size = optimizer, batches, block_size
        self.tokens_per_step = cfg.batch_size * cfg.grad_accum * block_size
        self.saved_step: int | None = None
        self.loss = getattr(batches, "loss", lm_loss)
        self.dropout = getattr(batches, "train_dropout", True)

    def autocast(self) -> contextlib.AbstractContextManager:
        """bfloat16 matmuls on GPUs. CPUs without bf16 units emulate it: 10x slower (measured
        on an AVX2 CPU), so there the flag is ignored and training stays in float32."""
        if not self.cfg.bf16 or self.world.device.type != "cuda":
            return contextlib.nullcontext()
        return torch.autocast("cuda", dtype=torch.bfloat16)

    def train_step(self, lr: float) -> tuple[float, float]:
        """One optimiser step; returns the batch's mean loss and the gradient norm."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        micro = self.batches.train_batches(
            self.cfg.batch_size, self.cfg.grad_accum, self.world.rank, self.world.size
        )
        rows = sum(batch_rows(batch) for batch in micro)
        loss_sum = torch.zeros((), device=self.world.device)
        for i, batch in enumerate(micro):
            batch = to_device(batch, self.world.device)
            sync = contextlib.nullcontext()
            if self.world.distributed and i < len(micro) - 1:
                sync = self.step_model.no_sync()  # average gradients once, after the last
            with sync:
                with self.autocast():
                    loss = self.loss(self.step_model, batch)
                # weighted by size: the gradients add up to those of the mean over all rows
                loss = loss * (batch_rows(batch) / rows)
                loss.backward()
            loss_sum += loss.detach()
        loss = distributed.mean(self.world, loss_sum).item()
        clip = self.cfg.grad_clip if self.cfg.grad_clip > 0 else math.inf
        norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip))
        if not (math.isfinite(loss) and math.isfinite(norm)):
            return loss, norm
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss, norm

    @torch.no_grad()
    def evaluate(self) -> float:
        """Mean loss per scored target over the validation batches (a fixed sample, or the
        whole split when eval_batches is None), shared out across processes; or what the
        batch source's own `evaluate` says."""
        self.model.eval()
        if hasattr(self.batches, "evaluate"):
            with self.autocast():
                value = self.batches.evaluate(self.model)
            self.model.train(self.dropout)
            return value
        loss_sum = torch.zeros((), device=self.world.device, dtype=torch.float64)
        count = torch.zeros((), device=self.world.device, dtype=torch.float64)
        for x, y in self.batches.eval_batches(
            self.cfg.eval_batches, self.eval_batch_size(), self.world.rank, self.world.size
        ):
            scored = int((y != IGNORE).sum())
            if scored == 0:  # e.g. a masked-LM batch where no position was chosen
                continue
            with self.autocast():
                _, loss = self.model(x.to(self.world.device), y.to(self.world.device))
            loss_sum += loss.double() * scored
            count += scored
        self.model.train(self.dropout)
        total = distributed.total(self.world, torch.stack([loss_sum, count]))
        return float(total[0] / total[1])

    def run(self, raw_model, tokenizer, out: Path, state, log: TrainLog, progress: bool):
        from tqdm.auto import tqdm

        cfg, world = self.cfg, self.world
        params = sum(p.numel() for p in raw_model.parameters())
        start = time.perf_counter() - state.elapsed_s
        eval_cost = None  # seconds one eval + checkpoint takes, reserved at the end of a budget
        window_steps, window_time = 0, 0.0
        total_train_time, total_steps = 0.0, 0
        last_val, last_loss, evaluated_at = math.nan, math.nan, -1
        if state.step:  # resumed: a checkpoint's step was evaluated, so a finished run is done
            evaluated_at = state.step
            if log.rows and log.rows[-1]["step"] == state.step:
                last_val, last_loss = log.rows[-1]["val_loss"], log.rows[-1]["train_loss"]
        bar = tqdm(
            total=cfg.max_steps,
            initial=state.step,
            disable=not (progress and world.is_main),
            unit="step",
            dynamic_ncols=True,
        )
        self.model.train(self.dropout)
        self._snapshot(raw_model, out, state.step)  # step 0: the untrained model
        while True:
            elapsed = distributed.from_main(world, time.perf_counter() - start)
            if self._done(state.step, elapsed, eval_cost, window_time / max(window_steps, 1)):
                break
            t0 = time.perf_counter()
            lr = optim.learning_rate(cfg, state.step, elapsed)
            loss, norm = self.train_step(lr)
            if not (math.isfinite(loss) and math.isfinite(norm)):
                bar.close()
                kept = (
                    f"the last good checkpoint (step {self.saved_step}) is kept in {out}"
                    if self.saved_step is not None
                    else "no checkpoint was written"
                )
                raise UserError(
                    f"training diverged at step {state.step + 1}: the loss became {loss} "
                    f"(gradient norm {norm}); {kept}. Try a lower learning rate or more warm-up"
                )
            state.step += 1
            self._snapshot(raw_model, out, state.step)
            dt = time.perf_counter() - t0
            window_steps, window_time = window_steps + 1, window_time + dt
            total_train_time, total_steps = total_train_time + dt, total_steps + 1
            last_loss = loss
            tok_s = self.tokens_per_step * window_steps / max(window_time, 1e-9)
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}", tok_s=f"{tok_s:,.0f}", refresh=False)
            elapsed = time.perf_counter() - start
            if cfg.time_budget_min is not None:
                bar.set_description(f"{elapsed / 60:.1f}/{cfg.time_budget_min:g} min")

            is_eval = state.step % cfg.eval_interval == 0
            if state.step % cfg.log_interval == 0 or is_eval:
                row = {
                    "step": state.step,
                    "train_loss": loss,
                    "val_loss": math.nan,
                    "lr": lr,
                    "tokens_per_s": tok_s,
                    "elapsed_s": elapsed,
                }
                if is_eval:
                    t_eval = time.perf_counter()
                    last_val = row["val_loss"] = self.evaluate()
                    evaluated_at = state.step
                    self._checkpoint(raw_model, tokenizer, out, state, log, row, start)
                    eval_cost = time.perf_counter() - t_eval
                    if progress and world.is_main:  # on stderr: stdout stays clean for --json
                        message = (
                            f"step {state.step}: train loss {loss:.4f}, val loss {last_val:.4f}"
                        )
                        bar.write(message, file=sys.stderr)
                else:
                    log.add(row, out if world.is_main else None)
                window_steps, window_time = 0, 0.0
        if evaluated_at != state.step:
            row = {
                "step": state.step,
                "train_loss": last_loss,
                "lr": math.nan,
                "tokens_per_s": math.nan,
                "elapsed_s": time.perf_counter() - start,
            }
            last_val = row["val_loss"] = self.evaluate()
            self._checkpoint(raw_model, tokenizer, out, state, log, row, start)
        bar.close()
        return TrainResult(
            out=str(out),
            steps=state.step,
            best_val_loss=state.best_val_loss,
            final_val_loss=last_val,
            final_train_loss=last_loss,
            elapsed_s=state.elapsed_s,
            tokens_per_s=self.tokens_per_step * total_steps / max(total_train_time, 1e-9),
            params=params,
        )

    def _done(self, step: int, elapsed: float, eval_cost: float | None, step_time: float) -> bool:
        cfg = self.cfg
        if cfg.max_steps is not None and step >= cfg.max_steps:
            return True
        if cfg.time_budget_min is None:
            return False
        if eval_cost is None:  # before the first eval: guess it from the step time
            rows = self.eval_steps() * self.eval_batch_size() / (cfg.batch_size * cfg.grad_accum)
            eval_cost = step_time * rows / 2  # a forward costs about half a training step
        return elapsed + step_time + eval_cost >= 60.0 * cfg.time_budget_min

    def eval_batch_size(self) -> int:
        """Windows per evaluation forward: the training batch for a fixed sample (so its
        numbers stay those of earlier runs), larger for the whole split (no gradients)."""
        if self.cfg.eval_batches is not None:
            return self.cfg.batch_size
        return max(self.cfg.batch_size, WHOLE_SPLIT_TOKENS // self.block_size)

    def eval_steps(self) -> int:
        """Forward passes of one evaluation (the whole split: one per batch of its windows)."""
        if self.cfg.eval_batches is not None:
            return self.cfg.eval_batches
        val = getattr(self.batches, "val_data", None)
        windows = 1 if val is None else -(-len(val) // self.block_size)
        return -(-windows // self.eval_batch_size())

    def _snapshot(self, raw_model, out: Path, step: int) -> None:
        """Keep the weights of `step` if --keep-checkpoints asks for that step."""
        cfg = self.cfg
        if not (cfg.keep_checkpoints and self.world.is_main and cfg.max_steps is not None):
            return
        if step in snapshots.snapshot_steps(cfg.max_steps, cfg.keep_checkpoints):
            snapshots.save_snapshot(raw_model, out, step)

    def _checkpoint(self, raw_model, tokenizer, out, state, log, row, start) -> None:
        is_best = row["val_loss"] < state.best_val_loss
        if is_best:
            state.best_val_loss = row["val_loss"]
        rank_rng = checkpoint.rank_rng_states(self.world)
        if self.world.is_main:
            log.add(row)
            state.elapsed_s = time.perf_counter() - start
            checkpoint.save_checkpoint(
                out,
                raw_model,
                tokenizer,
                self.cfg,
                state,
                self.optimizer,
                self.batches.state_dict(),
                log,
                is_best and self.cfg.save_best,
                rank_rng,
            )
        self.saved_step = state.step
        state.elapsed_s = distributed.from_main(self.world, time.perf_counter() - start)
