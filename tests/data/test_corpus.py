import hashlib

import pytest

from attento import download
from attento.data import CORPORA, load_corpus
from attento.errors import UserError


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_named_corpus_resolves_offline_and_matches_its_checksum(name, data_dir):
    text = load_corpus(name)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert digest == CORPORA[name].sha256


def test_divina_commedia_starts_with_its_title(data_dir):
    assert load_corpus("divina_commedia").splitlines()[0] == "LA DIVINA COMMEDIA"


def test_a_path_reads_utf8(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("perché città è\n", encoding="utf-8")
    assert load_corpus(path) == "perché città è\n"


def test_missing_file_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="neither a file nor a known name"):
        load_corpus(tmp_path / "nope.txt")


def test_empty_file(tmp_path):
    (tmp_path / "e.txt").write_bytes(b"")
    with pytest.raises(UserError, match="is empty"):
        load_corpus(tmp_path / "e.txt")


def test_non_utf8_bytes_name_the_offset(tmp_path):
    (tmp_path / "b.txt").write_bytes(b"abc\xff\xfe")
    with pytest.raises(UserError, match=r"not UTF-8 text \(invalid byte 0xff at offset 3\)"):
        load_corpus(tmp_path / "b.txt")


def test_directory(tmp_path):
    with pytest.raises(UserError, match="is a directory"):
        load_corpus(tmp_path)


def test_offline_without_the_file_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTENTO_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("ATTENTO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ATTENTO_OFFLINE", "1")
    with pytest.raises(UserError, match=r"\$ATTENTO_DATA/tinyshakespeare.txt"):
        load_corpus("tinyshakespeare")


def test_download_is_verified_and_cached(tmp_path, monkeypatch):
    """A download goes through the checksum and lands in the cache atomically."""
    payload = b"hello corpus\n"
    monkeypatch.delenv("ATTENTO_DATA", raising=False)
    monkeypatch.delenv("ATTENTO_OFFLINE", raising=False)
    monkeypatch.setenv("ATTENTO_CACHE", str(tmp_path))
    served = tmp_path / "served.txt"
    served.write_bytes(payload)
    good = hashlib.sha256(payload).hexdigest()

    path = download.fetch("x.txt", served.as_uri(), good)
    assert path == tmp_path / "x.txt" and path.read_bytes() == payload

    with pytest.raises(UserError, match="checksum mismatch"):
        download.fetch("y.txt", served.as_uri(), "0" * 64)
    assert not (tmp_path / "y.txt").exists()
    assert not list(tmp_path.glob("*.part"))
