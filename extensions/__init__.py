"""Seed-compatible entry points: thin re-exports of the ``sqlr1x`` package (the real code lives there)."""
