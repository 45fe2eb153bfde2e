"""Fill-mask: the encoder's final step, MLM scores -> probabilities -> the top guesses.

Where a decoder picks one next token, BERT's MLM head scores every [MASK] of a text at once
(models/bert.py); this module turns those scores into each mask's top-k tokens with their
probabilities, as `attento fill-mask` prints them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from attento.data.masking import encode_with_masks, mask_token_id
from attento.messages import user_error
from attento.models.bert import Bert
from attento.models.folder import load_model, read_json
from attento.tokenize import load_tokenizer

FILL_MASK_K = 5  # guesses per [MASK] unless told


@torch.no_grad()
def fill_mask(
    model: Bert, tokenizer: Any, text: str, k: int = FILL_MASK_K
) -> list[list[dict[str, Any]]]:
    """The model's top-k guesses for each [MASK] of `text`: one list per mask, each guess
    {"token", "id", "prob"}. WordPiece models get BERT's [CLS] ... [SEP] around the text."""
    if k < 1:
        raise user_error("fill_bad_k", k=k)
    mask_id = mask_token_id(tokenizer)
    ids = encode_with_masks(tokenizer, text)
    if hasattr(tokenizer, "cls_id"):
        ids = [tokenizer.cls_id, *ids, tokenizer.sep_id]
    where = [i for i, t in enumerate(ids) if t == mask_id]
    if not where:
        raise user_error("fill_no_mask")
    model.eval()
    device = next(model.parameters()).device
    logits = model(torch.tensor([ids], device=device))
    probs = logits[0, where].float().softmax(-1)
    top = probs.topk(min(k, probs.size(-1)), dim=-1)
    return [
        [
            {"token": tokenizer.token_str(i), "id": i, "prob": p}
            for i, p in zip(row_ids.tolist(), row_p.tolist(), strict=True)
        ]
        for row_ids, row_p in zip(top.indices, top.values, strict=True)
    ]


def load_bert(path_or_name: str | Path) -> tuple[Bert, Any]:
    """(model, tokenizer) from an attento BERT folder or a Hugging Face BERT folder
    (config.json with "model_type": "bert", its vocab.txt beside it)."""
    path = Path(path_or_name)
    if path.is_dir() and (path / "config.json").is_file():
        config = read_json(path / "config.json")
        if config.get("model_type") == "bert" and "arch" not in config:
            return Bert.from_hf(path).eval(), load_tokenizer(path)
    model, tokenizer = load_model(path_or_name)
    if not isinstance(model, Bert) or tokenizer is None:
        raise user_error("fill_not_bert", model=path_or_name)
    return model, tokenizer
