"""sqlr1x: GRPO training and evaluation of Text-to-SQL reasoning models.

The SQL-R1 execution reward plus dense schema, structure and syntax rewards.
See docs/architecture.md for the module map.
"""

__version__ = "0.1.0"
