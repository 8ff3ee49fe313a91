"""Text-to-SQL examples: loaders (Spider, BIRD, SynSQL, WikiSQL, bundled demo), prompts, exports.

>>> from sqlr1x.data import load_spec
>>> ex = load_spec("demo:train", limit=1)[0]
>>> ex.source, ex.split
('demo', 'train')
"""

from sqlr1x.data.example import DatasetError, Example
from sqlr1x.data.export import export_verl, to_hf_dataset, to_verl_rows
from sqlr1x.data.prompt import (
    THINK_PREFILL,
    PromptStats,
    RenderedPrompt,
    build_messages,
    gold_completion,
    render_prompt,
    render_prompts,
)
from sqlr1x.data.spec import DatasetSpec, demo_path, load_spec, parse_spec

__all__ = [
    "THINK_PREFILL",
    "DatasetError",
    "DatasetSpec",
    "Example",
    "PromptStats",
    "RenderedPrompt",
    "build_messages",
    "demo_path",
    "export_verl",
    "gold_completion",
    "load_spec",
    "parse_spec",
    "render_prompt",
    "render_prompts",
    "to_hf_dataset",
    "to_verl_rows",
]
