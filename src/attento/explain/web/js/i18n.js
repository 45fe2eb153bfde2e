// Italian and English texts of the page. Italian is the default for the dante model (trained
// on the Divina Commedia) and whenever the browser's language is Italian; the toggle in the
// top bar wins over both and is remembered in localStorage. The texts the CLI says too live in
// attento/messages.py, from which strings-shared.js is generated; they join STRINGS below.
import { escapeHtml } from "./draw.js";
import { SHARED } from "./strings-shared.js";

export const STRINGS = {
  it: {
    "app.title": "Dentro un modello generativo, passo per passo",
    "app.intro":
      "Scrivi un prompt: il modello lo elabora e qui vedi <b>ogni numero che calcola davvero</b>, dall'ingresso all'uscita, nell'ordine del diagramma a blocchi del corso. È un modello <b>solo decoder</b> (come GPT): ogni token guarda solo sé stesso e i token precedenti, perché la self-attention usa un <b>mascheramento causale</b>.",
    "prompt.label": "Prompt",
    "prompt.run": "Calcola",
    "prompt.hint": "Invio per calcolare; passa il mouse su qualunque cella per leggerne il valore.",
    "prompt.hint.touch": "Invio per calcolare; tocca una cella qualunque per leggerne il valore.",
    "model.label": "Modello",
    "facts.layers": "blocchi",
    "facts.heads": "teste",
    "facts.kv_heads": "teste key/value",
    "facts.width": "dimensione",
    "facts.params": "parametri",
    "facts.vocab": "vocabolario",
    "facts.context": "contesto",
    "facts.decoder": "solo decoder · maschera causale",
    "tour.start": "Visita guidata",
    "tour.next": "Avanti",
    "tour.prev": "Indietro",
    "tour.end": "Fine",
    lang: "English",
    "lang.title": "Switch to English",
    "nav.history": "Come impara",

    "flow.embed": "Embedding + posizione",
    "flow.blocks": "Blocchi × N (self-attention, FFN)",
    "flow.stack": "La pila",
    "flow.final": "Logit → softmax",
    "flow.gen": "Campionamento ↺",
    "tokens.title": "Tokenizzazione",
    "tokens.explain":
      "Il testo viene diviso in <b>token</b> e ogni token diventa un numero (il suo ID nel vocabolario). Il modello non vede lettere né parole: vede solo questa sequenza di ID.",

    "embed.title": "Embedding e positional encoding",
    "embed.explain":
      "Ogni ID sceglie una riga della tabella degli <b>embedding</b>: un vettore di {c} numeri. Il Transformer elabora tutti i token insieme e non conosce il loro ordine, quindi a ogni vettore si somma un vettore di <b>positional encoding</b> che dice in che posizione si trova. Righe = token, colonne = dimensioni.",
    "embed.tok": "Embedding dei token",
    "embed.pos": "Positional encoding",
    "embed.sum": "Somma: ingresso del primo blocco",
    "embed.scaled":
      "Le righe sono moltiplicate per √d = {s}, come nell'articolo del Transformer: la tabella parte con valori piccoli (0,02), le sinusoidi arrivano a 1, e senza questo fattore la posizione coprirebbe il token.",
    "embed.rope":
      "Questo modello usa RoPE: la posizione non si somma qui, ma ruota query e key dentro l'attenzione.",

    "blocks.title": "I blocchi Transformer",
    "blocks.explain":
      "Ogni blocco ha la stessa struttura ma pesi propri: <b>multi-head self-attention</b> (con maschera causale), <b>Add & Norm</b>, <b>rete feed-forward</b>, <b>Add & Norm</b>. Apri un blocco per vedere ogni passaggio. Come GPT-2, questo modello normalizza <i>prima</i> di ogni sotto-strato (pre-norm) e poi somma il risultato al flusso residuo: gli stessi due pezzi del diagramma, in un ordine leggermente diverso.",
    "block.summary": "self-attention ({h} teste) → Add & Norm → feed-forward → Add & Norm",
    "block.head": "Testa",
    "block.loading": "Carico i numeri di questo blocco…",
    "block.kv": "KV {g}",
    "block.kv.title": "Le teste query {a}–{b} leggono la stessa testa key/value {g}",
    "block.gqa":
      "Attenzione a <b>query raggruppate</b> (GQA): {h} teste query ma solo {kv} teste key/value; ogni gruppo di {n} teste query legge le stesse K e V (riquadri tratteggiati). La KV cache ne conserva solo {kv}.",
    "block.kvhead": "testa K/V {g}, condivisa dalle query {a}–{b}",
    "block.ln1": "Norm: ingresso normalizzato dell'attenzione",
    "block.qkv":
      "Ogni token, attraverso tre strati lineari, produce una <b>Query</b> (cosa cerco), una <b>Key</b> (cosa offro) e un <b>Value</b> (cosa passo). Ogni testa ne ha una propria versione di {d} dimensioni.",
    "block.q": "Q (query)",
    "block.k": "K (key)",
    "block.v": "V (value)",
    "block.attn":
      "L'attenzione in tre tappe: <b>Q·Kᵀ</b> misura quanto ogni query (riga) corrisponde a ogni key (colonna); poi si divide per √{d} e si applica il <b>mascheramento causale</b> (celle barrate: il futuro, −∞); infine la <b>softmax</b> trasforma ogni riga in pesi che sommano a 1.",
    "block.scores": "Q·Kᵀ",
    "block.scaled": "÷ √{d} + maschera causale",
    "block.weights": "softmax: pesi di attenzione",
    "block.omitted": "omesso per prompt lunghi",
    "block.hover":
      "Passa il mouse (o usa Tab) su un token: vedi quanto la testa lo fa guardare a ciascun token precedente.",
    "block.hover.touch": "Tocca un token: vedi quanto la testa lo fa guardare a ciascun token precedente.",
    "block.attends": "«{t}» guarda:",
    "block.future": "futuro (mascherato)",
    "block.heads":
      "Le uscite delle teste (pesi × V) vengono affiancate (<b>concatenate</b>) e mescolate dalla matrice <b>W_O</b>.",
    "block.concat": "Teste concatenate",
    "block.wo": "Dopo W_O",
    "block.add1": "Add & Norm: il risultato si <b>somma</b> al flusso residuo (connessione residua) e viene <b>normalizzato</b> per la rete feed-forward.",
    "block.resid_mid": "Flusso residuo: x + attenzione",
    "block.ln2": "Norm: ingresso della feed-forward",
    "block.ffn":
      "La <b>rete feed-forward</b> lavora su ogni token separatamente: espande il vettore da {c} a {f} dimensioni, applica la funzione di attivazione non lineare ({act}) e lo ricomprime a {c}.",
    "block.hidden": "Espansione ({f} dim.), prima dell'attivazione",
    "block.act": "Dopo l'attivazione",
    "block.hist_hidden": "Istogramma prima dell'attivazione",
    "block.hist_act": "Istogramma dopo l'attivazione",
    "block.positive": "{p} dei valori sono > 0 dopo l'attivazione",
    "block.mlp_out": "Compressione ({c} dim.)",
    "block.add2": "Add: il risultato si somma di nuovo al flusso residuo ed esce dal blocco.",
    "block.out": "Uscita del blocco",

    "stack.title": "La pila: come cambia un token da blocco a blocco",
    "stack.explain":
      "Ogni blocco lavora sull'uscita del precedente e aggiunge qualcosa al vettore di ogni token (il <b>flusso residuo</b>). Scegli un token: ogni riga è il suo vettore dopo un sotto-strato, con la norma (lunghezza) e la similarità coseno con la riga precedente (1 = stessa direzione).",
    "stack.token": "Token",
    "stack.stage": "Tappa",
    "stack.vector": "Vettore",
    "stack.norm": "Norma",
    "stack.cos": "Coseno",
    "stack.attn": "blocco {i} · dopo l'attenzione",
    "stack.ffn": "blocco {i} · dopo la feed-forward",

    "final.title": "Il passo finale: dai logit alla scelta",
    "final.explain":
      "Lo <b>stato nascosto</b> dell'ultimo token (dopo l'ultima normalizzazione) viene proiettato sul vocabolario da uno strato lineare: un punteggio (<b>logit</b>) per ciascuno dei {v} token. La <b>softmax</b> li trasforma in probabilità. La <b>temperatura</b> divide i logit (&lt; 1 più netta, &gt; 1 più casuale), il <b>top-k</b> tiene i k token più probabili, il <b>top-p</b> il più piccolo gruppo la cui probabilità cumulativa raggiunge p. I token esclusi sono in grigio.",
    "final.hidden": "Stato nascosto dell'ultimo token ({c} dim.)",
    "final.projection": "× matrice del vocabolario ({v} × {c}) → {v} logit",
    "final.topk": "Top-k",
    "final.topp": "Top-p",
    "final.off": "spento",
    "final.greedy": "Greedy (sempre il più probabile)",
    "final.more": "Mostra 50",
    "final.less": "Mostra 15",
    "final.rest": "altri {n} token",
    "final.kept": "{n} token in gara",
    "final.cumulative": "linea: probabilità cumulativa",
    "final.softmax": "softmax per «{t}» = exp({z}) / Σ exp(logit/T), somma sui {n} token in gara = {num} / {den} = {p}",
    "final.softmax.shifted":
      "softmax per «{t}» = exp({z} − {m}) / Σ exp(logit/T − {m}), somma sui {n} token in gara = {num} / {den} = {p} (sottrarre il massimo {m} evita l'overflow e non cambia il risultato)",
    "final.logit": "logit",
    "final.prob": "probabilità (0–100%)",
    "final.search": "Cerca un token",
    "final.search.go": "Cerca",
    "final.search.placeholder": "es. gatto",
    "final.search.none": "Nessun token del vocabolario contiene «{q}».",
    "final.search.count": "{n} token contengono «{q}»; eccone alcuni:",
    "final.search.encoded": "«{q}» diventa:",
    "final.rank": "posizione",

    "gen.title": "Genera: il lancio del dado",
    "gen.explain":
      "Il modello non sceglie sempre il token più probabile: <b>campiona</b>, lanciando un dado truccato in cui ogni faccia è un token con la sua probabilità. Il token estratto si aggiunge alla sequenza e tutto si ricalcola (<b>autoregressione</b>). Con un <b>seed</b> i lanci sono riproducibili: gli stessi di <code>attento generate --seed</code>.",
    "gen.roll": "⚄ Lancia il dado",
    "gen.pick": "Scegli il più probabile",
    "gen.back": "↶ Passo indietro",
    "gen.seed": "Seed",
    "gen.seed.placeholder": "casuale",
    "gen.run": "Genera {n} token",
    "gen.count": "Quanti",
    "gen.stop": "Ferma",
    "gen.picked": "Estratto «{t}» (probabilità {p})",
    "gen.restart": "Nuova serie di lanci da qui (impostazioni cambiate).",
    "gen.full": "Il contesto è pieno: questo modello legge al massimo {n} token.",

    "cache.title": "La KV cache",
    "cache.explain":
      "Generando, i token precedenti non cambiano: le loro <b>key</b> e <b>value</b> sono già state calcolate e restano nella <b>KV cache</b>. A ogni passo solo il token nuovo calcola la propria q, k, v; le righe grigie vengono rilette dalla cache, la riga arancione è nuova. La query del nuovo token si confronta con tutte le key.",
    "cache.empty": "Lancia il dado per vedere la cache al lavoro.",
    "cache.stats":
      "{cached} righe rilette dalla cache, {new} calcolata ora. Differenza massima dei logit rispetto al ricalcolo completo: {diff}.",
    "cache.layer": "Blocco",
    "cache.q": "q del nuovo token",
    "cache.k": "K: cache + nuova riga",
    "cache.v": "V: cache + nuova riga",
    "cache.w": "Pesi di attenzione del nuovo token",
    "cache.mem.title": "Quanta memoria occupa la cache",
    "cache.mem.formula":
      "Per ogni token, ogni blocco tiene una key e una value per ciascuna testa K/V: 2 × {layers} blocchi × {kv} teste K/V × {dim} numeri × {bytes} byte = <b>{per}</b>.",
    "cache.mem.per_token": "per token",
    "cache.mem.tokens": "questi {n} token",
    "cache.mem.full": "contesto pieno ({n} token)",
    "cache.mem.model": "questo modello ({kind})",
    "cache.mem.mha": "con MHA (una testa K/V per testa di query)",
    "cache.mem.saving":
      "Grouped-query attention: le {h} teste di query condividono {kv} teste K/V, quindi la cache è <b>{x}×</b> più piccola che con la multi-head attention (MHA); i pesi cambiano poco (solo K e V si restringono).",
    "cache.mem.mha_only":
      "Multi-head attention (MHA): ognuna delle {h} teste di query ha la sua testa K/V. Con la grouped-query attention (una testa K/V per gruppo di teste di query) o la multi-query attention (una sola per tutte) la cache diventerebbe fino a {h}× più piccola.",
    "cache.mem.window":
      "Finestra scorrevole di {w} token in {layers} blocchi su {n}: un blocco così tiene al più {w} posizioni, quindi a contesto pieno la cache smette di crescere.",

    "tour.0": "Qui scrivi il prompt e scegli il modello. Tutto quello che vedi sotto è calcolato dal modello su questo testo.",
    "tour.1": "1. Tokenizzazione: il testo diventa una sequenza di ID.",
    "tour.2": "2. Embedding: ogni ID diventa un vettore, a cui si somma la posizione.",
    "tour.3": "3. I blocchi: apri un blocco e passa il mouse sui token per vedere dove guarda l'attenzione. Le celle barrate sono il futuro, nascosto dalla maschera causale.",
    "tour.3.touch": "3. I blocchi: apri un blocco e tocca i token per vedere dove guarda l'attenzione. Le celle barrate sono il futuro, nascosto dalla maschera causale.",
    "tour.4": "4. La pila: segui un token attraverso i blocchi.",
    "tour.5": "5. Il passo finale: muovi temperatura, top-k e top-p e guarda cambiare le probabilità.",
    "tour.6": "6. Lancia il dado: il token estratto si aggiunge e il modello ricalcola.",
    "tour.7": "7. La KV cache: solo il nuovo token calcola q, k, v; il resto viene riusato.",
    "gen.faces": "Le facce del dado:",
    "gen.other": "altri",

    "error.server": "Errore del server: riprova, o guarda il terminale in cui gira attento explain.",
    "error.generic": "Il server ha rifiutato la richiesta (HTTP {status}).",
    "error.network": "Il server non risponde: attento explain è ancora in esecuzione?",
    "error.unexpected": "Qualcosa è andato storto nella pagina: ricaricala.",
    "error.stale": "Numeri del prompt precedente: correggi il prompt e premi Calcola.",
    "error.invalid_request": "Richiesta non valida: il valore di «{field}» non è accettabile.",
    "error.prompt_too_long": "Il prompt è troppo lungo: al massimo {max} caratteri.",
    "error.unknown_model": "Modello sconosciuto (disponibili: {available}).",
    "error.token_out_of_vocab": "Il token {id} non è nel vocabolario di questo modello ({vocab} token).",
    "error.context_full": "Il contesto è pieno: {tokens} token, e questo modello ne legge al massimo {context}. Accorcia il prompt.",
    "error.body_too_large": "La richiesta è troppo grande: al massimo {max} byte.",
    "error.bad_host": "Il server risponde solo agli indirizzi per cui è stato avviato (intestazione Host non ammessa).",
    "error.too_many_tokens": "Troppi token in una richiesta: al massimo {max}.",
    "error.not_found": "Questo indirizzo non esiste sul server.",
    "error.method_not_allowed": "Il server non accetta questa richiesta a questo indirizzo.",
    "error.bad_block": "Questo modello non ha il blocco {block} (ne ha {blocks}).",
    "error.bad_position": "La posizione {pos} è fuori dal prompt ({tokens} token).",
    "error.bad_cell": "Il server non trova questo numero nella traccia del modello.",
    "error.encoder_model": "Questo è un encoder (BERT): non prevede la parola successiva. Aprilo nella pagina GPT · BERT.",
    "error.no_history": "Questo modello non ha istantanee dell'addestramento (attento train --keep-checkpoints).",
    "error.bad_step": "Non c'è un'istantanea a questo passo.",
    "error.seq2seq_model": "Questo è un encoder–decoder: aprilo nella pagina Encoder–decoder.",
    "error.not_seq2seq": "Questo modello non è un encoder–decoder.",
    "error.bad_source": "L'ingresso contiene <pad>: dai solo i token veri.",
    "error.bad_target": "L'uscita contiene un token che il decoder non scrive lì (<pad>, <bos>, o <eos> prima della fine).",
    "error.seq2seq_done": "La risposta è già scritta: finisce con <eos> o riempie il contesto.",
  },
  en: {
    "app.title": "Inside a generative model, step by step",
    "app.intro":
      "Type a prompt: the model processes it and here you see <b>every number it really computes</b>, from input to output, in the order of the course's block diagram. It is a <b>decoder-only</b> model (like GPT): each token looks only at itself and the tokens before it, because self-attention uses a <b>causal mask</b>.",
    "prompt.label": "Prompt",
    "prompt.run": "Compute",
    "prompt.hint": "Enter to compute; hover any cell to read its value.",
    "prompt.hint.touch": "Enter to compute; tap any cell to read its value.",
    "model.label": "Model",
    "facts.layers": "blocks",
    "facts.heads": "heads",
    "facts.kv_heads": "key/value heads",
    "facts.width": "width",
    "facts.params": "parameters",
    "facts.vocab": "vocabulary",
    "facts.context": "context",
    "facts.decoder": "decoder-only · causal mask",
    "tour.start": "Guided tour",
    "tour.next": "Next",
    "tour.prev": "Back",
    "tour.end": "Done",
    lang: "Italiano",
    "lang.title": "Passa all'italiano",
    "nav.history": "Watch it learn",

    "flow.embed": "Embeddings + position",
    "flow.blocks": "Blocks × N (self-attention, FFN)",
    "flow.stack": "The stack",
    "flow.final": "Logits → softmax",
    "flow.gen": "Sampling ↺",
    "tokens.title": "Tokenization",
    "tokens.explain":
      "The text is split into <b>tokens</b> and each token becomes a number (its ID in the vocabulary). The model sees no letters or words: only this sequence of IDs.",

    "embed.title": "Embeddings and positional encoding",
    "embed.explain":
      "Each ID picks one row of the <b>embedding</b> table: a vector of {c} numbers. The Transformer processes all tokens at once and does not know their order, so a <b>positional encoding</b> vector, saying where the token stands, is added to each one. Rows = tokens, columns = dimensions.",
    "embed.tok": "Token embeddings",
    "embed.pos": "Positional encoding",
    "embed.sum": "Sum: input of the first block",
    "embed.scaled":
      "The rows are multiplied by √d = {s}, as in the Transformer paper: the table starts with small values (0.02) while the sinusoids reach 1, and without this factor the position would drown out the token.",
    "embed.rope":
      "This model uses RoPE: position is not added here, it rotates queries and keys inside attention.",

    "blocks.title": "The Transformer blocks",
    "blocks.explain":
      "Every block has the same structure but its own weights: <b>multi-head self-attention</b> (with the causal mask), <b>Add & Norm</b>, <b>feed-forward network</b>, <b>Add & Norm</b>. Open a block to see every step. Like GPT-2, this model normalises <i>before</i> each sub-layer (pre-norm) and adds the result to the residual stream: the same two pieces as in the diagram, in a slightly different order.",
    "block.summary": "self-attention ({h} heads) → Add & Norm → feed-forward → Add & Norm",
    "block.head": "Head",
    "block.loading": "Loading this block's numbers…",
    "block.kv": "KV {g}",
    "block.kv.title": "Query heads {a}–{b} read the same key/value head {g}",
    "block.gqa":
      "<b>Grouped-query attention</b> (GQA): {h} query heads but only {kv} key/value heads; each group of {n} query heads reads the same K and V (dashed boxes). The KV cache keeps only {kv}.",
    "block.kvhead": "K/V head {g}, shared by queries {a}–{b}",
    "block.ln1": "Norm: normalised input of attention",
    "block.qkv":
      "Through three linear layers every token produces a <b>Query</b> (what I look for), a <b>Key</b> (what I offer) and a <b>Value</b> (what I pass on). Each head has its own {d}-dimensional version.",
    "block.q": "Q (query)",
    "block.k": "K (key)",
    "block.v": "V (value)",
    "block.attn":
      "Attention in three stages: <b>Q·Kᵀ</b> scores how well each query (row) matches each key (column); then it is divided by √{d} and the <b>causal mask</b> is applied (hatched cells: the future, −∞); finally the <b>softmax</b> turns each row into weights that sum to 1.",
    "block.scores": "Q·Kᵀ",
    "block.scaled": "÷ √{d} + causal mask",
    "block.weights": "softmax: attention weights",
    "block.omitted": "omitted for long prompts",
    "block.hover": "Hover (or Tab to) a token: see how much this head makes it look at each earlier token.",
    "block.hover.touch": "Tap a token: see how much this head makes it look at each earlier token.",
    "block.attends": "“{t}” looks at:",
    "block.future": "future (masked)",
    "block.heads": "The heads' outputs (weights × V) are put side by side (<b>concatenated</b>) and mixed by the <b>W_O</b> matrix.",
    "block.concat": "Concatenated heads",
    "block.wo": "After W_O",
    "block.add1": "Add & Norm: the result is <b>added</b> to the residual stream (residual connection) and <b>normalised</b> for the feed-forward network.",
    "block.resid_mid": "Residual stream: x + attention",
    "block.ln2": "Norm: input of the feed-forward network",
    "block.ffn":
      "The <b>feed-forward network</b> works on each token separately: it expands the vector from {c} to {f} dimensions, applies the non-linear activation function ({act}) and compresses it back to {c}.",
    "block.hidden": "Expansion ({f} dims), before the activation",
    "block.act": "After the activation",
    "block.hist_hidden": "Histogram before the activation",
    "block.hist_act": "Histogram after the activation",
    "block.positive": "{p} of the values are > 0 after the activation",
    "block.mlp_out": "Compression ({c} dims)",
    "block.add2": "Add: the result is added to the residual stream again and leaves the block.",
    "block.out": "Block output",

    "stack.title": "The stack: how one token changes from block to block",
    "stack.explain":
      "Each block works on the previous block's output and adds something to every token's vector (the <b>residual stream</b>). Pick a token: each row is its vector after one sub-layer, with its norm (length) and the cosine similarity to the row before (1 = same direction).",
    "stack.token": "Token",
    "stack.stage": "Stage",
    "stack.vector": "Vector",
    "stack.norm": "Norm",
    "stack.cos": "Cosine",
    "stack.attn": "block {i} · after attention",
    "stack.ffn": "block {i} · after feed-forward",

    "final.title": "The final step: from logits to a choice",
    "final.explain":
      "The last token's <b>hidden state</b> (after the final normalisation) is projected onto the vocabulary by a linear layer: one score (<b>logit</b>) for each of the {v} tokens. The <b>softmax</b> turns them into probabilities. <b>Temperature</b> divides the logits (&lt; 1 sharper, &gt; 1 more random), <b>top-k</b> keeps the k most likely tokens, <b>top-p</b> the smallest set whose cumulative probability reaches p. Excluded tokens are greyed out.",
    "final.hidden": "Hidden state of the last token ({c} dims)",
    "final.projection": "× vocabulary matrix ({v} × {c}) → {v} logits",
    "final.topk": "Top-k",
    "final.topp": "Top-p",
    "final.off": "off",
    "final.greedy": "Greedy (always the most likely)",
    "final.more": "Show 50",
    "final.less": "Show 15",
    "final.rest": "{n} other tokens",
    "final.kept": "{n} tokens in the draw",
    "final.cumulative": "line: cumulative probability",
    "final.softmax": "softmax for “{t}” = exp({z}) / Σ exp(logit/T), summed over the {n} tokens in the draw = {num} / {den} = {p}",
    "final.softmax.shifted":
      "softmax for “{t}” = exp({z} − {m}) / Σ exp(logit/T − {m}), summed over the {n} tokens in the draw = {num} / {den} = {p} (subtracting the maximum {m} avoids overflow and leaves the result unchanged)",
    "final.logit": "logit",
    "final.prob": "probability (0–100%)",
    "final.search": "Search a token",
    "final.search.go": "Search",
    "final.search.placeholder": "e.g. cat",
    "final.search.none": "No token of the vocabulary holds “{q}”.",
    "final.search.count": "{n} tokens hold “{q}”; some of them:",
    "final.search.encoded": "“{q}” becomes:",
    "final.rank": "rank",

    "gen.title": "Generate: rolling the die",
    "gen.explain":
      "The model does not always pick the most likely token: it <b>samples</b>, rolling a loaded die whose faces are the tokens, each as likely as its probability. The drawn token is appended and everything is recomputed (<b>autoregression</b>). With a <b>seed</b> the rolls are reproducible: the same as <code>attento generate --seed</code>.",
    "gen.roll": "⚄ Roll the die",
    "gen.pick": "Pick the most likely",
    "gen.back": "↶ Step back",
    "gen.seed": "Seed",
    "gen.seed.placeholder": "random",
    "gen.run": "Generate {n} tokens",
    "gen.count": "How many",
    "gen.stop": "Stop",
    "gen.picked": "Drew “{t}” (probability {p})",
    "gen.restart": "A new run of rolls starts here (settings changed).",
    "gen.full": "The context is full: this model reads at most {n} tokens.",

    "cache.title": "The KV cache",
    "cache.explain":
      "While generating, earlier tokens do not change: their <b>keys</b> and <b>values</b> were already computed and stay in the <b>KV cache</b>. At each step only the new token computes its q, k, v; grey rows are read back from the cache, the orange row is new. The new token's query is compared with all the keys.",
    "cache.empty": "Roll the die to see the cache at work.",
    "cache.stats":
      "{cached} rows read from the cache, {new} computed now. Largest logit difference from a full recomputation: {diff}.",
    "cache.layer": "Block",
    "cache.q": "q of the new token",
    "cache.k": "K: cache + new row",
    "cache.v": "V: cache + new row",
    "cache.w": "Attention weights of the new token",
    "cache.mem.title": "How much memory the cache takes",
    "cache.mem.formula":
      "Per token, each block keeps one key and one value for each K/V head: 2 × {layers} blocks × {kv} K/V heads × {dim} numbers × {bytes} bytes = <b>{per}</b>.",
    "cache.mem.per_token": "per token",
    "cache.mem.tokens": "these {n} tokens",
    "cache.mem.full": "full context ({n} tokens)",
    "cache.mem.model": "this model ({kind})",
    "cache.mem.mha": "with MHA (one K/V head per query head)",
    "cache.mem.saving":
      "Grouped-query attention: the {h} query heads share {kv} K/V heads, so the cache is <b>{x}×</b> smaller than with multi-head attention (MHA); the weights barely change (only K and V get narrower).",
    "cache.mem.mha_only":
      "Multi-head attention (MHA): each of the {h} query heads has its own K/V head. Grouped-query attention (one K/V head per group of query heads) or multi-query attention (one for all) would make the cache up to {h}× smaller.",
    "cache.mem.window":
      "Sliding window of {w} tokens in {layers} of {n} blocks: such a block keeps at most {w} positions, so at full context the cache stops growing.",

    "tour.0": "Type the prompt and pick the model here. Everything below is computed by the model on this text.",
    "tour.1": "1. Tokenization: the text becomes a sequence of IDs.",
    "tour.2": "2. Embeddings: each ID becomes a vector, and its position is added.",
    "tour.3": "3. The blocks: open one and hover the tokens to see where attention looks. Hatched cells are the future, hidden by the causal mask.",
    "tour.3.touch": "3. The blocks: open one and tap the tokens to see where attention looks. Hatched cells are the future, hidden by the causal mask.",
    "tour.4": "4. The stack: follow one token through the blocks.",
    "tour.5": "5. The final step: move temperature, top-k and top-p and watch the probabilities change.",
    "tour.6": "6. Roll the die: the drawn token is appended and the model recomputes.",
    "tour.7": "7. The KV cache: only the new token computes q, k, v; the rest is reused.",
    "gen.faces": "The die's faces:",
    "gen.other": "others",

    "error.server": "Server error: try again, or look at the terminal running attento explain.",
    "error.generic": "The server refused the request (HTTP {status}).",
    "error.network": "The server does not answer: is attento explain still running?",
    "error.unexpected": "Something went wrong in the page: reload it.",
    "error.stale": "Numbers of the previous prompt: fix the prompt and press Compute.",
    "error.invalid_request": "Invalid request: the value of “{field}” is not accepted.",
    "error.prompt_too_long": "The prompt is too long: at most {max} characters.",
    "error.unknown_model": "Unknown model (available: {available}).",
    "error.token_out_of_vocab": "Token {id} is not in this model's vocabulary ({vocab} tokens).",
    "error.context_full": "The context is full: {tokens} tokens, and this model reads at most {context}. Shorten the prompt.",
    "error.body_too_large": "The request is too large: at most {max} bytes.",
    "error.bad_host": "The server only answers the addresses it was started for (Host header not allowed).",
    "error.too_many_tokens": "Too many tokens in one request: at most {max}.",
    "error.not_found": "This address does not exist on the server.",
    "error.method_not_allowed": "The server does not take this request at this address.",
    "error.bad_block": "This model has no block {block} (it has {blocks}).",
    "error.bad_position": "Position {pos} is outside the prompt ({tokens} tokens).",
    "error.bad_cell": "The server does not find this number in the model's trace.",
    "error.encoder_model": "This is an encoder (BERT): it does not predict the next word. Open it in the GPT · BERT page.",
    "error.no_history": "This model has no training snapshots (attento train --keep-checkpoints).",
    "error.bad_step": "There is no snapshot at this step.",
    "error.seq2seq_model": "This is an encoder–decoder: open it in the Encoder–decoder page.",
    "error.not_seq2seq": "This model is not an encoder–decoder.",
    "error.bad_source": "The input holds <pad>: give the real tokens only.",
    "error.bad_target": "The output holds a token the decoder never writes there (<pad>, <bos>, or <eos> before the end).",
    "error.seq2seq_done": "The answer is written: it ends with <eos> or fills the context.",
  },
};

