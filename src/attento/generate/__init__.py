"""The final step: logits -> probabilities -> one token, repeated to write text.

- `sampling.py`: temperature, top-k, top-p, softmax, greedy pick or a seeded die roll;
- `loop.py`: the generation loop (KV cache, context window, stop rules, streaming);
- `report.py`: one step laid out in full, as the course figure shows it.
"""

from attento.generate.sampling import SamplingConfig, filter_logits, pick, probabilities

__all__ = ["SamplingConfig", "filter_logits", "pick", "probabilities"]
