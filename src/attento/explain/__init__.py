"""The explainer: watch one forward pass of a real model in the browser.

A person types a prompt; the server runs the model once under a `Trace`
(attento.models.trace), which records every intermediate tensor, and sends those numbers to
the page, which draws them in the order of the course's block diagram: tokenization,
embeddings + positions, each transformer block (self-attention with its causal mask, Add &
Norm, feed-forward), the stack, and the final step (logits -> softmax -> sampling). Nothing is
re-computed here: what the page draws is what the model computed.

- `tensors.py`: compact encoding of tensors for JSON (base64 float32, float16 or u8 heat maps);
- `catalog.py`: which models the server may open (bundled + a models folder), loaded lazily;
- `traces.py`: recorded forward passes of recent prompts, kept within a byte budget;
- `trace_view.py`: a `Trace` of one prompt -> the JSON the page draws, in parts (the overview
  first, then each block, a token's stack, an exact value, as the page asks);
- `step_view.py`: one sampling step with attento.generate, and the KV cache it used;
- `server.py`: the FastAPI app (JSON endpoints + the static page in `web/`);
- `settings.py`: where and how `attento explain` serves (host, port, threads);
- `labs.py`: the labs' endpoints (embeddings, ranking answers for RLHF, the refusal demo),
  mounted on that app, for the page `web/labs.html`.
"""
