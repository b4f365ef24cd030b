"""Shared ground below every stage and the call layer: settings, audio codecs, recogniser events.

Nothing here imports another package of this project (import-linter checks it: see .importlinter).
"""
