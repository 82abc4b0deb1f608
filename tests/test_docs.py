"""Every hook is documented, in its docstring and in docs/plugins.md."""

import inspect
import re

import pytest

from dynode_core import hookspecs

from conftest import REPO

HOOKS = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
         if hasattr(fn, "dynode_spec")]


def test_every_hook_is_documented_in_docs_plugins_and_nothing_else_is():
    text = (REPO / "docs" / "plugins.md").read_text()
    reference = text[text.index("## Hook reference"):]
    assert sorted(re.findall(r"^### (\w+)$", reference, re.M)) == sorted(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_docstring_with_an_example(hook):
    doc = inspect.getdoc(getattr(hookspecs, hook))
    assert doc and "Example" in doc, f"hookspec {hook} needs a docstring with an example"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_section_in_docs_plugins(hook):
    text = (REPO / "docs" / "plugins.md").read_text()
    assert re.search(rf"^### {hook}$", text, re.M), f"docs/plugins.md has no '### {hook}' section"


def test_docs_import_only_the_public_api():
    """Examples in the docs use what plugins and users may import, nothing internal."""
    public = {"dynode_core", "dynode_core.app", "dynode_core.testing", "dynode_core.formats"}
    bad = []
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")),
                 *sorted((REPO / "examples").glob("*/README.md"))]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            found = re.match(r"\s*(?:from|import)\s+(dynode_core[\w.]*)", line)
            if found and found.group(1) not in public:
                bad.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not bad, "\n".join(bad)
