"""Sphinx configuration of astroxai's documentation site.

Build it with ``python -m sphinx -W -b html docs docs/_build/html`` (the ``[docs]`` extra installs Sphinx,
numpydoc and MyST).  The chapters are the Markdown pages beside this file; the API reference is generated from the
numpydoc docstrings of the public objects (``api.md``).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))  # the documented code is the checkout's, installed or not

import astroxai  # noqa: E402

project = "astroxai"
author = "the astroxai developers"
copyright = "2026, the astroxai developers"  # noqa: A001 - Sphinx's own setting name
release = version = astroxai.__version__

extensions = ["sphinx.ext.autodoc", "numpydoc", "myst_parser", "sphinx.ext.viewcode"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
# the figure and analysis scripts beside the pages are not pages
exclude_patterns = ["_build", "*.py", "figures/*.py"]

# the pages were written for GitHub, where a heading is a link target
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]

autodoc_member_order = "bysource"
autodoc_typehints = "none"  # numpydoc's Parameters sections say the types
numpydoc_show_class_members = False
numpydoc_validation_checks: set = set()

html_theme = "alabaster"
html_title = f"astroxai {release}"
html_theme_options = {"description": "classifiers of astronomical data, and why they decide what they decide",
                      "fixed_sidebar": True}
