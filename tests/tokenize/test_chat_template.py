"""Chat templates rendered by attento equal transformers' `apply_chat_template(tokenize=False)`.

The template strings are the models' public definitions (tokenizer_config.json of SmolLM2-Instruct,
Qwen2.5-Instruct, Llama-3-Instruct, Llama-3.2-Instruct, TinyLlama-Chat/Zephyr, Gemma 2).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from attento.errors import UserError
from attento.tokenize import CharTokenizer, load_tokenizer
from attento.tokenize.bpe import ENDOFTEXT, IM_END, IM_START, train_bpe
from attento.tokenize.chat_template import ChatTemplate, render_chat_template
from attento.tokenize.hf_json import to_hf_json

pytest.importorskip("jinja2")
transformers = pytest.importorskip("transformers")
tk = pytest.importorskip("tokenizers")

SMOLLM2 = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
QWEN25 = r"""{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{{\"name\": <function-name>, \"arguments\": <args-json-object>}}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
"""
LLAMA3 = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
LLAMA32 = r"""{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "26 Jul 2024" %}
    {%- endif %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message #}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{%- if tools is not none %}
    {{- "Environment: ipython\n" }}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\n\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\n\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
        {{- '{"name": "' + tool_call.name + '", ' }}
        {{- '"parameters": ' }}
        {{- tool_call.arguments | tojson }}
        {{- "}" }}
        {{- "<|eot_id|>" }}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\n\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}
"""
ZEPHYR = "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}"
GEMMA2 = "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"
# exercises the helpers transformers adds: namespace, dict, tojson (non-ASCII kept), generation
HELPERS = """{%- set ns = namespace(count=0) -%}
{%- for m in messages -%}
  {%- set ns.count = ns.count + 1 -%}
  {%- if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}
  {%- else %}{{ dict(role=m.role, n=ns.count) | tojson }} {{ m | tojson(indent=2) }}{% endif %}
{%- endfor %}{{ ns.count }}{% if add_generation_prompt %}>{% endif %}"""

TEMPLATES = {
    "smollm2": SMOLLM2,
    "qwen25": QWEN25,
    "llama3": LLAMA3,
    "llama32": LLAMA32,
    "zephyr": ZEPHYR,
    "helpers": HELPERS,
}
SPECIALS = {
    "smollm2": ("<|im_start|>", "<|im_end|>"),
    "qwen25": ("<|endoftext|>", "<|im_end|>"),
    "llama3": ("<|begin_of_text|>", "<|eot_id|>"),
    "llama32": ("<|begin_of_text|>", "<|eot_id|>"),
    "zephyr": ("<s>", "</s>"),
    "helpers": ("<s>", "</s>"),
}
CONVERSATIONS = [
    [{"role": "user", "content": "Il gatto è"}],
    [
        {"role": "system", "content": "Sei un assistente gentile."},
        {"role": "user", "content": "Ciao! Quanto fa 2+3?"},
        {"role": "assistant", "content": "5"},
        {"role": "user", "content": '  E "3*4"? 👍🏽 <b>&</b>\n\n'},
    ],
    [
        {"role": "user", "content": "Nel mezzo del cammin"},
        {"role": "assistant", "content": "di nostra vita", "name": None},
    ],
]
ALL_SPECIALS = sorted({s for pair in SPECIALS.values() for s in pair} | {"<|start_header_id|>"})


def make_folder(folder: Path, name: str, config_extra: dict | None = None) -> Path:
    """A Hugging Face tokenizer folder: a tiny BPE (tokenizers) + tokenizer_config.json."""
    folder.mkdir(parents=True, exist_ok=True)
    tok = tk.Tokenizer(tk.models.BPE())
    tok.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tk.decoders.ByteLevel()
    specials = [*ALL_SPECIALS, "<|end_header_id|>", "<|user|>", "<|assistant|>", "<|system|>"]
    trainer = tk.trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=specials,
        initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(["Ciao, come stai? Il gatto è nero. " * 20], trainer)
    tok.save(str(folder / "tokenizer.json"))
    bos, eos = SPECIALS[name]
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": bos,
        "eos_token": {"__type": "AddedToken", "content": eos, "special": True},
        "chat_template": TEMPLATES[name],
        **(config_extra or {}),
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


def both(folder: Path):
    return (
        transformers.AutoTokenizer.from_pretrained(str(folder)),
        ChatTemplate.of(load_tokenizer(folder)),
        load_tokenizer(folder),
    )


@pytest.mark.parametrize("name", sorted(TEMPLATES))
@pytest.mark.parametrize("conversation", range(len(CONVERSATIONS)))
@pytest.mark.parametrize("add_generation_prompt", [False, True])
def test_render_equals_apply_chat_template(tmp_path, name, conversation, add_generation_prompt):
    ref, ours, tok = both(make_folder(tmp_path, name))
    messages = CONVERSATIONS[conversation]
    expected = ref.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt
    )
    text = ours.render(messages, add_generation_prompt=add_generation_prompt)
    assert text == expected
    # and the ids: transformers encodes the rendered text with its special tokens recognised
    ids = ref.apply_chat_template(
        messages, add_generation_prompt=add_generation_prompt, return_dict=False
    )
    assert tok.encode(text, allowed_special="all") == ids


def test_named_templates_and_jinja_files(tmp_path):
    named = [
        {"name": "default", "template": SMOLLM2},
        {"name": "tool_use", "template": LLAMA3},
    ]
    folder = make_folder(tmp_path / "named", "smollm2", {"chat_template": named})
    ref, ours, _ = both(folder)
    assert ours.names == ["default", "tool_use"]
    for template in (None, "tool_use"):
        expected = ref.apply_chat_template(CONVERSATIONS[1], tokenize=False, chat_template=template)
        assert ours.render(CONVERSATIONS[1], name=template) == expected
    with pytest.raises(UserError, match="tool_use"):
        ours.render(CONVERSATIONS[0], name="nope")

    # transformers 5 writes chat_template.jinja; it wins over the config's template
    folder = make_folder(tmp_path / "jinja", "zephyr")
    (folder / "chat_template.jinja").write_text(LLAMA3)
    ref, ours, _ = both(folder)
    expected = ref.apply_chat_template(CONVERSATIONS[1], tokenize=False, add_generation_prompt=True)
    assert ours.render(CONVERSATIONS[1], add_generation_prompt=True) == expected
    assert "<|start_header_id|>" in expected


def test_raise_exception_becomes_one_line(tmp_path):
    folder = make_folder(tmp_path, "helpers", {"chat_template": GEMMA2})
    ref, ours, _ = both(folder)
    messages = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    assert ours.render(messages, True) == ref.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True
    )
    bad = [{"role": "system", "content": "x"}, *messages]
    with pytest.raises(Exception, match="System role not supported"):
        ref.apply_chat_template(bad, tokenize=False)
    with pytest.raises(UserError, match="System role not supported") as info:
        ours.render(bad)
    assert "\n" not in str(info.value)


def test_template_variables_can_be_overridden():
    text = render_chat_template(
        LLAMA32, CONVERSATIONS[0], add_generation_prompt=True, date_string="26 Jul 2024"
    )
    assert "Today Date: 26 Jul 2024" in text
    assert text.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")


def test_sandbox_refuses_python_internals():
    with pytest.raises(UserError):
        render_chat_template("{{ messages.__class__.__mro__ }}", CONVERSATIONS[0])
    with pytest.raises(UserError):
        render_chat_template("{% set ns = namespace(_x=1) %}", CONVERSATIONS[0])


def test_bad_conversations_and_templates_get_one_line():
    for messages in ([], "hello", [["user", "hi"]]):
        with pytest.raises(UserError):
            render_chat_template(SMOLLM2, messages)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="parse"):
        render_chat_template("{% for %}", CONVERSATIONS[0])
    assert ChatTemplate.from_tokenizer_config({}) is None


def test_missing_jinja2_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "jinja2", None)
    with pytest.raises(UserError, match=r"pip install attento\[hf\]"):
        render_chat_template(SMOLLM2, CONVERSATIONS[0])


# ------------------------------------------- attento's own chat format, exported


def test_exported_chat_template_equals_attento_chat_format(tmp_path):
    """An attento chat model exported with to_hf_json: transformers renders and encodes the
    conversation to the ids attento's ChatFormat trains and prompts with."""
    from attento.align.chat import CHAR_IM_END, CHAR_IM_START, ChatFormat

    text = (
        "Nel mezzo del cammin di nostra vita mi ritrovai per una selva oscura, ché la diritta "
        "via era smarrita. Ahi quanto a dir qual era è cosa dura esta selva selvaggia e aspra "
        "e forte che nel pensier rinova la paura! Tant' è amara che poco è più morte. "
    ) * 20
    bpe = train_bpe(text, 330, special_tokens=[ENDOFTEXT, IM_START, IM_END])
    messages = [
        {"role": "system", "content": "Sei Dante."},
        {"role": "user", "content": "Nel mezzo?"},
        {"role": "assistant", "content": "del cammin"},
        {"role": "user", "content": "di nostra vita"},
    ]
    spoken = "".join(m["role"] + m["content"] for m in messages) + "assistant\n"
    char = CharTokenizer.from_text(text + spoken + CHAR_IM_START + CHAR_IM_END)
    for i, tok in enumerate((bpe, char)):
        folder = to_hf_json(tok, tmp_path / str(i))
        ref = transformers.AutoTokenizer.from_pretrained(str(folder))
        chat = ChatFormat.of(tok)
        expected = chat.encode_prompt(messages)
        ids = ref.apply_chat_template(messages, add_generation_prompt=True, return_dict=False)
        assert ids == expected
        assert ChatTemplate.of(load_tokenizer(folder)).render(
            messages, add_generation_prompt=True
        ) == ref.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
