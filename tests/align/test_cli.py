"""The align commands end to end on tiny models, the terminal chat, and bad input."""

from __future__ import annotations

import csv
import io
import json

import pytest
import torch

from attento.align.chat import ChatFormat, add_chat_tokens
from attento.align.talk import chat_loop, stream_reply
from attento.cli import main
from attento.generate import SamplingConfig, generate
from attento.models.folder import load_model, save_model

from .conftest import tiny_gpt

RECORDS = [
    {"instruction": f"{a}+{b}=", "input": "", "output": str(a + b)}
    for a in range(4)
    for b in range(4)
]
PAIRS = [
    {"prompt": f"{a}+{b}=", "chosen": str(a + b), "rejected": f"{a + b} ok ok"}
    for a in range(4)
    for b in range(4)
]


@pytest.fixture
def chat_dir(tmp_path, char_tokenizer):
    model, tok, _ = add_chat_tokens(tiny_gpt(char_tokenizer.vocab_size), char_tokenizer)
    return save_model(model, tok, tmp_path / "chat")


def test_stream_reply_equals_greedy_generation_up_to_the_marker(chat_dir):
    model, tok = load_model(chat_dir)
    chat = ChatFormat.of(tok)
    messages = [{"role": "user", "content": "2+3="}]
    text = "".join(stream_reply(model, chat, messages, 12, SamplingConfig(greedy=True)))
    ids = torch.tensor([chat.encode_prompt(messages)])
    full = generate(model, ids, 12, greedy=True, eot_id=chat.im_end)[0, ids.size(1) :].tolist()
    assert text == chat.decode(full)


def test_chat_loop_reads_lines_and_keeps_history(chat_dir):
    model, tok = load_model(chat_dir)
    chat = ChatFormat.of(tok)
    out = io.StringIO()
    history = chat_loop(
        model,
        chat,
        io.StringIO("1+1=\n\n/reset\n2+2=\n3+3=\n"),
        out,
        system="be brief",
        max_new_tokens=5,
        sampling=SamplingConfig(seed=0),
    )
    assert [m["role"] for m in history] == ["system", "user", "assistant", "user", "assistant"]
    assert [m["content"] for m in history if m["role"] == "user"] == ["2+2=", "3+3="]
    assert "(conversation cleared)" in out.getvalue()
    assert out.getvalue().count("> ") == 6  # one prompt per line read, and at the end


def test_chat_command_streams_from_stdin(chat_dir, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("1+2=\n/exit\n"))
    assert main(["chat", "--model", str(chat_dir), "--greedy", "--max-new-tokens", "4"]) == 0
    model, tok = load_model(chat_dir)
    chat = ChatFormat.of(tok)
    expected = "".join(
        stream_reply(
            model, chat, [{"role": "user", "content": "1+2="}], 4, SamplingConfig(greedy=True)
        )
    )
    assert capsys.readouterr().out == f"> {expected}\n> \n"


