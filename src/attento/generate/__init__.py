"""The final step: logits -> probabilities -> one token, repeated to write text.

- `sampling.py`: temperature, top-k, top-p, softmax, greedy pick or a seeded die roll;
- `loop.py`: the generation loop (KV cache, context window, stop rules, streaming);
- `report.py`: one step laid out in full, as the course figure shows it;
- `fill_mask.py`: the encoder's final step, each [MASK]'s top guesses.
"""

from attento.generate.loop import Decoder, encode_prompt, generate, generate_text, stream
from attento.generate.report import Candidate, NextTokenReport, next_token_report
from attento.generate.sampling import SamplingConfig, filter_logits, pick, probabilities

__all__ = [
    "Candidate",
    "Decoder",
    "NextTokenReport",
    "SamplingConfig",
    "encode_prompt",
    "filter_logits",
    "generate",
    "generate_text",
    "next_token_report",
    "pick",
    "probabilities",
    "stream",
]
