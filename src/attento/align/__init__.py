"""Fine-tuning and alignment: from a model that continues text to one that answers well.

The course's steps, one module each:
- `chat.py`: the chat template (ChatML markers as special tokens) that turns a conversation
  into token ids, with the answer tokens marked as the only targets;
- `data.py`: instruction data (Alpaca, chat messages) and preference data (prompt/chosen/
  rejected, Anthropic hh-rlhf dialogues) as people bring them;
- `sft.py`: supervised fine-tuning (instruction tuning) through the shared training loop;
- `lora.py`: LoRA adapters, low-rank updates of the attention and feed-forward matrices;
- `reward.py`: the reward model, trained on ranked pairs with the Bradley–Terry loss (shared loop);
- `runs.py`: how the reward model, DPO and PPO run in the shared training loop (config, folder);
- `rollout.py`: sampling answers from a policy and measuring reward and KL;
- `ppo.py`: RLHF with PPO (KL penalty, GAE, clipped policy and value losses; shared loop);
- `dpo.py`: direct preference optimisation, no reward model needed (shared loop);
- `losses.py`: the formulas of all of the above, on plain tensors;
- `talk.py`: streaming replies and a terminal chat;
- `rankings.py`: people rank K answers; each ranking gives K(K-1)/2 preference pairs;
- `refusal.py`: teaching a model to refuse harmful requests, measured on held-out prompts;
- `demo.py`: the whole pipeline on a laptop, with rule-made data, in minutes.
"""

from attento.align.chat import ChatFormat, add_chat_tokens
from attento.align.lora import LoRAGPT, merge_lora
from attento.align.reward import RewardModel

# this stage's architectures for attento/registry.py: "arch" in config.json -> "module:Class"
ARCHS: dict[str, str] = {
    "gpt-lora": "attento.align.lora:LoRAGPT",
    "gpt-reward": "attento.align.reward:RewardModel",
    "gpt-value": "attento.align.ppo:PolicyWithValue",
    "gpt-lora-value": "attento.align.ppo:LoRAPolicyWithValue",
}

__all__ = ["ARCHS", "ChatFormat", "LoRAGPT", "RewardModel", "add_chat_tokens", "merge_lora"]
