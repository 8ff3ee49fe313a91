"""Our verl adapter against the REAL verl (0.9.x), not only our own calls.

Skipped unless verl is importable; it needs its own environment (verl pins transformers < 5.11):
``make verl-check`` builds ``.venv-verl`` and runs this file. Everything runs on CPU with the
demo data and a tiny in-memory tokenizer (no hub access).

What it exercises, all through verl's own code:

* ``verl.utils.dataset.rl_dataset.RLHFDataset`` reading our ``export_verl`` parquet (its overlong
  filter tokenizes every prompt with the tokenizer's chat template; ``__getitem__`` returns the
  raw chat, which verl 0.9's agent loop tokenizes at rollout time),
* ``verl.trainer.ppo.reward.get_custom_reward_fn`` / ``load_reward_manager`` loading
  ``compute_score`` from ``reward.custom_reward_function.path/name`` (+ ``reward_kwargs``),
* the reward-loop ``NaiveRewardManager.run_single`` + ``assemble_rm_scores`` (the manager
  ``load_reward_manager`` builds) and the legacy ``verl.workers.reward_manager.NaiveRewardManager``
  on a ``DataProto`` of tokenized prompts and responses.
"""

from __future__ import annotations

from pathlib import Path

import pytest

verl = pytest.importorskip("verl")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from sqlr1x.data import load_spec  # noqa: E402
from sqlr1x.data.export import export_verl  # noqa: E402
from sqlr1x.integrations.verl import SCORE_KEYS  # noqa: E402
from sqlr1x.train.tiny import train_tokenizer  # noqa: E402

ADAPTER = Path(__file__).resolve().parents[1] / "src" / "sqlr1x" / "integrations" / "verl.py"


def _answer(sql: str) -> str:
    return f"<think>\nI use the table.\n</think>\n<answer>\n```sql\n{sql}\n```\n</answer>"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("verl_data")
    info = export_verl("demo:train", out, limit=6)
    assert info["train"] > 0 and info["test"] > 0
    return info


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    """Tiny byte-level BPE tokenizer with a ChatML template, saved and reloaded through verl."""
    from verl.utils import hf_tokenizer

    examples = load_spec("demo:train", limit=20)
    corpus = [ex.question for ex in examples] + [ex.gold_sql for ex in examples]
    path = tmp_path_factory.mktemp("tiny_tok")
    train_tokenizer(corpus, vocab_size=600).save_pretrained(path)
    return hf_tokenizer(str(path))


def _reward_config(**reward_kwargs):
    return OmegaConf.create(
        {
            "reward": {
                "reward_manager": {"source": "register", "name": "naive"},
                "custom_reward_function": {
                    "path": str(ADAPTER),
                    "name": "compute_score",
                    "reward_kwargs": reward_kwargs,
                },
            }
        }
    )


def _dataset(files, tokenizer, tmp_path, **config):
    from verl.utils.dataset.rl_dataset import RLHFDataset

    cfg = {"prompt_key": "prompt", "max_prompt_length": 4096, "cache_dir": str(tmp_path / "cache")}
    cfg.update(config)
    return RLHFDataset(data_files=files, tokenizer=tokenizer, config=OmegaConf.create(cfg))


