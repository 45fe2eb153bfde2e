"""The teaching commands follow the locale (Italian when it is Italian) and `--lang` wins."""

from __future__ import annotations

import pytest

from attento.cli import main
from attento.messages import MESSAGES, language

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
