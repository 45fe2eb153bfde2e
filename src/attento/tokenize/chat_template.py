"""A model's own chat template: the Jinja program that turns a conversation into its text.

Every chat model was fine-tuned on one format, and its folder says which: `tokenizer_config.json`
holds a `chat_template` (a Jinja string, or a list of named ones), or the folder has
`chat_template.jinja`. SmolLM2 and Qwen2 write ChatML (`<|im_start|>user\\n...<|im_end|>`),
Llama 3 `<|start_header_id|>user<|end_header_id|>\\n\\n...<|eot_id|>`, TinyLlama/Zephyr
`<|user|>\\n...</s>`. With `add_generation_prompt=True` the text ends with the header that asks
the assistant to speak, so the model's next tokens are its answer.

We render as `transformers.apply_chat_template(..., tokenize=False)` does, so the text is the same:
a sandboxed, immutable jinja2 environment (templates come from the Hub: untrusted code) with
`trim_blocks` and `lstrip_blocks`, loop controls, the `{% generation %}` tag, `raise_exception`,
`strftime_now`, a `tojson` that keeps non-ASCII text as is, and the named special tokens
(`bos_token`, `eos_token`, ...) as variables. The rendered text still has to be encoded with
its special tokens recognised: `tokenizer.encode(text, allowed_special="all")`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import regex

from attento.errors import UserError

INSTALL_HINT = "chat templates need jinja2: pip install attento[hf]"
# the named special tokens transformers passes to every template (special_tokens_map)
TOKEN_NAMES = (
    "bos_token",
    "eos_token",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
)


@dataclass(frozen=True)
class ChatTemplate:
    """One model's template(s) and the special-token variables they may use."""

    source: str | dict[str, str]
    variables: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_tokenizer_config(cls, config: Mapping[str, Any]) -> ChatTemplate | None:
        """The template of a `tokenizer_config.json` dict, or None if it has none."""
        raw = config.get("chat_template")
        if raw is None:
            return None
        if isinstance(raw, list):  # [{"name": "default", "template": "..."}, ...]
            try:
                raw = {item["name"]: item["template"] for item in raw}
            except (KeyError, TypeError):
                raise UserError(
                    "chat_template list entries need a 'name' and a 'template'"
                ) from None
        if not isinstance(raw, (str, dict)):
            raise UserError("chat_template must be a string or a list of named templates")
        variables = {}
        for name in TOKEN_NAMES:
            value = config.get(name)
            if isinstance(value, dict):
                value = value.get("content")
            if isinstance(value, str):
                variables[name] = value
        return cls(raw, variables)

    @classmethod
    def of(cls, tokenizer: Any) -> ChatTemplate | None:
        """The template of a tokenizer loaded from a Hugging Face folder, if it has one."""
        config = getattr(tokenizer, "tokenizer_config", None)
        return cls.from_tokenizer_config(config) if isinstance(config, Mapping) else None

    @property
    def names(self) -> list[str]:
        return sorted(self.source) if isinstance(self.source, dict) else ["default"]

    def template(self, name: str | None = None) -> str:
        """The template called `name` (default: "default"), as transformers picks it."""
        if isinstance(self.source, str):
            if name not in (None, "default"):
                raise UserError(f"this model has one chat template, not one named {name!r}")
            return self.source
        key = "default" if name is None else name
        if key not in self.source:
            raise UserError(
                f"no chat template named {key!r} (this model has: {', '.join(self.names)})"
            )
        return self.source[key]

    def render(
        self,
        messages: Sequence[Mapping[str, Any]],
        add_generation_prompt: bool = False,
        name: str | None = None,
        **variables: Any,
    ) -> str:
        """The conversation as the model's text; `variables` add to (or replace) the tokens'."""
        return render_chat_template(
            self.template(name),
            messages,
            add_generation_prompt=add_generation_prompt,
            **{**self.variables, **variables},
        )


