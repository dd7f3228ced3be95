"""radsnake: the importable code behind the workflow's rule scripts.

Rule scripts under ``scripts/`` are thin: they set up logging and threads, then call
one function of this package with plain arguments. Tests import it directly.
"""

__version__ = "0.1.0"
