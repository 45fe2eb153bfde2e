"""The explainer: watch one forward pass of a real model in the browser.

A person types a prompt; the server runs the model once under a `Trace`
(attento.models.trace), which records every intermediate tensor, and sends those numbers to
the page, which draws them in the order of the course's block diagram: tokenization,
embeddings + positions, each transformer block (self-attention with its causal mask, Add &
Norm, feed-forward), the stack, and the final step (logits -> softmax -> sampling). Nothing is
re-computed here: what the page draws is what the model computed.

- `tensors.py`: compact encoding of tensors for JSON (4 significant digits, base64 float32);
- `catalog.py`: which models the server may open (bundled + a models folder), loaded lazily;
- `trace_view.py`: a `Trace` of one prompt -> the JSON the page draws;
- `step_view.py`: one sampling step with attento.generate, and the KV cache it used;
- `server.py`: the FastAPI app (JSON endpoints + the static page in `web/`).
"""
