"""Sphinx configuration for heroku-tools' documentation.

Built with warnings as errors: ``inv docs`` (``sphinx-build -W --keep-going``).
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from heroku_tools import __version__  # noqa: E402

project = "heroku-tools"
author = "heroku-tools contributors"
copyright = "heroku-tools contributors"
version = release = __version__

extensions = ["sphinx.ext.autodoc"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"

exclude_patterns = ["_build"]
templates_path = []
html_static_path = []

html_theme = "alabaster"
html_theme_options = {
    "description": "Ship Django apps on Heroku: dev → uat → live, safely.",
    "fixed_sidebar": True,
}
html_title = f"heroku-tools {release}"

# Plain ``code`` in reST: literals, not references.
default_role = "literal"
highlight_language = "none"
nitpicky = False
