"""The docs site's generated parts: the CLI reference covers every command, the nav every
notebook. (`make docs-build` builds the whole site with warnings as errors.)"""

from __future__ import annotations

import argparse
import importlib.util
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", REPO / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_has_every_command_and_its_options() -> None:
    from attento.cli import build_parser

    page = _hooks().on_page_markdown("# CLI\n\n<!-- cli -->\n", None, None, None)
    assert "<!-- cli -->" not in page
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in sub.choices.items():
        assert f"## `attento {name}`" in page
        for action in parser._actions:
            for flag in action.option_strings:
                assert flag in page, f"{name} {flag}"


def test_other_pages_pass_through_the_hook_unchanged() -> None:
    text = "# Getting started\n\nno marker here\n"
    assert _hooks().on_page_markdown(text, None, None, None) == text


def test_nav_lists_every_notebook_and_every_page_exists() -> None:
    config = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    listed = set(re.findall(r":\s*(\S+\.(?:md|ipynb))\s*$", config, flags=re.M))
    notebooks = {str(p.relative_to(REPO)) for p in (REPO / "notebooks").glob("*/*.ipynb")}
    assert notebooks <= listed
    for page in listed:
        assert (REPO / "docs" / page).exists(), page


def test_site_loads_nothing_from_the_network_at_build_time() -> None:
    config = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    assert re.search(r"^\s*font:\s*false\s*$", config, flags=re.M)
    assert not re.search(r"^\s*analytics:", config, flags=re.M)
