"""The teaching commands follow the locale (Italian when it is Italian) and `--lang` wins."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from attento.cli import main
from attento.messages import MESSAGES, language, message

LOCALE_VARS = ("ATTENTO_LANG", "LC_ALL", "LC_MESSAGES", "LANG")


@pytest.fixture
def locale(monkeypatch: pytest.MonkeyPatch):
    for name in LOCALE_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_every_message_exists_in_every_language_with_the_same_fields() -> None:
    import string

    def fields(template: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(template) if f}

    assert MESSAGES["en"].keys() == MESSAGES["it"].keys()
    for key, english in MESSAGES["en"].items():
        assert fields(english) == fields(MESSAGES["it"][key]), key
        assert english != MESSAGES["it"][key] or key == "nn.header", key


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "en"),
        ({"LANG": "it_IT.UTF-8"}, "it"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LC_ALL": "it_CH.UTF-8", "LANG": "en_US.UTF-8"}, "it"),  # LC_ALL comes first
        ({"LC_MESSAGES": "en_GB.UTF-8", "LANG": "it_IT.UTF-8"}, "en"),
        ({"ATTENTO_LANG": "en", "LC_ALL": "it_IT.UTF-8"}, "en"),
    ],
)
def test_language_follows_the_locale(locale, env: dict[str, str], expected: str) -> None:
    for name, value in env.items():
        locale.setenv(name, value)
    assert language() == expected
    assert language("en") == "en" and language("it") == "it"


def test_neuron_speaks_italian_under_an_italian_locale(locale, capsys) -> None:
    locale.setenv("LANG", "it_IT.UTF-8")
    assert main(["neuron", "--inputs", "1,0", "--weights", "0.6,0.6", "--bias", "-0.5"]) == 0
    out = capsys.readouterr().out
    assert "somma pesata" in out and "si attiva" in out and "weighted sum" not in out


def test_lang_en_overrides_an_italian_locale(locale, capsys) -> None:
    locale.setenv("LC_ALL", "it_IT.UTF-8")
    assert main(["neuron", "--lang", "en", "--bias", "-5"]) == 0
    out = capsys.readouterr().out
    assert "weighted sum" in out and "stays silent" in out and "somma" not in out


def test_errors_follow_the_language_too(locale, capsys) -> None:
    locale.setenv("LANG", "it_IT.UTF-8")
    assert main(["neuron", "--inputs", "1,x"]) == 2
    assert "numeri separati da virgole" in capsys.readouterr().err
    assert main(["neuron", "--lang", "en", "--inputs", "1,x"]) == 2
    assert "comma-separated numbers" in capsys.readouterr().err


def test_tokenize_and_next_token_speak_italian(locale, capsys) -> None:
    locale.setenv("LANG", "it_IT.UTF-8")
    assert main(["tokenize", "Il gatto", "--tokenizer", "dante"]) == 0
    assert "8 caratteri" in capsys.readouterr().out
    assert main(["next-token", "--prompt", "Nel mezzo", "-n", "2", "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert "prossimo token" in out and "probabilità finale" in out and "il dado" in out
    assert main(["next-token", "--lang", "en", "--prompt", "Nel mezzo", "-n", "2"]) == 0
    assert "final probability" in capsys.readouterr().out


def test_generate_errors_follow_the_language(locale, capsys) -> None:
    locale.setenv("LANG", "it_IT.UTF-8")
    assert main(["generate", "--prompt", "x", "--draft-k", "3"]) == 2
    assert "richiede --draft" in capsys.readouterr().err
    assert main(["generate", "--lang", "en", "--prompt", "x", "--draft-k", "3"]) == 2
    assert "needs --draft" in capsys.readouterr().err


# --- no English left under --lang it -----------------------------------------------------------


def english_only() -> list[str]:
    """The literal pieces of the catalogue's English templates (4+ characters, with a letter)
    that no Italian template holds: what an Italian output must never show."""
    import re
    import string

    italian = " ".join(MESSAGES["it"].values())
    pieces = set()
    for template in MESSAGES["en"].values():
        for literal, *_ in string.Formatter().parse(template):
            for piece in re.split(r"[^\w' ]+", literal):
                piece = piece.strip(" '")
                if len(piece) >= 4 and re.search(r"[a-z]", piece) and piece not in italian:
                    pieces.add(piece)
    return sorted(pieces)


def leaks(text: str) -> list[str]:
    import re

    return [p for p in english_only() if re.search(rf"(?<![\w-]){re.escape(p)}(?![\w-])", text)]


def run_cli(capsys, argv: list[str]) -> tuple[int, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out + out.err


RUNS = [
    (0, ["tokenize", "Il gatto è", "--tokenizer", "dante"]),
    (2, ["tokenize", "Il gatto", "--tokenizer", "nessuno"]),
    (2, ["tokenize", "nel €", "--tokenizer", "shakespeare"]),
    (0, ["next-token", "--prompt", "Nel mezzo", "-n", "3", "--seed", "1", "--lens"]),
    (2, ["next-token", "--prompt", "Nel mezzo", "-n", "0"]),
    (0, ["generate", "--prompt", "Nel mezzo", "--max-new-tokens", "4", "--seed", "0"]),
    (2, ["generate", "--prompt", "x", "--model", "./nessuna/cartella"]),
    (2, ["generate", "--prompt", "x", "--model", "nessuno"]),  # nor a Hub id in the cache
    (0, ["neuron", "--inputs", "1,0", "--weights", "0.6,0.6", "--bias", "-0.5"]),
    (0, ["neuron", "--bias", "-5", "--activation", "tanh"]),
    (2, ["neuron", "--inputs", "1,x"]),
    (2, ["neuron", "--inputs", "1,2", "--weights", "1"]),
    (2, ["next-token", "--prompt", "Nel", "--temperature", "0"]),
    (2, ["generate", "--prompt", "x", "--seed=-1"]),
    (2, ["nn-demo", "--steps", "0"]),
    (0, ["neighbours", "amore", "--model", "dante-words", "--k", "3"]),
    (2, ["neighbours", "zzzzqq", "--model", "dante-words"]),
    (0, ["analogy", "uomo", "re", "donna", "--model", "dante-words", "--k", "2"]),
    (2, ["similarity", "amore", "--model", "dante-words"]),
    (0, ["similarity", "amore", "odio", "--model", "dante-words"]),
    (2, ["project", "re", "--axis", "lui:lui"]),
    (2, ["project", "re", "--axis", "lui"]),
    (0, ["project", "re", "donna", "--axis", "lui:lei"]),
    (2, ["rank", "--model", "dante", "--out", "nessuna/cartella/r.jsonl"]),
]


# the first BERT a process loads imports torch._dynamo: seconds
NOT_A_GPT = (2, ["generate", "--prompt", "x", "--model", "dante-bert"])


@pytest.mark.parametrize(
    ("code", "argv"),
    [*RUNS, pytest.param(*NOT_A_GPT, marks=pytest.mark.slow)],
    ids=lambda v: " ".join(v) if isinstance(v, list) else str(v),
)
def test_no_english_of_the_catalogue_under_lang_it(locale, capsys, code, argv) -> None:
    got, italian = run_cli(capsys, [*argv, "--lang", "it"])
    assert got == code, italian
    assert italian.strip() and leaks(italian) == []
    if code == 2:
        assert italian.startswith("attento: errore: ") and italian.count("\n") == 1


@pytest.mark.parametrize(
    "argv",
    [argv for code, argv in RUNS if argv[0] in ("tokenize", "next-token", "neuron")],
)
def test_the_leak_check_sees_english(locale, capsys, argv) -> None:
    # the same runs in English do show catalogue text: the check above can fail
    _, english = run_cli(capsys, [*argv, "--lang", "en"])
    assert leaks(english) != [] or "attento: error: " in english


def test_bias_probe_speaks_the_locale_while_lang_picks_the_vectors(locale, capsys) -> None:
    locale.setenv("LANG", "it_IT.UTF-8")
    code, out = run_cli(capsys, ["bias-probe", "--lang", "it"])
    assert code == 0 and "posizione da uomo (0) a donna (1)" in out and leaks(out) == []
    code, out = run_cli(capsys, ["bias-probe", "--axis", "uomo:uomo"])
    assert code == 2 and out.startswith("attento: errore: l'asse uomo:uomo") and leaks(out) == []
    locale.setenv("LANG", "en_US.UTF-8")
    assert run_cli(capsys, ["bias-probe", "--axis", "uomo:uomo"])[1].startswith(
        "attento: error: the axis uomo:uomo"
    )


def test_an_error_from_the_library_is_said_in_the_catalogue_language(capsys) -> None:
    from attento.errors import UserError
    from attento.messages import error_text, message, user_error

    exc = user_error("tokenizer_not_found", spec="x", pretrained=["a", "b"], bundled=["dante"])
    assert isinstance(exc, UserError) and exc.code == "tokenizer_not_found"
    assert str(exc) == message(
        "error.tokenizer_not_found", "en", spec="x", pretrained="a, b", bundled="dante"
    )
    assert error_text(exc, "it").startswith("tokenizer «x» non trovato: indica a, b, un modello")
    # a mistake inside another is said in the same language
    hub = user_error("hub_not_cached", repo="nessuno")
    outer = user_error("model_not_found", name="nessuno", bundled=["dante"], hub=hub)
    assert str(outer).endswith(str(hub))
    assert error_text(outer, "it").endswith(message("error.hub_not_cached", "it", repo="nessuno"))
    # a code the catalogue does not know is said as raised
    assert error_text(UserError("as raised", code="bad_block"), "it") == "as raised"


def test_a_cropped_context_warning_follows_the_language() -> None:
    from attento.cli import _one_line_warning
    from attento.messages import Notice

    notice = Notice("warning.prompt_cropped", n=300, context=128, positions="learned")
    assert str(notice).startswith("the prompt has 300 tokens but the model reads at most 128")
    italian = _one_line_warning("it")(notice, Notice, "f.py", 1)
    assert italian == (
        "attento: avviso: il prompt ha 300 token ma il modello ne legge al massimo 128 "
        "(posizioni learned): vede solo gli ultimi 128\n"
    )
    assert _one_line_warning("en")("plain", UserWarning, "f.py", 1) == "attento: warning: plain\n"


def test_generate_warns_in_italian_when_the_prompt_overflows(locale) -> None:
    import warnings

    from attento.generate import stream
    from attento.messages import Notice
    from attento.models.folder import load_model

    model, tok = load_model("dante")  # learned positions: a longer prompt is cropped
    prompt = "a" * (model.config.block_size + 5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        list(stream(model, tok, prompt, 1, greedy=True))
    notices = [w.message for w in caught if isinstance(w.message, Notice)]
    assert len(notices) == 1 and notices[0].key == "warning.prompt_cropped"
    assert notices[0].text("it").startswith(f"il prompt ha {len(prompt)} token")


# --- plots ---------------------------------------------------------------------------------


@pytest.fixture
def figure_texts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text (titles, axis labels, legends) of the figures saved while the test runs."""
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    texts: list[str] = []
    save = Figure.savefig

    def recording(fig, *args, **kwargs):
        texts.extend(t.get_text() for t in fig.findobj(Text) if t.get_text())
        return save(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", recording)
    return texts


def test_loss_png_follows_the_locale(locale, tmp_path, figure_texts) -> None:
    from attento.train.log import plot_losses

    rows = [{"step": 0, "train_loss": 4.0, "val_loss": 4.1}, {"step": 10, "train_loss": 3.0}]
    locale.setenv("LANG", "it_IT.UTF-8")
    plot_losses(rows, tmp_path / "loss.png")
    italian = " | ".join(figure_texts)
    for key in ("plot.train_loss", "plot.val_loss", "plot.step", "plot.loss_axis"):
        assert MESSAGES["it"][key] in italian
    assert leaks(italian) == []
    figure_texts.clear()
    plot_losses(rows, tmp_path / "loss.png", lang="en")
    assert "validation loss" in " | ".join(figure_texts)


def test_compare_plots_follow_the_language(tmp_path, figure_texts) -> None:
    from types import SimpleNamespace

    from attento.compare import report

    row = SimpleNamespace(
        arch="gpt",
        curve=[(1.0, 3.0), (2.0, 2.5)],
        step_time_s={64: 0.01, 128: 0.02},
        probe_accuracy={1: 0.9, 8: 0.5},
    )
    report.plot_loss([row], 60, tmp_path / "l.png", "it")
    report.plot_speed([row], tmp_path / "s.png", "it")
    report.plot_probe([row], tmp_path / "p.png", "it")
    italian = " | ".join(figure_texts)
    assert "stessi 60 s" in italian and MESSAGES["it"]["plot.recall"] in italian
    assert leaks(italian) == []


def test_nn_demo_plots_follow_lang(tmp_path, figure_texts) -> None:
    from attento.nn.demos import TrainConfig, plot_decision_boundaries, train_classifier, xor_data

    x, y = xor_data()
    result = train_classifier(x, y, TrainConfig((4,), "relu", steps=2))
    plot_decision_boundaries(tmp_path / "b.png", [result], x, y, lang="it")
    italian = " | ".join(figure_texts)
    assert "relu: accuratezza di addestramento" in italian and leaks(italian) == []


def test_embedding_plots_follow_lang(locale, tmp_path, capsys, figure_texts) -> None:
    import re

    words = ["re", "donna", "amore", "terra"]
    png = str(tmp_path / "m.png")
    assert main(["embed-map", *words, "--model", "dante-words", "--out", png, "--lang", "it"]) == 0
    png = str(tmp_path / "a.png")
    argv = ["project", "re", "donna", "--axis", "lui:lei", "--out", png, "--lang", "it"]
    assert main(argv) == 0
    printed = re.sub(r"\S+\.png", "", capsys.readouterr().out)  # file names are no message
    italian = " | ".join(figure_texts)
    assert "1ª componente principale" in italian and "parole sugli assi" in italian
    assert "mappa di 4 parole" in printed and "grafico a dispersione" in printed
    assert leaks(italian) == [] and leaks(printed) == []


# --- one catalogue with the explainer's page -------------------------------------------------

WEB_JS = Path(__file__).resolve().parents[2] / "src/attento/explain/web/js"


def test_the_page_module_is_generated_from_the_catalogue() -> None:
    from attento.messages import page_module

    assert (WEB_JS / "strings-shared.js").read_text(encoding="utf-8") == page_module(), (
        "regenerate it: python -m attento.messages"
    )


def test_shared_texts_live_only_in_the_catalogue() -> None:
    import re
    import string

    from attento.messages import PAGE_KEYS

    page = (WEB_JS / "i18n.js").read_text(encoding="utf-8")
    assert "strings-shared.js" in page
    for key in PAGE_KEYS:
        assert f'"{key}":' not in page, key  # written once, in messages.py
        for lang in ("it", "en"):
            # the page fills plain {name} fields only
            for _, field, spec, conversion in string.Formatter().parse(MESSAGES[lang][key]):
                assert (
                    not spec and not conversion and (field is None or re.fullmatch(r"\w+", field))
                )


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_page_shows_the_catalogue_texts(tmp_path) -> None:
    import json
    import subprocess

    from attento.messages import PAGE_KEYS

    script = tmp_path / "strings.mjs"
    script.write_text(
        "globalThis.window = { matchMedia: () => ({ matches: false }) };\n"
        f"const {{ STRINGS, t, setLanguage }} = await import({json.dumps((WEB_JS / 'i18n.js').as_uri())});\n"
        "globalThis.document = { documentElement: {} };\n"
        "setLanguage('it');\n"
        "const it = t('block.name', { i: 3 });\n"
        "console.log(JSON.stringify({ it: STRINGS.it, en: STRINGS.en, filled: it }));\n"
    )
    run = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    page = json.loads(run.stdout)
    for lang in ("it", "en"):
        assert {k: page[lang][k] for k in PAGE_KEYS} == {k: MESSAGES[lang][k] for k in PAGE_KEYS}
    assert page["filled"] == message("block.name", "it", i=3)
