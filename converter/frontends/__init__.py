"""Frontends: other formats -> IR."""
