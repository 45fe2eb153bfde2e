import pytest

from attento.errors import UserError
from attento.tokenize import CharTokenizer, load_tokenizer


def test_vocabulary_is_the_sorted_set_of_characters():
    tok = CharTokenizer.from_text("il gatto è")
    assert tok.chars == sorted(set("il gatto è"))
    assert tok.vocab_size == len(set("il gatto è"))


def test_round_trip_on_a_corpus(data_dir):
    text = (data_dir / "divina_commedia.txt").read_text(encoding="utf-8")
    tok = CharTokenizer.from_text(text)
    ids = tok.encode(text[:5000])
    assert len(ids) == 5000
    assert tok.decode(ids) == text[:5000]


def test_unknown_character_is_a_clear_error():
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(UserError, match=r"'z' \(U\+007A\) is not in"):
        tok.encode("abz")


def test_unknown_character_maps_to_unk_when_asked():
    tok = CharTokenizer.from_text("abc", unk=True)
    ids = tok.encode("abz")
    assert ids[-1] == tok.unk_id == 3
    assert tok.decode(ids) == "ab<unk>"


def test_decode_rejects_ids_outside_the_vocabulary():
    with pytest.raises(UserError, match="outside the vocabulary"):
        CharTokenizer.from_text("ab").decode([5])


def test_save_and_load(tmp_path):
    tok = CharTokenizer.from_text("Nel mezzo del cammin", unk=True)
    tok.save(tmp_path / "tok")
    back = load_tokenizer(tmp_path / "tok")
    assert isinstance(back, CharTokenizer)
    assert back.chars == tok.chars and back.unk
    assert back.encode("mezzo!") == tok.encode("mezzo!")
