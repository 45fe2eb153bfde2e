"""A tokenizer folder that is broken, or hostile, gives one clear line and nothing else.

Through the CLI (`attento tokenize`, `generate`, `train --resume`): exit code 2, one line on
stderr naming the file, no traceback, and never a line of a file outside the folder.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attento.cli import main
from attento.errors import UserError
from attento.tokenize import CharTokenizer, load_tokenizer
from attento.tokenize.bpe import BPETokenizer, train_bpe
from attento.tokenize.tiktoken_io import write_ranks
from attento.tokenize.wordpiece import SPECIAL_TOKENS, WordPieceTokenizer

SECRET = "SECRET-LINE-do-not-show"


@pytest.fixture(scope="module")
def bpe() -> BPETokenizer:
    return train_bpe("il gatto e la gatta sul tetto " * 10, 262)


def wordpiece() -> WordPieceTokenizer:
    return WordPieceTokenizer([*SPECIAL_TOKENS, "gatto", "##i", "il"])


def one_error_line(capsys, *must_contain: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith("attento: error: "), err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for text in must_contain:
        assert text in err, err
    return err


def tokenize(folder: Path) -> int:
    return main(["tokenize", "gatto", "--tokenizer", str(folder)])


def write_config(folder: Path, config: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer.json").write_text(json.dumps(config))
    return folder


# (what is wrong, tokenizer.json content, words the error must contain)
BAD_CONFIGS = [
    ("char without chars", {"type": "char"}, "'chars' is missing"),
    ("chars an int", {"type": "char", "chars": 5}, "'chars' must be"),
    ("chars a list of ints", {"type": "char", "chars": [1, 2]}, "'chars' must be"),
    ("chars empty", {"type": "char", "chars": ""}, "'chars' must be"),
    ("chars repeated", {"type": "char", "chars": "aa"}, "distinct"),
    ("unk a string", {"type": "char", "chars": "ab", "unk": "yes"}, "'unk' must be true or false"),
    ("type an int", {"type": 5, "chars": "ab"}, "not an attento tokenizer"),
    ("type a list", {"type": ["char"], "chars": "ab"}, "not an attento tokenizer"),
    ("unknown type", {"type": "unigram"}, "unknown tokenizer type 'unigram'"),
    ("a JSON list", ["char"], "not an attento tokenizer"),
    ("JSON null", None, "not an attento tokenizer"),
    ("special id a word", {"type": "bpe", "special_tokens": {"<|e|>": "abc"}}, "integer id"),
    ("special id negative", {"type": "bpe", "special_tokens": {"<|e|>": -1}}, "outside"),
    ("special id true", {"type": "bpe", "special_tokens": {"<|e|>": True}}, "integer id"),
    ("special id too big", {"type": "bpe", "special_tokens": {"<|e|>": 2**40}}, "outside"),
    ("specials a list", {"type": "bpe", "special_tokens": ["<|e|>"]}, "'special_tokens' must"),
    ("special spelled empty", {"type": "bpe", "special_tokens": {"": 300}}, "empty string"),
    ("pattern an int", {"type": "bpe", "pattern": 5}, "'pattern' must be a string"),
    ("pattern unclosed", {"type": "bpe", "pattern": "(x"}, "invalid pre-split pattern"),
    ("ranks an int", {"type": "bpe", "ranks": 5}, "'ranks' must be a string"),
    ("ranks missing file", {"type": "bpe", "ranks": "nope.tiktoken"}, "not found"),
    ("ranks empty name", {"type": "bpe", "ranks": ""}, "'ranks' must be a file name"),
    ("wordpiece bad flag", {"type": "wordpiece", "do_lower_case": "yes"}, "'do_lower_case'"),
    ("wordpiece max 0", {"type": "wordpiece", "max_input_chars_per_word": 0}, "at least 1"),
    ("wordpiece max text", {"type": "wordpiece", "max_input_chars_per_word": "9"}, "integer"),
    ("wordpiece unknown key", {"type": "wordpiece", "lowercase": True}, "unknown WordPiece"),
]


@pytest.mark.parametrize(
    "config, expected", [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS]
)
def test_a_wrong_tokenizer_json_is_one_line_naming_the_file(
    tmp_path, capsys, bpe, config, expected
):
    folder = tmp_path / "tok"
    kind = config.get("type") if isinstance(config, dict) else None
    if kind == "bpe":
        bpe.save(folder)  # real ranks, so only the broken field can be at fault
    elif kind == "wordpiece":
        wordpiece().save(folder)
    write_config(folder, config)
    before = sorted((p.name, p.read_bytes()) for p in folder.iterdir())
    assert tokenize(folder) == 2
    one_error_line(capsys, str(folder), expected)  # tokenizer.json, or the file it names
    assert sorted((p.name, p.read_bytes()) for p in folder.iterdir()) == before


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"\xff\xfe\x00garbage", "is not UTF-8"),
        (b"", "is not valid JSON"),
        (b"{type: char}", "is not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
    ids=["not utf-8", "empty", "not json", "nested 100000 deep"],
)
def test_an_unreadable_tokenizer_json_is_one_line(tmp_path, capsys, content, expected):
    (tmp_path / "tokenizer.json").write_bytes(content)
    assert tokenize(tmp_path) == 2
    one_error_line(capsys, str(tmp_path / "tokenizer.json"), expected)


def test_a_tokenizer_json_that_is_a_folder(tmp_path, capsys):
    (tmp_path / "tokenizer.json").mkdir()
    assert tokenize(tmp_path) == 2
    one_error_line(capsys, "holds no tokenizer.json or vocab.txt")


@pytest.mark.parametrize(
    "lines, expected",
    [
        ([b"not base64 at all"], "line 1: not a .tiktoken line"),
        ([b"YQ== -3"], "line 1: the rank must be in"),
        ([b"YQ== 1", b"Yg== 1"], "the same rank"),
        ([b"\xff\xfe\xfd 1"], "line 1: not a .tiktoken line"),
    ],
    ids=["garbage", "negative", "repeated", "binary"],
)
def test_a_broken_rank_file_is_one_line(tmp_path, capsys, bpe, lines, expected):
    bpe.save(tmp_path)
    (tmp_path / "tokenizer.tiktoken").write_bytes(b"\n".join(lines) + b"\n")
    assert tokenize(tmp_path) == 2
    one_error_line(capsys, "tokenizer.tiktoken", expected)


def test_a_rank_file_error_never_shows_its_lines(tmp_path, capsys, bpe):
    bpe.save(tmp_path)
    (tmp_path / "tokenizer.tiktoken").write_text(f"{SECRET} 0\n")
    assert tokenize(tmp_path) == 2
    assert SECRET not in one_error_line(capsys, "line 1")


def test_ranks_naming_etc_passwd_is_refused_without_reading_it(tmp_path, capsys):
    passwd = Path("/etc/passwd")
    write_config(tmp_path, {"type": "bpe", "ranks": str(passwd)})
    assert tokenize(tmp_path) == 2
    err = one_error_line(capsys, "inside the tokenizer's folder")
    if passwd.is_file():
        first = passwd.read_text().splitlines()[0]
        assert first not in err and first.split(":")[0] + ":x" not in err


@pytest.mark.parametrize("how", ["absolute", "dot-dot", "symlink", "symlinked folder"])
def test_a_valid_rank_file_outside_the_folder_is_refused(tmp_path, capsys, bpe, how):
    """Even a perfectly good file is not read when it lies outside the folder: the folder,
    not its author, decides what attento reads."""
    outside = write_ranks(bpe.ranks, tmp_path / "outside.tiktoken")
    folder = bpe.save(tmp_path / "tok")
    (folder / "tokenizer.tiktoken").unlink()
    name = {"absolute": str(outside), "dot-dot": "../outside.tiktoken"}.get(how, "link.tiktoken")
    if how == "symlink":
        (folder / "link.tiktoken").symlink_to(outside)
    if how == "symlinked folder":
        (tmp_path / "elsewhere").mkdir()
        shutil.move(outside, tmp_path / "elsewhere" / "link.tiktoken")
        (folder / "sub").symlink_to(tmp_path / "elsewhere")
        name = "sub/link.tiktoken"
    write_config(folder, {**bpe.config(), "type": "bpe", "ranks": name})
    assert tokenize(folder) == 2
    one_error_line(capsys, "folder")


def test_a_symlink_that_stays_inside_the_folder_is_followed(tmp_path, capsys, bpe):
    folder = bpe.save(tmp_path / "tok")
    (folder / "data").mkdir()
    (folder / "tokenizer.tiktoken").rename(folder / "data" / "ranks.tiktoken")
    (folder / "link.tiktoken").symlink_to(folder / "data" / "ranks.tiktoken")
    write_config(folder, {**bpe.config(), "type": "bpe", "ranks": "link.tiktoken"})
    assert load_tokenizer(folder).encode("gatto") == bpe.encode("gatto")
    write_config(folder, {**bpe.config(), "type": "bpe", "ranks": "data/ranks.tiktoken"})
    assert load_tokenizer(folder).encode("gatto") == bpe.encode("gatto")


def test_a_wordpiece_vocab_symlinked_outside_is_refused(tmp_path, capsys):
    folder = wordpiece().save(tmp_path / "tok")
    outside = tmp_path / "vocab-outside.txt"
    (folder / "vocab.txt").rename(outside)
    (folder / "vocab.txt").symlink_to(outside)
    assert tokenize(folder) == 2
    one_error_line(capsys, "outside the tokenizer's folder")


def test_a_custom_pattern_that_tiktoken_cannot_parse_still_encodes(bpe):
    """`regex` accepts these, tiktoken's Rust engine rejects the first and panics on the
    second (it matches the empty string): both take the pure-Python path."""
    for pattern in (r"(?V1)[[a-z]--[aeiou]]+|.", r"a{,3}|[^a]+"):
        tok = BPETokenizer(bpe.ranks, pattern, dict(bpe.special_tokens))
        assert tok.encode("gatto") == tok.encode("gatto", fast=False)
        assert tok.decode(tok.encode("gatto")).replace(" ", "") in ("gatto", "gtt")


# --- the same through the commands that open a model's tokenizer --------------------------


@pytest.fixture
def model_dir(tmp_path) -> Path:
    import torch

    from attento.models.folder import save_model
    from attento.models.gpt import GPT, GPTConfig

    tok = CharTokenizer.from_text("il gatto sul tetto")
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=8))
    return save_model(model, tok, tmp_path / "model")


def test_generate_with_a_broken_tokenizer_is_one_line(model_dir, capsys):
    write_config(model_dir, {"type": "char", "chars": 12})
    assert main(["generate", "--model", str(model_dir), "--prompt", "il", "--greedy"]) == 2
    one_error_line(capsys, "tokenizer.json", "'chars' must be")


def test_train_resume_with_a_broken_tokenizer_is_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    text = tmp_path / "corpus.txt"
    text.write_text("il gatto sul tetto e la gatta sul letto\n" * 40)
    args = ["train", "--preset", "tiny", "--corpus", str(text), "--out", str(out)]
    assert main([*args, "--max-steps", "2"]) == 0
    capsys.readouterr()
    (out / "tokenizer.json").write_bytes(b"\x80 not utf-8")

    def files() -> dict[str, bytes]:  # the run lock notes who last opened the run: not data
        return {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.name != ".lock"}

    before = files()
    assert main([*args, "--max-steps", "4", "--resume"]) == 2
    one_error_line(capsys, "tokenizer.json", "not UTF-8")
    assert files() == before


# --- fuzzing: whatever a tokenizer.json holds, only a UserError escapes ----------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
KEYS = ["type", "chars", "unk", "pattern", "special_tokens", "ranks", "do_lower_case",
        "strip_accents", "tokenize_chinese_chars", "max_input_chars_per_word"]  # fmt: skip


def saved_folders(root: Path, bpe: BPETokenizer) -> dict[str, Path]:
    return {
        "char": CharTokenizer.from_text("il gatto").save(root / "char"),
        "bpe": bpe.save(root / "bpe"),
        "wordpiece": wordpiece().save(root / "wordpiece"),
    }


def opens_or_says_why(folder: Path) -> None:
    try:
        tok = load_tokenizer(folder)
        ids = tok.encode("il gatto, 123 è")
        tok.decode(ids)
        [tok.token_str(i) for i in ids]
    except UserError:
        pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["char", "bpe", "wordpiece"]),
    edits=st.lists(
        st.tuples(st.sampled_from(KEYS), st.one_of(st.just("<delete>"), JSON_VALUES)), max_size=3
    ),
)
def test_fuzzed_tokenizer_json_raises_only_user_errors(bpe, kind, edits):
    with tempfile.TemporaryDirectory() as root:
        folder = saved_folders(Path(root), bpe)[kind]
        config = json.loads((folder / "tokenizer.json").read_text())
        for key, value in edits:
            if value == "<delete>":
                config.pop(key, None)
            else:
                config[key] = value
        (folder / "tokenizer.json").write_text(json.dumps(config))
        opens_or_says_why(folder)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["char", "bpe", "wordpiece"]),
    file=st.sampled_from(["tokenizer.json", "data"]),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=4),
    cut=st.none() | st.integers(0, 10_000),
)
def test_corrupted_tokenizer_files_raise_only_user_errors(bpe, kind, file, flips, cut):
    """Random bytes overwritten, or the file cut short, in tokenizer.json or the data file."""
    with tempfile.TemporaryDirectory() as root:
        folder = saved_folders(Path(root), bpe)[kind]
        data_name = {"char": "tokenizer.json", "bpe": "tokenizer.tiktoken"}.get(kind, "vocab.txt")
        path = folder / (data_name if file == "data" else "tokenizer.json")
        data = bytearray(path.read_bytes())
        for where, byte in flips:
            data[where % len(data)] = byte
        path.write_bytes(bytes(data[:cut]))
        opens_or_says_why(folder)
