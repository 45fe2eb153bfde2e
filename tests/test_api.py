"""The top-level API: each name works, agrees with the modules it wraps, and stays lazy."""

import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

import attento

TEXT = "Nel mezzo del cammin di nostra vita mi ritrovai per una selva oscura"


@pytest.fixture(scope="module")
def dante():
    return attento.load_model("dante")


def test_import_attento_does_not_import_torch():
    code = "import sys, attento; sys.exit(3 if 'torch' in sys.modules else 0)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0


def test_all_names_exist_and_have_an_example():
    for name in attento.__all__:
        obj = getattr(attento, name)
        if callable(obj) and name != "UserError":
            assert "Example:" in (obj.__doc__ or ""), name


def test_functions_survive_their_subpackages_being_imported(dante):
    import attento.generate.loop
    import attento.train.loop
    from attento.train import preset

    assert callable(attento.train) and callable(attento.generate)
    assert preset("tiny").max_steps > 0  # the subpackage is still importable by name


def test_tokenizer_by_bundled_name_is_the_models(dante):
    _, tok = dante
    assert attento.tokenizer("dante").encode(TEXT) == tok.encode(TEXT)
    gpt4 = attento.tokenizer("cl100k_base")
    assert gpt4.decode(gpt4.encode(TEXT)) == TEXT


def test_unknown_tokenizer_is_a_user_error():
    with pytest.raises(attento.UserError):
        attento.tokenizer("no-such-tokenizer")


def test_trace_logits_are_the_forward_pass(dante):
    model, tok = dante
    tr = attento.trace(model, tok, TEXT)
    ids = torch.tensor([tok.encode(TEXT)])
    with torch.no_grad():
        logits = model(ids)
    torch.testing.assert_close(tr.records["logits"], logits)
    weights = tr.records["blocks.0.attn.weights"]
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]))


def test_greedy_generate_is_the_argmax_chain(dante):
    model, tok = dante
    text = attento.generate(model, tok, TEXT, max_new_tokens=6, greedy=True)
    ids = tok.encode(TEXT)
    with torch.no_grad():
        for _ in range(6):
            ids.append(int(model(torch.tensor([ids]))[0, -1].argmax()))
    assert TEXT + text == tok.decode(ids)
    pieces = attento.generate(model, tok, TEXT, 6, stream=True, greedy=True)
    assert "".join(p for _, p in pieces) == text


def test_next_token_ranks_the_logits(dante):
    model, tok = dante
    report = attento.next_token(model, tok, TEXT, n=5, seed=0)
    with torch.no_grad():
        logits = model(torch.tensor([tok.encode(TEXT)]))[0, -1]
    assert [c.id for c in report.candidates[:5]] == logits.topk(5).indices.tolist()


def test_evaluate_is_the_mean_cross_entropy(dante):
    model, tok = dante
    ids = tok.encode(TEXT)
    assert len(ids) <= model.config.block_size
    with torch.no_grad():
        logits = model(torch.tensor([ids[:-1]]))[0]
    expected = F.cross_entropy(logits, torch.tensor(ids[1:])).item()
    assert attento.evaluate(model, tok, TEXT).loss == pytest.approx(expected, rel=1e-5)


def test_embed_is_the_embedders_vectors():
    from attento.embeddings import load_embedder
    from attento.models.folder import resolve

    words = ["mezzo", "selva oscura"]
    vectors = attento.embed(words, model="dante")
    expected = load_embedder(resolve("dante")).embed(words)
    assert vectors.shape == expected.shape and (vectors == expected).all()
    assert (attento.embed(words[0], model="dante") == expected[0]).all()


def test_train_writes_a_model_that_loads(tmp_path):
    text = (TEXT + "\n") * 60
    result = attento.train("tiny", tmp_path / "run", text=text, max_steps=4, eval_interval=2)
    assert result.steps == 4
    model, tok = attento.load_model(tmp_path / "run")
    assert model.config.vocab_size >= tok.vocab_size
    assert tok.decode(tok.encode(TEXT)) == TEXT
    assert callable(attento.train)  # still the function after its package was imported