def render_chat_template(
    template: str,
    messages: Sequence[Mapping[str, Any]],
    add_generation_prompt: bool = False,
    **variables: Any,
) -> str:
    """Render one Jinja chat template for `messages` (dicts with "role" and "content")."""
    jinja2 = _jinja2()
    if not isinstance(messages, (list, tuple)) or not messages:
        raise UserError("a conversation must be a non-empty list of messages")
    plain = []
    for message in messages:
        if not isinstance(message, Mapping):
            raise UserError(
                f"each message must be a dict with 'role' and 'content', got {message!r}"
            )
        # as transformers: keys whose value is None are dropped, the rest is copied as JSON data
        plain.append({k: _plain(v) for k, v in message.items() if v is not None})
    try:
        return _compiled(template).render(
            messages=plain,
            tools=None,
            documents=None,
            add_generation_prompt=add_generation_prompt,
            **{k: _plain(v) for k, v in variables.items()},
        )
    except jinja2.TemplateError as exc:
        raise UserError(f"chat template: {exc}") from None


def _plain(value: Any) -> Any:
    """A copy made only of JSON types, so the sandboxed template sees no live objects."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, Mapping):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    for plain_type in (bool, str, int, float):  # a subclass (an enum...) -> the plain type
        if isinstance(value, plain_type):
            return plain_type(value) if plain_type is not str else str.__str__(value)
    return f"<{type(value).__name__}>"


def _jinja2() -> Any:
    try:
        import jinja2
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    version = tuple(int(p) for p in regex.findall(r"\d+", jinja2.__version__)[:3])
    if version < (3, 1, 6):  # older sandboxes can be escaped, and templates are untrusted
        raise UserError(
            f"chat templates need jinja2>=3.1.6, not {jinja2.__version__}: {INSTALL_HINT}"
        )
    return jinja2


@functools.lru_cache(maxsize=16)
def _compiled(template: str) -> Any:
    jinja2 = _jinja2()
    from jinja2 import nodes
    from jinja2.ext import Extension, loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Generation(Extension):
        """`{% generation %}...{% endgeneration %}` marks the assistant's text; render it as is."""

        tags = {"generation"}  # noqa: RUF012 (jinja2's own class attribute)

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

        def _body(self, caller: Any) -> str:
            return caller()

    def raise_exception(message: str) -> None:
        raise jinja2.TemplateError(message)

    def tojson(
        x: Any,
        ensure_ascii: bool = False,
        indent: int | None = None,
        separators: Any = None,
        sort_keys: bool = False,
    ) -> str:
        # jinja2's own tojson escapes HTML characters; chat templates want the plain JSON
        return json.dumps(
            x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
        )

    def strftime_now(format: str) -> str:
        return datetime.now().strftime(format)

    class Namespace(jinja2.utils.Namespace):  # type: ignore[misc]
        """`namespace(...)` that refuses underscore names (no way to CPython's internals)."""

        def __init__(*args: Any, **kwargs: Any) -> None:
            self, rest = args[0], args[1:]
            attrs = dict(*rest, **kwargs)
            for key in attrs:
                Namespace._check(key)
            jinja2.utils.Namespace.__init__(self, attrs)

        def __setitem__(self, key: str, value: Any) -> None:
            Namespace._check(key)
            jinja2.utils.Namespace.__setitem__(self, key, value)

        @staticmethod
        def _check(key: Any) -> None:
            if isinstance(key, str) and key.startswith("_"):
                raise jinja2.exceptions.SecurityError(f"namespace attribute {key!r} not allowed")

    class PlainDict:
        """`dict(...)` and `dict.fromkeys(...)` without the type's other attributes."""

        def __call__(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
            return dict(*args, **kwargs)

        def fromkeys(self, *args: Any) -> dict[Any, Any]:
            return dict.fromkeys(*args)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[Generation, loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    env.globals["dict"] = PlainDict()
    env.globals["namespace"] = Namespace
    try:
        return env.from_string(template)
    except jinja2.TemplateError as exc:
        raise UserError(f"chat template does not parse: {exc}") from None
