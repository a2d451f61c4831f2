"""The package's layering, guarded: a lower layer never imports a higher one (function-level imports included),
sibling layers do not import each other, and no module imports another module's private name."""

import ast
from pathlib import Path

import astroxai

PACKAGE = Path(astroxai.__file__).parent
#: Each module's layer, from the bottom: errors → base → io → reduce → simulate → models → explain | embed →
#: report → workflows → view → cli.  ``explain`` and ``embed`` are siblings of one rank.
LAYERS = {
    "errors": -1, "vocabulary": -1, "results": -1, "spectrum": 0, "lines": 0, "provenance": 0, "parallel": 0,
    "progress": 0, "data": 0,
    "io": 1, "reduce": 2, "simulate": 3, "models": 4, "explain": 5, "embed": 5, "report": 6, "workflows": 7,
    "view": 8, "cli": 9,
}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts == ("__init__",):
            continue  # the package's face imports its vocabulary lazily from every layer
        yield path, parts


def _imports(path):
    """(module imported, names imported from it, line) for every astroxai import in a file, at any depth."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("astroxai"):
            yield node.module, [alias.name for alias in node.names], node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("astroxai"):
                    yield alias.name, [], node.lineno


def test_every_module_has_a_layer():
    missing = {parts[0] for _, parts in _modules()} - set(LAYERS)
    assert not missing, f"modules without a layer: {missing}"


def test_no_upward_or_sideways_import():
    problems = []
    for path, parts in _modules():
        own = parts[0]
        for module, _, line in _imports(path):
            target = module.split(".")[1] if module.count(".") else None
            if target is None or target == own:
                continue
            if LAYERS[target] > LAYERS[own] or (LAYERS[target] == LAYERS[own]):
                problems.append(f"{path.relative_to(PACKAGE)}:{line} ({own}) imports {module}")
    assert not problems, "\n".join(problems)


def test_no_private_name_crosses_a_module():
    problems = []
    for path, parts in _modules():
        own = "astroxai." + ".".join(parts)
        for module, names, line in _imports(path):
            private = [n for n in names if n.startswith("_") and n != "__version__"]
            if private and module != own:
                problems.append(f"{path.relative_to(PACKAGE)}:{line} imports {private} from {module}")
    assert not problems, "\n".join(problems)


def test_the_guard_catches_what_it_guards(tmp_path, monkeypatch):
    """The guard itself can fail: a fake upward import and a private reach-in are both reported."""
    bad = tmp_path / "astroxai_fake.py"
    bad.write_text("from astroxai.cli import main\nfrom astroxai.models.svm import _best\n")
    found = list(_imports(bad))
    assert ("astroxai.cli", ["main"], 1) in found and ("astroxai.models.svm", ["_best"], 2) in found
    assert LAYERS["cli"] > LAYERS["data"]


def test_importing_the_package_is_light_and_sets_no_backend():
    import subprocess
    import sys

    code = ("import sys, astroxai; assert 'torch' not in sys.modules and 'matplotlib' not in sys.modules, "
            "sorted(m for m in sys.modules if m.startswith(('torch', 'matplotlib')))[:3]\n"
            "import matplotlib; before = matplotlib.get_backend()\n"
            "import astroxai.workflows.run, astroxai.report.html\n"
            "assert matplotlib.get_backend() == before, (before, matplotlib.get_backend())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"MPLBACKEND": "svg",
                                                                                                  "PATH": "/usr/bin"})
    assert result.returncode == 0, result.stderr
