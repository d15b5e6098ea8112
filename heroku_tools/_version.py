"""The version, in a module of its own: importing it never imports the rest of the package."""

__version__ = "0.1.0"
