"""Lava backend: torch-free, runs in the ``.venv-lava`` interpreter (Python 3.10, lava-nc 0.10.0).

Importing this package imports nothing from Lava; the modules that need Lava import it themselves.
"""
