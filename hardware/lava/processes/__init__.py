"""spikerain's Lava Processes and ProcessModels.

Lava's compiler imports and executes every module in this folder (and its parent package) while it looks for
ProcessModels (``docs/sources.md`` §3.1), so these modules only define classes: no import-time work.
"""
