"""The documentation runs: every docstring example of the package, and the README's "In Python" flows, are executed as
doctests (in a temporary folder, since some write model folders)."""

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import astroxai

ROOT = Path(__file__).parents[1]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
#: Every module of the package, the package itself (its docstring's example) included.
MODULES = ["astroxai", *sorted(name for _, name, _ in pkgutil.walk_packages(astroxai.__path__, "astroxai.")
                               if name != "astroxai.cli" and not name.endswith(".__main__"))]


def _run(tests) -> doctest.TestResults:
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in tests:
        runner.run(test)
    return runner.summarize(verbose=False)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    tests = [t for t in doctest.DocTestFinder(exclude_empty=True).find(module, name) if t.examples]
    result = _run(tests)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed (output above)"


def test_the_public_api_has_numpydoc_and_examples():
    """The notebook's vocabulary (astroxai's face) is documented: numpydoc sections and a runnable example each."""
    without = []
    for name in astroxai.__all__:
        if name.startswith("_") or name in astroxai._MODULES:
            continue
        doc = getattr(astroxai, name).__doc__ or ""
        sections = any(f"{heading}\n    ---" in doc or f"{heading}\n---" in doc
                       for heading in ("Parameters", "Attributes", "Returns"))
        if ">>>" not in doc or (not sections and not name.endswith("Error")):
            without.append(name)
    assert not without, f"no numpydoc section or no runnable example in the docstrings of {without}"


def test_readme_python_flows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## In Python"):]
    section = section[:section.index("\n## ", 4)] if "\n## " in section[4:] else section
    parser = doctest.DocTestParser()
    test = parser.get_doctest(section, {}, "README.md (In Python)", str(ROOT / "README.md"), 0)
    assert len(test.examples) >= 6, "the README's Python flows are not written as doctests"
    result = _run([test])
    assert result.failed == 0, f"{result.failed} of {result.attempted} README examples failed (output above)"


def test_the_documentation_site_builds_without_a_warning(tmp_path):
    """docs/ is a Sphinx site (docs/conf.py): the tutorial, the Markdown chapters and an API reference generated from
    the docstrings.  Any warning (a page missing from the table of contents, a broken link between pages, a
    docstring Sphinx cannot parse) fails, and every public name of the package has its entry in the reference."""
    from sphinx.cmd.build import build_main

    html = tmp_path / "html"
    status = build_main(["-W", "--keep-going", "-q", "-b", "html", "-d", str(tmp_path / "doctrees"),
                         str(ROOT / "docs"), str(html)])
    assert status == 0, "sphinx-build -W failed (warnings above)"
    reference = (html / "api.html").read_text()
    missing = [name for name in astroxai.__all__ if not name.startswith("_") and name not in astroxai._MODULES
               and f'id="astroxai.{name}"' not in reference]
    assert not missing, f"public names without an entry in docs/api.rst: {missing}"
    assert (html / "tutorial.html").is_file() and "Ten minutes" in (html / "index.html").read_text()


def test_the_tutorials_python_runs(tmp_path, monkeypatch):
    """The tutorial's notebook block runs as written."""
    monkeypatch.chdir(tmp_path)
    text = (ROOT / "docs" / "tutorial.md").read_text()
    blocks = [part.split("```", 1)[0] for part in text.split("```python\n")[1:]]
    assert blocks, "docs/tutorial.md has no Python block"
    for block in blocks:
        exec(compile(block, "docs/tutorial.md", "exec"), {})  # noqa: S102 - the project's own documentation


def test_ci_runs_the_readme_test_command():
    """CI must test what a newcomer runs: ``.ci/run`` ends with README command 2, word for word."""
    readme = (ROOT / "README.md").read_text()
    command = next(line for line in readme.splitlines() if "pytest" in line and "pip install" in line)
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith(command.strip())
