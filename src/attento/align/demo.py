"""The whole alignment pipeline on a laptop, with data made by rules, in minutes.

1. *Pretraining*: a small GPT learns plain lines of facts generated in code ("3+4=7",
   "rev abc cba", "en tre three", "it three tre"), with the shared training loop.
2. *SFT*: sloppy demonstrators write chat examples: most answers are right and short, but
   some ramble ("7 i think") and some are wrong. Fine-tuning teaches the chat format
   (measured: the share of answers that end with <|im_end|> and hold one line of text),
   and, faithfully, the sloppiness too.
3. *Preferences*: pairs of answers ranked by a rule anyone would agree with: a right answer
   beats a wrong one, a short right answer beats a rambling one. Half the pairs are written
   to order (one answer of each kind), half are two answers the SFT model itself sampled
   for the same prompt (as in the course: the model answers, people rank). The same rule,
   as a number, is the *true reward*: 1 for the right answer alone, 0.3 for the right answer
   followed by more words, 0 otherwise.
4. *Reward model*: learns the rule from the pairs (held-out pairwise accuracy).
5. *PPO*: the SFT model samples answers, the reward model scores them, PPO raises the score
   with a KL penalty towards the SFT model.
6. *DPO*: the same preference pairs, optimised directly, without reward model or sampling.
Both aligned models are measured with the true reward and their KL from the SFT model, on
the same held-out prompts with the same sampling seeds. `run_demo` writes report.md,
report.json, the PPO log and ppo.png into the output folder.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from attento.align.chat import ChatFormat, Message
from attento.align.data import Preference, load_conversations
from attento.align.dpo import DPOSettings, dpo
from attento.align.evaluate import format_accuracy as evaluate_format
from attento.align.ppo import PPOSettings, plot_ppo, ppo, write_ppo_log
from attento.align.reward import RewardSettings, train_reward_model
from attento.align.rollout import evaluate, sample
from attento.align.sft import SFTSettings, sft
from attento.config import Config
from attento.errors import UserError
from attento.models.folder import load_model, save_model
from attento.train import TrainConfig, train

IT = ["zero", "uno", "due", "tre", "quattro", "cinque", "sei", "sette", "otto", "nove", "dieci"]
EN = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
LETTERS = "abcde"
RAMBLE = [" i think", " or so", " maybe", " ok ok", " right", " i guess so"]
MAX_NEW_TOKENS = 16


# --- the tasks and the rule ------------------------------------------------------------------


def make_task(rng: random.Random) -> tuple[str, str]:
    """(prompt, right answer) of one random task."""
    kind = rng.randrange(4)
    if kind == 0:
        a, b = rng.randrange(5), rng.randrange(5)
        return f"{a}+{b}=", str(a + b)
    if kind == 1:
        word = "".join(rng.choice(LETTERS) for _ in range(rng.randint(2, 3)))
        return f"rev {word}", word[::-1]
    n = rng.randrange(len(IT))
    return (f"en {IT[n]}", EN[n]) if kind == 2 else (f"it {EN[n]}", IT[n])


def solve(prompt: str) -> str:
    """The right answer to a task prompt."""
    if prompt.endswith("="):
        a, b = prompt[:-1].split("+")
        return str(int(a) + int(b))
    kind, arg = prompt.split(" ", 1)
    if kind == "rev":
        return arg[::-1]
    return EN[IT.index(arg)] if kind == "en" else IT[EN.index(arg)]


def wrong_answer(prompt: str, rng: random.Random) -> str:
    right = solve(prompt)
    if prompt.endswith("="):
        return str(abs(int(right) + rng.choice([-1, 1])))
    kind, arg = prompt.split(" ", 1)
    if kind == "rev":
        return arg if arg != right else arg + rng.choice(LETTERS)
    words = EN if kind == "en" else IT
    return words[(words.index(right) + rng.choice([1, 2, 3])) % len(words)]


def true_reward(prompt: list[Message] | str, answer: str) -> float:
    """1 for the right answer alone, 0.3 for the right answer and more words, else 0."""
    text = prompt if isinstance(prompt, str) else prompt[-1]["content"]
    right, answer = solve(text), answer.strip()
    if answer == right:
        return 1.0
    return 0.3 if answer.split(" ")[0] == right else 0.0


def answer_of_kind(prompt: str, kind: str, rng: random.Random) -> str:
    """kind: "right", "ramble" (right + words), "wrong", "wrong-ramble"."""
    base = solve(prompt) if kind in ("right", "ramble") else wrong_answer(prompt, rng)
    return base + rng.choice(RAMBLE) if kind.endswith("ramble") else base


def pretraining_text(n_lines: int, rng: random.Random) -> str:
    lines = []
    for _ in range(n_lines):
        prompt, right = make_task(rng)
        lines.append(f"{prompt}{right}" if prompt.endswith("=") else f"{prompt} {right}")
    return "\n".join(lines) + "\n"


def sft_records(n: int, rng: random.Random) -> list[dict[str, str]]:
    """Alpaca records by sloppy demonstrators: 55% right, 25% rambling, 20% wrong."""
    kinds = ["right"] * 55 + ["ramble"] * 25 + ["wrong"] * 12 + ["wrong-ramble"] * 8
    records = []
    for _ in range(n):
        prompt, _ = make_task(rng)
        answer = answer_of_kind(prompt, rng.choice(kinds), rng)
        records.append({"instruction": prompt, "input": "", "output": answer})
    return records


def preference_pairs(n: int, rng: random.Random) -> list[Preference]:
    """Two answers of different kinds per prompt; the rule picks the chosen one."""
    kinds = ["right", "ramble", "wrong", "wrong-ramble"]
    pairs = []
    while len(pairs) < n:
        prompt, _ = make_task(rng)
        a, b = (answer_of_kind(prompt, k, rng) for k in rng.sample(kinds, 2))
        ra, rb = true_reward(prompt, a), true_reward(prompt, b)
        if ra == rb:
            continue
        chosen, rejected = (a, b) if ra > rb else (b, a)
        pairs.append(Preference([{"role": "user", "content": prompt}], chosen, rejected))
    return pairs


@torch.no_grad()
def policy_pairs(policy, chat: ChatFormat, n: int, rng: random.Random, seed: int):
    """The course's step 3: the model answers each prompt twice and the rule ranks the two
    answers (pairs the rule finds equal are dropped; a model whose two answers always tie
    yields fewer than n pairs)."""
    pairs: list[Preference] = []
    for attempt in range(-(-n // 16)):  # expect >= 16 useful pairs per 64 prompts
        if len(pairs) >= n:
            break
        prompts = [[{"role": "user", "content": make_task(rng)[0]}] for _ in range(64)]
        a = sample(policy, chat, prompts, MAX_NEW_TOKENS, 1.0, seed + 2 * attempt)
        b = sample(policy, chat, prompts, MAX_NEW_TOKENS, 1.0, seed + 2 * attempt + 1)
        for p, x, y in zip(prompts, a.texts, b.texts, strict=True):
            rx, ry = true_reward(p, x), true_reward(p, y)
            if rx != ry:
                chosen, rejected = (x, y) if rx > ry else (y, x)
                pairs.append(Preference(p, chosen, rejected))
    return pairs[:n]


# --- measuring -------------------------------------------------------------------------------


@torch.no_grad()
def format_accuracy(model, chat: ChatFormat, prompts: list[list[Message]], seed: int) -> float:
    """Share of sampled answers that close with <|im_end|> and are one non-empty line."""
    return evaluate_format(model, chat, prompts, MAX_NEW_TOKENS, seed, one_line=True).accuracy


# --- the pipeline ----------------------------------------------------------------------------


@dataclass
class DemoSettings(Config):
    seed: int = 0
    base_steps: int = 1000
    sft_steps: int = 500
    rm_steps: int = 600
    ppo_steps: int = 100
    dpo_steps: int = 150
    n_sft: int = 4000
    n_pairs: int = 3000
    eval_prompts: int = 256
    n_layer: int = 2
    n_embd: int = 64
    n_head: int = 4

    @classmethod
    def quick(cls) -> DemoSettings:
        """A few steps of everything: checks the plumbing, not the quality (tests)."""
        return cls(
            base_steps=20,
            sft_steps=10,
            rm_steps=5,
            ppo_steps=2,
            dpo_steps=5,
            n_sft=200,
            n_pairs=100,
            eval_prompts=16,
            n_layer=1,
            n_embd=32,
            n_head=2,
        )


def run_demo(out: str | Path, settings: DemoSettings | None = None, progress: bool = True) -> dict:
    """Run the six steps, write the report into `out`, return the numbers."""
    s = settings or DemoSettings()
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise UserError(f"--out {out} is not empty: give a new folder for the demo")
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(s.seed)
    torch.manual_seed(s.seed)
    timings: dict[str, float] = {}
    say = print if progress else (lambda *a, **k: None)

    t = time.perf_counter()
    say("1/6 pretraining the base model on generated facts")
    base_cfg = TrainConfig(
        corpus="demo",
        tokenizer="char",
        model=dict(block_size=64, n_layer=s.n_layer, n_head=s.n_head, n_embd=s.n_embd),
        batch_size=32,
        max_steps=s.base_steps,
        learning_rate=3e-3,
        min_lr=3e-4,
        warmup_steps=min(50, s.base_steps // 4),
        eval_interval=s.base_steps,
        eval_batches=4,
        log_interval=max(1, s.base_steps // 20),
        seed=s.seed,
        save_best=False,
    )
    chars = "".join(sorted(set("0123456789+= \n" + LETTERS + "".join(IT + EN) + "".join(RAMBLE))))
    text = chars + "\n" + pretraining_text(20000, rng)
    train(base_cfg, out / "base", progress=progress, text=text)
    timings["pretrain_s"] = time.perf_counter() - t

    t = time.perf_counter()
    say("2/6 supervised fine-tuning on sloppy demonstrations")
    data = out / "data"
    data.mkdir()
    with (data / "sft.jsonl").open("w") as f:
        for record in sft_records(s.n_sft, rng):
            f.write(json.dumps(record) + "\n")
    sft(
        out / "base",
        data / "sft.jsonl",
        out / "sft",
        SFTSettings(
            max_steps=s.sft_steps,
            batch_size=32,
            learning_rate=1e-3,
            warmup_steps=min(20, s.sft_steps // 4),
            eval_interval=s.sft_steps,
            eval_batches=4,
            seed=s.seed,
        ),
        progress=progress,
    )
    policy, tokenizer = load_model(out / "sft")
    chat = ChatFormat.of(tokenizer)
    eval_rng = random.Random(s.seed + 12345)
    prompts = [[{"role": "user", "content": make_task(eval_rng)[0]}] for _ in range(s.eval_prompts)]
    train_prompts = [c[:1] for c in load_conversations(data / "sft.jsonl")]
    sft_format = format_accuracy(policy, chat, prompts, s.seed)
    timings["sft_s"] = time.perf_counter() - t

    t = time.perf_counter()
    say("3/6 preference pairs from the rule; 4/6 reward model")
    prefs = preference_pairs(s.n_pairs // 2, rng)
    prefs += policy_pairs(policy, chat, s.n_pairs - len(prefs), rng, s.seed + 1000)
    random.Random(s.seed).shuffle(prefs)
    with (data / "preferences.jsonl").open("w") as f:
        for p in prefs:
            record = {"prompt": p.prompt[0]["content"], "chosen": p.chosen, "rejected": p.rejected}
            f.write(json.dumps(record) + "\n")
    rm, rm_report = train_reward_model(
        policy,
        chat,
        prefs,
        RewardSettings(steps=s.rm_steps, batch_size=32, learning_rate=1e-3, seed=s.seed),
        progress,
    )
    save_model(rm, tokenizer, out / "reward")
    timings["reward_s"] = time.perf_counter() - t

    t = time.perf_counter()
    say("5/6 PPO against the reward model")
    ppo_policy, logs = ppo(
        policy,
        rm,
        chat,
        train_prompts,
        PPOSettings(
            steps=s.ppo_steps,
            batch_size=64,
            mini_batch_size=32,
            ppo_epochs=2,
            max_new_tokens=MAX_NEW_TOKENS,
            learning_rate=5e-5,
            kl_coef=0.1,
            seed=s.seed,
        ),
        judge=true_reward,
        progress=progress,
    )
    save_model(ppo_policy, tokenizer, out / "ppo")
    write_ppo_log(logs, out / "ppo_log.csv")
    plot_ppo(logs, out / "ppo.png")
    timings["ppo_s"] = time.perf_counter() - t

    t = time.perf_counter()
    say("6/6 DPO on the preference pairs")
    dpo_policy, dpo_report = dpo(
        policy,
        chat,
        prefs,
        DPOSettings(beta=0.5, steps=s.dpo_steps, batch_size=32, learning_rate=5e-5, seed=s.seed),
        progress,
    )
    save_model(dpo_policy, tokenizer, out / "dpo")
    timings["dpo_s"] = time.perf_counter() - t

    say("measuring")
    results = {}
    for name, model in (("sft", policy), ("ppo", ppo_policy), ("dpo", dpo_policy)):
        e = evaluate(model, policy, chat, prompts, true_reward, MAX_NEW_TOKENS, seed=s.seed + 99)
        results[name] = {
            "mean_true_reward": e.mean_true_reward,
            "kl_to_sft": e.kl,
            "answer_tokens": e.answer_tokens,
            "format_accuracy": format_accuracy(model, chat, prompts, s.seed + 7),
            "samples": e.samples,
        }
    report = {
        "settings": asdict(s),
        "sft_format_accuracy": sft_format,
        "reward_model": {
            "val_accuracy": rm_report.val_accuracy,
            "train_accuracy": rm_report.train_accuracy,
            "val_pairs": rm_report.val_pairs,
        },
        "dpo": {
            "val_reward_accuracy": dpo_report.val_reward_accuracy,
            "val_margin": dpo_report.val_margin,
        },
        "results": results,
        "timings_s": timings,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    (out / "report.md").write_text(report_markdown(report))
    return report


def report_markdown(report: dict) -> str:
    """The report as a markdown table plus a few sample answers."""
    r = report["results"]
    rm = report["reward_model"]
    lines = [
        "| measure | value |",
        "|---|---|",
        f"| SFT format accuracy (answer closed by <\\|im_end\\|>, one line) | "
        f"{report['sft_format_accuracy']:.1%} |",
        f"| reward model held-out pairwise accuracy ({rm['val_pairs']} pairs) | "
        f"{rm['val_accuracy']:.1%} |",
        f"| DPO held-out implicit reward accuracy | {report['dpo']['val_reward_accuracy']:.1%} |",
        "",
        "| policy | mean true reward | KL to SFT (per answer, nats) | answer tokens | format |",
        "|---|---|---|---|---|",
    ]
    for name in ("sft", "ppo", "dpo"):
        x = r[name]
        lines.append(
            f"| {name.upper()} | {x['mean_true_reward']:.3f} | {x['kl_to_sft']:.2f} | "
            f"{x['answer_tokens']:.1f} | {x['format_accuracy']:.1%} |"
        )
    lines += ["", "Sample answers (prompt → answer, true reward):", ""]
    for name in ("sft", "ppo", "dpo"):
        shown = ", ".join(f"`{p}` → `{a}` ({v:g})" for p, a, v in r[name]["samples"][:4])
        lines.append(f"- {name.upper()}: {shown}")
    total = sum(report["timings_s"].values())
    lines += ["", f"Total time: {total / 60:.1f} min."]
    return "\n".join(lines) + "\n"