def test_chat_negative_max_new_tokens_fails_before_reading_input(chat_dir, monkeypatch, capsys):
    """Was a RuntimeError traceback from the decoder once the first question was typed."""
    monkeypatch.setattr("sys.stdin", io.StringIO("1+2=\n"))
    assert main(["chat", "--model", str(chat_dir), "--max-new-tokens", "-1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("attento: error: max_new_tokens must be >= 0, got -1")
    assert captured.err.count("\n") == 1


def test_chat_without_chat_tokens_is_a_user_error(base_dir, capsys):
    assert main(["chat", "--model", str(base_dir)]) == 2
    assert "no chat tokens" in capsys.readouterr().err


def test_sft_reward_dpo_ppo_commands(tmp_path, base_dir, capsys):
    sft_data = tmp_path / "sft.json"
    sft_data.write_text(json.dumps(RECORDS))
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(p) + "\n" for p in PAIRS))
    sft_out = tmp_path / "sft"
    args = ["sft", "--model", str(base_dir), "--data", str(sft_data), "--out", str(sft_out)]
    assert main([*args, "--steps", "2", "--batch-size", "4", "--lora", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 2
    chat_model = str(sft_out / "merged")

    rm_out = tmp_path / "rm"
    args = ["reward", "--model", chat_model, "--data", str(pairs), "--out", str(rm_out)]
    assert main([*args, "--steps", "2", "--batch-size", "4", "--device", "cpu", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["val_pairs"] == 1

    args = ["dpo", "--model", chat_model, "--data", str(pairs), "--out", str(tmp_path / "dpo")]
    assert main([*args, "--steps", "2", "--batch-size", "4", "--device", "cpu", "--json"]) == 0
    assert 0 <= json.loads(capsys.readouterr().out)["val_reward_accuracy"] <= 1

    args = ["ppo", "--model", chat_model, "--reward", str(rm_out), "--data", str(sft_data)]
    args += ["--out", str(tmp_path / "ppo"), "--steps", "2", "--batch-size", "4"]
    assert main([*args, "--max-new-tokens", "4", "--device", "cpu", "--json"]) == 0
    assert [log["step"] for log in json.loads(capsys.readouterr().out)] == [1, 2]
    assert (tmp_path / "ppo" / "ppo.png").is_file() and (tmp_path / "ppo" / "ppo_log.csv").is_file()
    for run in ("rm", "dpo", "ppo"):  # --device reached the loop's config
        assert json.loads((tmp_path / run / "train_config.json").read_text())["device"] == "cpu"
    # a policy is not a reward model
    args[4] = chat_model
    args[args.index("--out") + 1] = str(tmp_path / "ppo2")
    assert main([*args, "--max-new-tokens", "4"]) == 2
    assert "not a reward model" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("command", "content", "message"),
    [
        ("sft", "", "empty"),
        ("sft", '{"question": "x"}\n', "unknown data format"),
        ("sft", '{"instruction": "x"}\n', "unknown data format"),
        ("reward", '{"instruction": "x", "output": "y"}\n', "preference data"),
        ("dpo", '{"prompt": "x", "chosen": "a"}\n', "unknown data format"),
    ],
)
def test_bad_data_is_one_line_on_stderr(
    tmp_path, base_dir, chat_dir, capsys, command, content, message
):
    data = tmp_path / "bad.jsonl"
    data.write_text(content)
    model = base_dir if command == "sft" else chat_dir
    assert (
        main([command, "--model", str(model), "--data", str(data), "--out", str(tmp_path / "o")])
        == 2
    )
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_data_folder_is_named_a_folder(tmp_path, capsys):
    """Was "data file DIR not found" for a folder that plainly exists."""
    argv = ["sft", "--model", "m", "--data", str(tmp_path), "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("attento: error: ") and err.count("\n") == 1
    assert f"{tmp_path} is a folder" in err


@pytest.mark.parametrize("command", ["reward", "dpo", "ppo"])
def test_out_never_overwrites_the_input_model_or_a_training_run(
    tmp_path, chat_dir, capsys, command
):
    """These commands save a model over whatever --out holds: a reward model silently
    replaced the checkpoint of a training run, or the very model that was read."""
    from attento.train.checkpoint import STATE_JSON

    run = tmp_path / "run"
    run.mkdir()
    (run / STATE_JSON).write_text("{}")
    extra = ["--reward", "r"] if command == "ppo" else []
    for out, message in [(chat_dir, "is the model being read"), (run, "holds a training run")]:
        argv = [command, "--model", str(chat_dir), "--data", "d.json", *extra]
        assert main([*argv, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("attento: error: --out") and message in err
        assert err.count("\n") == 1


def test_demo_quick_writes_a_report(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["align-demo", "--out", str(out), "--quick", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["results"]) == {"sft", "ppo", "dpo"}
    assert (out / "report.md").read_text().startswith("| measure | value |")
    assert (out / "ppo.png").is_file() and (out / "data" / "sft.jsonl").is_file()
    assert main(["align-demo", "--out", str(out), "--quick"]) == 2  # not over a used folder


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sft", "--steps", "0"], "max_steps must be a positive integer, got 0"),
        (["sft", "--lr", "-1"], "learning_rate must be a positive number, got -1.0"),
        (["reward", "--steps", "0"], "steps must be a positive integer, got 0"),
        (["reward", "--batch-size", "0"], "batch_size must be a positive integer, got 0"),
        (["reward", "--lr", "-1"], "learning_rate must be a positive number, got -1.0"),
        (["dpo", "--batch-size", "-3"], "batch_size must be a positive integer, got -3"),
        (["dpo", "--lr", "nan"], "learning_rate must be a positive number, got nan"),
        (["ppo", "--steps", "0"], "steps must be a positive integer, got 0"),
        (["ppo", "--batch-size", "0"], "batch_size must be a positive integer, got 0"),
        (["ppo", "--max-new-tokens", "0"], "max_new_tokens must be a positive integer, got 0"),
        (["ppo", "--lr", "-1"], "learning_rate must be a positive number, got -1.0"),
        (["ppo", "--kl-coef", "-1"], "kl_coef cannot be negative, got -1.0"),
    ],
)
def test_bad_settings_are_one_line_before_loading(tmp_path, capsys, argv, message):
    """Zero steps, an empty batch or a negative rate fail at once: no IndexError or torch
    ValueError from inside training, and no silent run that learns nothing."""
    command, *flags = argv
    paths = ["--model", "m", "--data", "d.json", "--out", str(tmp_path / "o")]
    if command == "ppo":
        paths += ["--reward", "r"]
    assert main([command, *paths, *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"attento: error: {message}") and err.count("\n") == 1


@pytest.mark.parametrize("command", ["reward", "dpo", "ppo"])
def test_a_bad_device_is_one_line_before_loading(tmp_path, capsys, command):
    """The same check and message as `attento train --device`, before any file is read."""
    paths = ["--model", "m", "--data", "d.json", "--out", str(tmp_path / "o")]
    if command == "ppo":
        paths += ["--reward", "r"]
    assert main([command, *paths, "--device", "gpu"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("attento: error: unknown device 'gpu': use cpu, cuda, cuda:N or auto")
    assert err.count("\n") == 1 and not (tmp_path / "o").exists()


@pytest.mark.parametrize("command", ["reward", "dpo", "ppo"])
def test_device_help_states_the_train_default(command, capsys):
    from attento.train.config import TrainConfig

    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert f"(default: {TrainConfig.device})" in " ".join(capsys.readouterr().out.split())


def folder_bytes(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("command", ["reward", "dpo", "ppo"])
def test_a_used_out_is_replaced_only_with_force_and_whole(
    tmp_path, chat_dir, capsys, monkeypatch, command
):
    """Was: whatever --out held (a reward model, once) was silently overwritten by the new
    model, file by file. Now it is refused, and --force swaps in a whole new folder."""
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(p) + "\n" for p in PAIRS))
    data = pairs
    extra = []
    if command == "ppo":
        data = tmp_path / "prompts.json"
        data.write_text(json.dumps(RECORDS))
        rm = tmp_path / "rm"
        argv = ["reward", "--model", str(chat_dir), "--data", str(pairs), "--out", str(rm)]
        assert main([*argv, "--steps", "1", "--batch-size", "4", "--json"]) == 0
        capsys.readouterr()
        extra = ["--reward", str(rm), "--max-new-tokens", "2"]
    used = tmp_path / "used"
    model, tok = load_model(chat_dir)
    save_model(model, tok, used)
    (used / "notes.txt").write_text("mine")
    before = folder_bytes(used)
    argv = [command, "--model", str(chat_dir), "--data", str(data), "--out", str(used), *extra]
    argv += ["--steps", "1", "--batch-size", "4", "--json"]

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"attento: error: {used} already holds a model") and "--force" in err
    assert err.count("\n") == 1 and folder_bytes(used) == before

    def disk_full(tensors, path):  # the new weights' write fails half way
        path.write_bytes(b"half")
        raise OSError("disk full")

    with monkeypatch.context() as m:
        m.setattr("attento.models.folder.write_safetensors", disk_full)
        with pytest.raises(OSError, match="disk full"):
            main([*argv, "--force"])
    assert folder_bytes(used) == before
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]

    assert main([*argv, "--force"]) == 0
    capsys.readouterr()
    assert not (used / "notes.txt").exists()  # a new folder, not files written over the old
    new, _ = load_model(used)
    kind = {"reward": "gpt-reward", "dpo": "gpt", "ppo": "gpt-value"}[command]
    assert (
        new.arch == kind and folder_bytes(used)["model.safetensors"] != before["model.safetensors"]
    )
    if command == "ppo":
        assert (used / "ppo_log.csv").is_file() and (used / "ppo.png").is_file()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_sft_help_names_the_default_checkpoint_interval(capsys):
    from attento.align.sft import SFTSettings

    with pytest.raises(SystemExit):
        main(["sft", "--help"])
    assert f"(default: {SFTSettings.eval_interval})" in " ".join(capsys.readouterr().out.split())


def test_sft_killed_after_a_checkpoint_resumes_bit_for_bit(tmp_path, base_dir):
    """Was: `attento sft` checkpointed only at its last step, so a kill lost the whole run.
    A real process is killed with SIGKILL just after a checkpoint; the resumed run ends with
    the same weights (adapters and merged model) and the same log as an uninterrupted one."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from safetensors.torch import load_file

    data = tmp_path / "sft.json"
    data.write_text(json.dumps(RECORDS))

    def command(out, *extra):
        argv = [sys.executable, "-m", "attento.cli", "sft", "--model", str(base_dir)]
        argv += ["--data", str(data), "--out", str(out), "--steps", "60", "--batch-size", "4"]
        return [*argv, "--lora", "2", "--checkpoint-interval", "10", "--json", *extra]

    def start(out, *extra):
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE}
        return subprocess.Popen(command(out, *extra), env=env, text=True, **quiet)

    straight, cut = tmp_path / "straight", tmp_path / "cut"
    runs = [start(straight), start(cut)]
    deadline = time.monotonic() + 240
    while not (cut / "train_state.json").is_file():
        assert runs[1].poll() is None, runs[1].stderr.read()
        assert time.monotonic() < deadline, "no checkpoint in time"
        time.sleep(0.005)
    runs[1].send_signal(signal.SIGKILL)
    assert runs[1].wait(timeout=30) == -signal.SIGKILL
    step = json.loads((cut / "train_state.json").read_text())["step"]
    assert step < 60 and not (cut / "merged").exists()

    resumed = start(cut, "--resume")
    for run in (runs[0], resumed):
        assert run.wait(timeout=240) == 0, run.stderr.read()

    for name in ("model.safetensors", "merged/model.safetensors"):
        a, b = load_file(straight / name), load_file(cut / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    with (straight / "log.csv").open() as fa, (cut / "log.csv").open() as fb:
        rows_a, rows_b = list(csv.DictReader(fa)), list(csv.DictReader(fb))
    for column in ("step", "train_loss", "val_loss", "lr"):  # times and speeds differ
        assert [r[column] for r in rows_a] == [r[column] for r in rows_b]


@pytest.mark.parametrize("command", ["reward", "dpo", "ppo"])
@pytest.mark.parametrize("flag", [None, "--train-dropout", "--no-train-dropout"])
def test_train_dropout_flag_reaches_the_settings(tmp_path, chat_dir, monkeypatch, command, flag):
    """Unset, the settings dataclass's default holds (the CLI writes none of its own)."""
    import attento.align.dpo
    import attento.align.ppo
    import attento.align.reward
    from attento.errors import UserError

    module, name, settings_class = {
        "reward": (attento.align.reward, "train_reward_model", attento.align.reward.RewardSettings),
        "dpo": (attento.align.dpo, "dpo", attento.align.dpo.DPOSettings),
        "ppo": (attento.align.ppo, "ppo", attento.align.ppo.PPOSettings),
    }[command]
    seen = []

    def stop(*args, **kwargs):
        seen.extend(a for a in args if isinstance(a, settings_class))
        raise UserError("stopped before training")

    monkeypatch.setattr(module, name, stop)
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(p) + "\n" for p in PAIRS))
    argv = [command, "--model", str(chat_dir), "--data", str(pairs), "--out", str(tmp_path / "o")]
    if command == "ppo":
        lm, tokenizer = load_model(chat_dir)
        rm_dir = save_model(
            attento.align.reward.RewardModel.from_lm(lm), tokenizer, tmp_path / "rm"
        )
        argv += ["--reward", str(rm_dir)]
    assert main(argv + ([flag] if flag else [])) == 2
    expected = {None: settings_class().train_dropout, "--train-dropout": True}.get(flag, False)
    assert [s.train_dropout for s in seen] == [expected]


@pytest.mark.parametrize("command", ["reward", "dpo", "ppo"])
def test_train_dropout_help_states_the_dataclass_default(command, capsys):
    """The help states the default: it must be the dataclass's."""
    from attento.align.settings import TrainDropout

    with pytest.raises(SystemExit):
        main([command, "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"(default: {TrainDropout().train_dropout})" in help_text
