"""Model folders: save -> load round trip, and every corrupt folder is a UserError naming a file."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file, save_file

import attento
from attento.errors import UserError
from attento.models import folder as model_folder
from attento.models.folder import load_model, save_model
from attento.models.gpt import GPT, GPTConfig
from attento.tokenize import CharTokenizer

TEXT = "nel mezzo del cammin di nostra vita"


@pytest.fixture
def saved(tmp_path):
    tokenizer = CharTokenizer.from_text(TEXT)
    torch.manual_seed(0)
    model = GPT(GPTConfig(tokenizer.vocab_size, 16, 2, 2, 16, pos_encoding="rope")).eval()
    save_model(model, tokenizer, tmp_path / "m", extra={"train": {"step": 3}})
    return model, tokenizer, tmp_path / "m"


def test_round_trip(saved):
    model, tokenizer, folder = saved
    config = json.loads((folder / "config.json").read_text())
    assert config["arch"] == "gpt" and config["model"]["pos_encoding"] == "rope"
    assert config["train"] == {"step": 3}
    # the tied matrix is stored once
    assert "lm_head.weight" not in load_file(folder / "model.safetensors")
    loaded, tok = load_model(folder)
    assert not loaded.training
    assert loaded.lm_head.weight is loaded.embed.tok.weight
    idx = torch.tensor([tokenizer.encode("nostra vita")])
    assert torch.equal(loaded(idx), model(idx))
    assert tok.decode(tok.encode(TEXT)) == TEXT
    # the package-level entry point is the same function
    assert torch.equal(attento.load_model(str(folder))[0](idx), model(idx))


def test_untied_weights_round_trip(tmp_path):
    model = GPT(GPTConfig(30, 8, 1, 2, 16, tie_weights=False)).eval()
    save_model(model, None, tmp_path)
    loaded, tok = load_model(tmp_path)
    assert tok is None
    assert torch.equal(loaded.lm_head.weight, model.lm_head.weight)
    assert loaded.lm_head.weight is not loaded.embed.tok.weight


def test_missing_and_bad_json(saved, tmp_path):
    _, _, folder = saved
    with pytest.raises(UserError, match=r"is not a model folder \(it has no config\.json\)"):
        load_model(tmp_path)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(UserError, match=r"config\.json is not valid JSON"):
        load_model(folder)
    (folder / "config.json").write_text('{"model": {}}')
    with pytest.raises(UserError, match="not an attento model config"):
        load_model(folder)


def test_unknown_arch_and_bad_settings(saved):
    _, _, folder = saved
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | {"arch": "mamba"}))
    with pytest.raises(UserError, match="unknown arch 'mamba'"):
        load_model(folder)
    bad = config | {"model": config["model"] | {"n_head": 3}}
    (folder / "config.json").write_text(json.dumps(bad))
    with pytest.raises(UserError, match=r"config\.json: n_embd"):
        load_model(folder)


def test_weights_that_do_not_match(saved):
    _, _, folder = saved
    weights = load_file(folder / "model.safetensors")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(
        json.dumps(config | {"model": config["model"] | {"n_embd": 32}})
    )
    with pytest.raises(UserError, match=r"model\.safetensors: .* has shape"):
        load_model(folder)
    (folder / "config.json").write_text(json.dumps(config))
    del weights["ln_f.weight"]
    save_file(weights, folder / "model.safetensors")
    with pytest.raises(UserError, match=r"missing ln_f\.weight"):
        load_model(folder)
    (folder / "model.safetensors").unlink()
    with pytest.raises(UserError, match=r"model\.safetensors not found"):
        load_model(folder)


def test_tokenizer_larger_than_model(saved):
    _, _, folder = saved
    CharTokenizer.from_text(TEXT + "XYZQ").save(folder)
    with pytest.raises(UserError, match="tokenizer has"):
        load_model(folder)


def test_bare_names_look_in_the_bundled_folder(tmp_path, monkeypatch, saved):
    monkeypatch.setattr(model_folder, "BUNDLED", tmp_path)
    with pytest.raises(UserError, match=r"'tiny'.*bundled: m"):
        attento.load_model("tiny")
    model, _ = attento.load_model("m")
    assert isinstance(model, GPT)
    monkeypatch.setattr(model_folder, "BUNDLED", tmp_path / "absent")
    with pytest.raises(UserError, match="none are bundled"):
        attento.load_model("tiny")
    with pytest.raises(UserError, match="not found"):
        attento.load_model(str(tmp_path / "nowhere"))


def test_every_saved_arch_opens_in_a_fresh_process(tmp_path):
    """A reward model or a LoRA model opens without importing attento.align first (the
    registry asks align for its archs), and a GPT opens without importing align at all."""
    from attento.align.lora import LoRAGPT
    from attento.align.reward import RewardModel

    config = GPTConfig(20, 8, 1, 2, 8)
    save_model(GPT(config), None, tmp_path / "gpt")
    save_model(RewardModel(config), None, tmp_path / "rm")
    save_model(LoRAGPT.from_gpt(GPT(config), r=2, alpha=4.0), None, tmp_path / "lora")
    script = (
        "import sys; from attento.models.folder import load_model; "
        "gpt = type(load_model(sys.argv[1])[0]).__name__; "
        "print(gpt, 'attento.align' in sys.modules, "
        "*(type(load_model(p)[0]).__name__ for p in sys.argv[2:]))"
    )
    folders = [str(tmp_path / name) for name in ("gpt", "rm", "lora")]
    run = subprocess.run(
        [sys.executable, "-c", script, *folders], capture_output=True, text=True, check=True
    )
    assert run.stdout.split() == ["GPT", "False", "RewardModel", "LoRAGPT"]


def test_models_names_nothing_of_align():
    """models/ comes before align/: the alignment stage's archs are declared in align."""
    from pathlib import Path

    import attento.models

    package = Path(attento.models.__file__).parent
    naming = [p.name for p in package.glob("*.py") if "attento.align" in p.read_text()]
    assert naming == []


def test_a_folder_left_between_the_two_renames_of_a_swap_opens(saved):
    """A crash after OUT -> .OUT.old and before the new folder took its place: the model is
    still there, and opening it by its name puts it back."""
    from attento.files import old_sibling

    model, _, path = saved
    path.rename(old_sibling(path))
    loaded, _ = attento.load_model(path)
    assert path.is_dir() and not old_sibling(path).exists()
    x = torch.randint(0, model.config.vocab_size, (1, 5))
    assert torch.equal(loaded(x), model(x))


def test_opening_a_gpt_does_not_import_the_compiler_stack():
    """Sizing a GPT before building it is a closed form: the meta-device build it replaces
    imported torch._dynamo (seconds of CPU in every `attento` command that opens a model)."""
    code = (
        "import sys\n"
        "from attento.models.folder import load_model\n"
        "load_model('dante')\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("change", [{}, {"n_kv_head": 1}, {"tie_weights": False}, {"bias": False}])
def test_a_gpts_closed_form_size_is_the_meta_built_one(change):
    from attento.models.config import model_bytes
    from attento.models.gpt import GPT, GPTConfig

    config = GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=4, n_embd=32, **change)
    with torch.device("meta"):
        built = GPT(config)
    params = sum(p.numel() for p in built.parameters())
    nbytes = sum(t.numel() * t.element_size() for t in [*built.parameters(), *built.buffers()])
    assert model_bytes(GPT, config) == (params, nbytes)