def _batch(tokenizer, dataset, responses, idx):
    """A DataProto as verl's rollout leaves it: left-padded prompts, right-padded responses."""
    from verl import DataProto
    from verl.utils.dataset.rl_dataset import collate_fn

    items = [dataset[i] for i in idx]
    prompt_ids = [
        tokenizer.apply_chat_template(
            it["raw_prompt"], add_generation_prompt=True, tokenize=True, return_dict=False
        )
        for it in items
    ]
    prompt_ids = [list(p["input_ids"]) if isinstance(p, dict) else list(p) for p in prompt_ids]
    response_ids = [
        tokenizer(r, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for r in responses
    ]
    pad = tokenizer.pad_token_id
    p_len, r_len = max(map(len, prompt_ids)), max(map(len, response_ids)) + 3
    prompts = torch.tensor([[pad] * (p_len - len(p)) + p for p in prompt_ids])
    resp = torch.tensor([r + [pad] * (r_len - len(r)) for r in response_ids])
    p_mask = torch.tensor([[0] * (p_len - len(p)) + [1] * len(p) for p in prompt_ids])
    r_mask = torch.tensor([[1] * len(r) + [0] * (r_len - len(r)) for r in response_ids])
    batch = collate_fn(items)
    non_tensors = {k: v for k, v in batch.items() if not isinstance(v, torch.Tensor)}
    data = DataProto.from_dict(
        tensors={
            "prompts": prompts,
            "responses": resp,
            "input_ids": torch.cat([prompts, resp], dim=1),
            "attention_mask": torch.cat([p_mask, r_mask], dim=1),
        },
        non_tensors=non_tensors,
    )
    return data, [len(r) for r in response_ids]


def test_rlhf_dataset_reads_our_parquet(exported, tokenizer, tmp_path):
    from verl.utils.dataset.rl_dataset import collate_fn

    paths = exported["paths"]
    ds = _dataset([paths["train"], paths["test"]], tokenizer, tmp_path)
    assert len(ds) == exported["train"] + exported["test"]  # nothing filtered as overlong
    item = ds[0]
    assert item["data_source"] == "sqlr1x/demo"
    assert item["ability"] == "text2sql"
    assert [m["role"] for m in item["raw_prompt"]][-1] == "user"
    truth = item["reward_model"]["ground_truth"]
    assert item["reward_model"]["style"] == "rule"
    assert truth["sql"].upper().startswith("SELECT") and truth["db_id"]
    assert Path(item["extra_info"]["db_path"]).is_file()
    assert item["extra_info"]["split"] == "train" and item["index"] == 0
    # The prompt verl's rollout will tokenize, with the tokenizer's chat template.
    ids = tokenizer.apply_chat_template(item["raw_prompt"], add_generation_prompt=True, tokenize=True)
    ids = ids["input_ids"] if isinstance(ids, dict) else ids
    assert len(ids) > 0
    text = tokenizer.decode(ids)
    assert text.endswith("<|im_start|>assistant\n") and "<think>" not in text.split("assistant\n")[-1]
    batch = collate_fn([ds[i] for i in range(len(ds))])
    assert batch["reward_model"].dtype == object and len(batch["extra_info"]) == len(ds)
    # verl's overlong filter really tokenizes with the chat template: a tiny limit drops every row.
    assert len(_dataset([paths["train"]], tokenizer, tmp_path, max_prompt_length=len(ids) // 10)) == 0


def test_custom_reward_loader_and_call_convention(exported, tokenizer, tmp_path):
    from verl.trainer.ppo.reward import get_custom_reward_fn

    fn = get_custom_reward_fn(_reward_config())
    assert fn is not None
    ds = _dataset([exported["paths"]["test"]], tokenizer, tmp_path)
    item = ds[0]
    truth = item["reward_model"]["ground_truth"]
    extra = dict(item["extra_info"], num_turns=None, rollout_reward_scores={})  # as the manager adds
    call = {"data_source": item["data_source"], "ground_truth": truth, "extra_info": extra}
    good = fn(solution_str=_answer(truth["sql"]), **call)
    wrong = fn(solution_str=_answer("SELECT 1 WHERE 0"), **call)
    junk = fn(solution_str="no idea", **call)
    for out in (good, wrong, junk):
        assert tuple(out) == SCORE_KEYS and all(isinstance(v, float) for v in out.values())
    assert good["correct"] == 1.0 and wrong["correct"] == 0.0 and junk["format_ok"] == 0.0
    assert good["score"] > wrong["score"] > junk["score"]
    # reward_kwargs reach compute_score: with the db found via db_id + db_root instead of db_path.
    root = str(Path(item["extra_info"]["db_path"]).parents[1])
    by_root = get_custom_reward_fn(_reward_config(db_root=root))
    no_path = dict(extra, db_path=None)
    assert by_root(solution_str=_answer(truth["sql"]), **dict(call, extra_info=no_path))["correct"] == 1.0


def test_reward_loop_naive_manager(exported, tokenizer, tmp_path):
    from verl.experimental.reward_loop.reward_manager import NaiveRewardManager
    from verl.trainer.ppo.reward import load_reward_manager

    manager = load_reward_manager(_reward_config(), tokenizer)
    assert isinstance(manager, NaiveRewardManager)
    ds = _dataset([exported["paths"]["test"]], tokenizer, tmp_path)
    gold = [ds[i]["reward_model"]["ground_truth"]["sql"] for i in range(2)]
    responses = [_answer(gold[0]), _answer("SELECT 1 WHERE 0")]
    data, lengths = _batch(tokenizer, ds, responses, [0, 1])
    outs = [manager.loop.run_until_complete(manager.run_single(data[i : i + 1])) for i in range(len(data))]
    scores = [o["reward_score"] for o in outs]
    assert [tuple(o["reward_extra_info"]) for o in outs] == [SCORE_KEYS, SCORE_KEYS]
    assert outs[0]["reward_extra_info"]["correct"] == 1.0 and outs[1]["reward_extra_info"]["correct"] == 0.0
    assert scores[0] > scores[1]
    rm = type(manager).assemble_rm_scores(data, scores)
    for i, n in enumerate(lengths):
        assert rm[i, n - 1].item() == pytest.approx(scores[i])
        assert torch.count_nonzero(rm[i]).item() == (1 if scores[i] else 0)


def test_legacy_naive_manager_reward_tensor(exported, tokenizer, tmp_path):
    from verl.trainer.ppo.reward import get_custom_reward_fn
    from verl.workers.reward_manager import NaiveRewardManager

    manager = NaiveRewardManager(
        tokenizer=tokenizer, num_examine=0, compute_score=get_custom_reward_fn(_reward_config())
    )
    ds = _dataset([exported["paths"]["test"]], tokenizer, tmp_path)
    n = min(3, len(ds))
    gold = [ds[i]["reward_model"]["ground_truth"]["sql"] for i in range(n)]
    responses = [_answer(gold[0]), _answer("SELECT nonexistent_column FROM nowhere"), "I do not know."][:n]
    data, lengths = _batch(tokenizer, ds, responses, list(range(n)))
    out = manager(data, return_dict=True)
    reward, extra = out["reward_tensor"], out["reward_extra_info"]
    assert reward.shape == data.batch["responses"].shape
    assert sorted(extra) == sorted(SCORE_KEYS) and all(len(v) == n for v in extra.values())
    for i, length in enumerate(lengths):
        assert reward[i, length - 1].item() == pytest.approx(extra["score"][i])  # score at the last token
        assert torch.count_nonzero(reward[i, : length - 1]).item() == 0
        assert torch.count_nonzero(reward[i, length:]).item() == 0
    assert extra["correct"][0] == 1.0 and reward[0, lengths[0] - 1] > reward[1, lengths[1] - 1]
    assert np.isfinite(reward.numpy()).all()
