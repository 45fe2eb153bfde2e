"""The teaching commands' messages in Italian and English: one catalogue, one dict per language.

Students read Italian first, so a command speaks Italian when the locale does (`LC_ALL`, then
`LC_MESSAGES`, then `LANG`, the order POSIX gives them) and English otherwise; `--lang it|en`
overrides the locale. A message is a `str.format` template; both languages have every key
(a test checks it), so a missing translation fails in the tests, not in a lesson.
"""

from __future__ import annotations

import os
from typing import Any

LANGUAGES = ("en", "it")

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "neuron.products": "1. each input times its weight (the synapse strengthens or damps "
        "the signal):",
        "neuron.sum": "2. weighted sum  Σ xᵢ·wᵢ = {terms} = {total}",
        "neuron.bias": "3. plus the bias z = {total} + {bias} = {z}",
        "neuron.step": "4. step (all or nothing): z = {z} {sign} threshold {threshold} -> "
        "{fires} ({verdict})",
        "neuron.fires": "fires",
        "neuron.silent": "stays silent",
        "neuron.smooth": "5. {activation}(z) = {output}  (graded, not all or nothing)",
        "neuron.slope": "   its slope at z is {slope}; the step's slope is 0, so only a graded "
        "activation tells training which way to move the weights",
        "numbers.bad": "{what} must be comma-separated numbers, got {piece!r}",
        "nn.bad_sizes": "--steps must be at least 1 and --points at least 2",
        "nn.header": "{activation:<12}{xor:>8}{spirals:>10}{seconds:>10}",
        "nn.activation": "activation",
        "nn.spirals": "spirals",
        "nn.seconds": "seconds",
        "nn.footer": "train accuracy; without an activation (linear) the boundary is a "
        "straight line",
        "saved": "saved {path}",
        "tokenize.summary": "{chars} characters, {tokens} tokens ({tokenizer})",
        "next.title": "prompt {prompt!r} ({tokens} tokens) -> next token, temperature {t}, "
        "top-k {top_k}, top-p {top_p}, seed {seed}",
        "next.final": "final probability",
        "next.die": "die",
        "next.summary": "{kept} of {vocab} tokens kept; the die (seed {seed}) picked "
        "{picked!r}, greedy would pick {greedy!r}",
        "next.bad_rows": "--rows must be at least 1, got {rows}",
        "generate.draft_k": "--draft-k needs --draft MODEL",
        "generate.draft_cache": "--draft checks drafted tokens against the KV cache: drop "
        "--no-cache",
        "generate.compile_draft": "--compile and --draft do not combine (the draft's checks "
        "run on the growing cache): choose one",
        "generate.compile_cache": "--compile decodes on a fixed-shape KV cache: drop --no-cache",
        "generate.compile_model": "--compile is for GPT-style models; {model} is not one",
        "generate.compile_window": "--compile does not support a sliding window ({window}) "
        "shorter than the context ({block}): generate without --compile",
        "generate.compile_long": "--compile keeps the run in one context window: prompt "
        "({prompt} tokens) + --max-new-tokens ({new}) must be at most {limit}",
        "generate.compile_time": "compile: {seconds:.1f} s (the first decode step); then "
        "{tokens} tokens at {speed:.1f} tokens/s",
        "generate.compile_few": "compile: {seconds:.1f} s (the first decode step); the speed "
        "needs at least 3 new tokens",
    },
    "it": {
        "neuron.products": "1. ogni ingresso per il suo peso (la sinapsi rafforza o smorza il "
        "segnale):",
        "neuron.sum": "2. somma pesata  Σ xᵢ·wᵢ = {terms} = {total}",
        "neuron.bias": "3. più il bias z = {total} + {bias} = {z}",
        "neuron.step": "4. gradino (tutto o niente): z = {z} {sign} soglia {threshold} -> "
        "{fires} ({verdict})",
        "neuron.fires": "si attiva",
        "neuron.silent": "resta silente",
        "neuron.smooth": "5. {activation}(z) = {output}  (graduale, non tutto o niente)",
        "neuron.slope": "   la sua pendenza in z è {slope}; quella del gradino è 0, quindi solo "
        "un'attivazione graduale dice all'addestramento in che direzione spostare i pesi",
        "numbers.bad": "{what} deve essere una lista di numeri separati da virgole, "
        "trovato {piece!r}",
        "nn.bad_sizes": "--steps deve essere almeno 1 e --points almeno 2",
        "nn.header": "{activation:<12}{xor:>8}{spirals:>10}{seconds:>10}",
        "nn.activation": "attivazione",
        "nn.spirals": "spirali",
        "nn.seconds": "secondi",
        "nn.footer": "accuratezza di addestramento; senza attivazione (lineare) il confine è "
        "una retta",
        "saved": "salvato {path}",
        "tokenize.summary": "{chars} caratteri, {tokens} token ({tokenizer})",
        "next.title": "prompt {prompt!r} ({tokens} token) -> prossimo token, temperatura {t}, "
        "top-k {top_k}, top-p {top_p}, seme {seed}",
        "next.final": "probabilità finale",
        "next.die": "dado",
        "next.summary": "{kept} token su {vocab} tenuti; il dado (seme {seed}) ha scelto "
        "{picked!r}, la scelta greedy sarebbe {greedy!r}",
        "next.bad_rows": "--rows deve essere almeno 1, trovato {rows}",
        "generate.draft_k": "--draft-k richiede --draft MODELLO",
        "generate.draft_cache": "--draft verifica i token proposti con la cache KV: togli "
        "--no-cache",
        "generate.compile_draft": "--compile e --draft non si combinano (le verifiche della "
        "bozza usano la cache che cresce): scegline uno",
        "generate.compile_cache": "--compile decodifica su una cache KV di forma fissa: togli "
        "--no-cache",
        "generate.compile_model": "--compile è per i modelli tipo GPT; {model} non lo è",
        "generate.compile_window": "--compile non supporta una finestra scorrevole ({window}) "
        "più corta del contesto ({block}): genera senza --compile",
        "generate.compile_long": "--compile tiene la generazione in una sola finestra di "
        "contesto: prompt ({prompt} token) + --max-new-tokens ({new}) al massimo {limit}",
        "generate.compile_time": "compilazione: {seconds:.1f} s (il primo passo di "
        "decodifica); poi {tokens} token a {speed:.1f} token/s",
        "generate.compile_few": "compilazione: {seconds:.1f} s (il primo passo di "
        "decodifica); per la velocità servono almeno 3 token nuovi",
    },
}


def language(explicit: str | None = None) -> str:
    """`explicit` when given (`--lang`), else `ATTENTO_LANG` when set (the tests pin English
    with it), else Italian when the locale is Italian, else English."""
    if explicit:
        return explicit
    if os.environ.get("ATTENTO_LANG") in LANGUAGES:
        return os.environ["ATTENTO_LANG"]
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:  # the first one set decides, as in POSIX
            return "it" if value.lower().startswith("it") else "en"
    return "en"


def message(key: str, lang: str, **values: Any) -> str:
    """The message `key` in `lang`, filled with `values`."""
    return MESSAGES[lang][key].format(**values)


def add_lang_flag(parser: Any) -> None:
    """`--lang it|en` on a teaching command (default: the locale's language)."""
    parser.add_argument(
        "--lang",
        choices=LANGUAGES,
        help="language of the output: it or en (default: from LC_ALL/LC_MESSAGES/LANG)",
    )