let lang = "it";

// a view in its own module brings its own texts: { it: {...}, en: {...} }, merged in
export function addStrings(more) {
  for (const l of Object.keys(STRINGS)) Object.assign(STRINGS[l], more[l] || {});
}

addStrings(SHARED);

export function chooseLanguage(modelLanguage) {
  const saved = localStorage.getItem("attento.lang");
  if (saved === "it" || saved === "en") return saved;
  if (modelLanguage === "it") return "it";
  return (navigator.language || "").toLowerCase().startsWith("it") ? "it" : "en";
}

export function setLanguage(l) {
  lang = l;
  document.documentElement.lang = l;
}

export function getLanguage() {
  return lang;
}

// Phones and tablets: no hover, so the hints say "tap" (a "KEY.touch" string wins over "KEY").
export function isTouch() {
  return window.matchMedia("(hover: none)").matches;
}

function lookup(key) {
  const keys = isTouch() ? [`${key}.touch`, key] : [key];
  for (const k of keys) {
    const s = STRINGS[lang][k] ?? STRINGS.en[k];
    if (s !== undefined) return s;
  }
  return key;
}

// one pass, so a value that itself reads "{p}" (a token can) is never substituted again
function fill(s, vars, wrap) {
  return s.replace(/\{(\w+)\}/g, (m, k) => (Object.hasOwn(vars, k) ? wrap(String(vars[k])) : m));
}

// a page's own table {en: {...}, it: {...}}: its plain-text lookup, falling back to English
export function pageStrings(table) {
  return (key, vars = {}) => fill(table[getLanguage()][key] ?? table.en[key] ?? key, vars, (v) => v);
}

// plain text: for textContent
export function t(key, vars = {}) {
  return fill(lookup(key), vars, (v) => v);
}

// the STRINGS markup of `key` (trusted) with every value escaped: for innerHTML
export function tHtml(key, vars = {}) {
  return fill(lookup(key), vars, escapeHtml);
}

// fill every [data-i18n] (text) and [data-i18n-html] (trusted markup from STRINGS)
export function translatePage(root = document) {
  for (const e of root.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
  for (const e of root.querySelectorAll("[data-i18n-html]")) e.innerHTML = tHtml(e.dataset.i18nHtml);
  for (const e of root.querySelectorAll("[data-i18n-placeholder]")) {
    e.placeholder = t(e.dataset.i18nPlaceholder);
  }
}
