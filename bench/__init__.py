"""Benchmarks. Each module writes JSON to bench/results/ and a Markdown table into docs/benchmarks.md.

Claims are ratios against a baseline measured in the same run, on the same machine.
"""
