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
  on a ``DataProto`` of tokenized prompts and responses,
* portable rows: the databases are scored from a *copy* of the dataset's database folder moved
  elsewhere (``db_root``), and a missing root or file is an error naming it,
* dispatch on ``data_source`` (a BIRD row and Spider-semantics rows on a case where sets and bags
  differ) and option checking, through verl's loader and manager,
* the launch script ``examples/verl/run_grpo.sh``: its overrides composed by Hydra with verl's own
  config (``ppo_trainer``) and passed through verl's ``validate_config`` for both presets, its real
  command line with ``--cfg job`` (verl prints the composed config without training), and a wrong
  key failing both.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

verl = pytest.importorskip("verl")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from sqlr1x.data import load_spec  # noqa: E402
from sqlr1x.data.example import Example  # noqa: E402
from sqlr1x.data.export import export_verl, to_verl_rows, write_parquet  # noqa: E402
from sqlr1x.integrations.verl import OPTIONS, SCORE_KEYS  # noqa: E402
from sqlr1x.train.tiny import train_tokenizer  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ADAPTER = REPO / "src" / "sqlr1x" / "integrations" / "verl.py"
LAUNCH = REPO / "examples" / "verl" / "run_grpo.sh"


def _answer(sql: str) -> str:
    return f"<think>\nI use the table.\n</think>\n<answer>\n```sql\n{sql}\n```\n</answer>"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The demo export, with its database folder copied to another place (``moved_root``)."""
    out = tmp_path_factory.mktemp("verl_data")
    info = export_verl("demo:train", out, limit=6)
    assert info["train"] > 0 and info["test"] > 0
    moved = tmp_path_factory.mktemp("other_node") / "dbs"
    shutil.copytree(info["db_root"], moved)
    return {**info, "moved_root": str(moved)}


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
    assert "db_path" not in item["extra_info"]  # portable: a path relative to the database root
    assert Path(exported["moved_root"], item["extra_info"]["db_relpath"]).is_file()
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

    fn = get_custom_reward_fn(_reward_config(db_root=exported["moved_root"]))
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
    # reward_kwargs reach compute_score: with only db_id (no db_relpath) the db is <root>/<id>/<id>.sqlite.
    no_rel = {k: v for k, v in extra.items() if k != "db_relpath"}
    assert fn(solution_str=_answer(truth["sql"]), **dict(call, extra_info=no_rel))["correct"] == 1.0


def test_reward_loop_naive_manager(exported, tokenizer, tmp_path):
    from verl.experimental.reward_loop.reward_manager import NaiveRewardManager
    from verl.trainer.ppo.reward import load_reward_manager

    manager = load_reward_manager(_reward_config(db_root=exported["moved_root"]), tokenizer)
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
        tokenizer=tokenizer,
        num_examine=0,
        compute_score=get_custom_reward_fn(_reward_config(db_root=exported["moved_root"])),
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


# -- portable rows, dispatch and options through verl's own manager --------------------------------------
def _run(manager, data):
    return [manager.loop.run_until_complete(manager.run_single(data[i : i + 1])) for i in range(len(data))]


def test_portable_rows_missing_root_or_file_fail_loudly(exported, tokenizer, tmp_path, monkeypatch):
    from verl.trainer.ppo.reward import load_reward_manager

    monkeypatch.delenv("SQLR1X_DB_ROOT", raising=False)
    ds = _dataset([exported["paths"]["test"]], tokenizer, tmp_path)
    gold = ds[0]["reward_model"]["ground_truth"]["sql"]
    data, _ = _batch(tokenizer, ds, [_answer(gold)], [0])
    rel = ds[0]["extra_info"]["db_relpath"]
    # The copy on "another node" scores; the rows name no path of the exporting machine.
    ok = _run(load_reward_manager(_reward_config(db_root=exported["moved_root"]), tokenizer), data)
    assert ok[0]["reward_extra_info"]["correct"] == 1.0
    # The environment variable works as the root too.
    monkeypatch.setenv("SQLR1X_DB_ROOT", exported["moved_root"])
    assert (
        _run(load_reward_manager(_reward_config(), tokenizer), data)[0]["reward_extra_info"]["correct"] == 1.0
    )
    monkeypatch.delenv("SQLR1X_DB_ROOT")
    with pytest.raises(
        FileNotFoundError, match=rf"db_relpath '{rel}'.*no database root.*reward_kwargs.db_root"
    ):
        _run(load_reward_manager(_reward_config(), tokenizer), data)
    empty = tmp_path / "empty_root"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=rf"database '{empty / rel}' not found"):
        _run(load_reward_manager(_reward_config(db_root=str(empty)), tokenizer), data)
    with pytest.raises(FileNotFoundError, match=rf"database root '{tmp_path / 'gone'}'.*not a folder"):
        _run(load_reward_manager(_reward_config(db_root=str(tmp_path / "gone")), tokenizer), data)


def test_data_source_dispatch_through_verl(tokenizer, tmp_path):
    """A BIRD row and two Spider-semantics rows, same database, gold and response: sets vs bags."""
    from verl.trainer.ppo.reward import load_reward_manager

    root = tmp_path / "dbs"
    (root / "dup").mkdir(parents=True)
    con = sqlite3.connect(root / "dup" / "dup.sqlite")
    con.executescript("CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1), (1), (2);")
    con.close()
    examples = [
        Example(
            id=f"{source}_0",
            question="Which values of a are there?",
            evidence="",
            db_id="dup",
            db_path=str(root / "dup" / "dup.sqlite"),
            gold_sql="SELECT a FROM t",
            source=source,
            split="train",
        )
        for source in ("bird", "spider", "synsql")
    ]
    path = write_parquet(to_verl_rows(examples, db_root=root), tmp_path / "mixed.parquet")
    ds = _dataset([str(path)], tokenizer, tmp_path)
    assert [ds[i]["data_source"] for i in range(3)] == ["bird", "spider", "synsql"]
    dedup = _answer("SELECT a FROM t GROUP BY a")  # the gold's rows without the duplicate
    data, _ = _batch(tokenizer, ds, [dedup] * 3, [0, 1, 2])
    outs = _run(load_reward_manager(_reward_config(db_root=str(root)), tokenizer), data)
    assert [o["reward_extra_info"]["correct"] for o in outs] == [1.0, 0.0, 0.0]
    assert [o["reward_extra_info"]["result"] for o in outs] == [3.0, -3.0, -3.0]


def test_options_are_checked_through_verl(exported, tokenizer, tmp_path):
    from verl.trainer.ppo.reward import get_custom_reward_fn

    ds = _dataset([exported["paths"]["test"]], tokenizer, tmp_path)
    item = ds[0]
    call = {
        "data_source": item["data_source"],
        "ground_truth": item["reward_model"]["ground_truth"],
        "extra_info": dict(item["extra_info"]),
        "solution_str": _answer(item["reward_model"]["ground_truth"]["sql"]),
    }
    bad = get_custom_reward_fn(_reward_config(db_root=exported["moved_root"], syntax_wieght=0.5))
    with pytest.raises(ValueError, match=r"unknown reward option\(s\) \['syntax_wieght'\].*'syntax_weight'"):
        bad(**call)
    good = get_custom_reward_fn(
        _reward_config(db_root=exported["moved_root"], workers=2, syntax_weight=0.5, unknown_source="spider")
    )
    out = good(**call)
    assert out["correct"] == 1.0 and out["syntax"] == 0.5
    assert "workers" in OPTIONS


# -- the launch script -----------------------------------------------------------------------------------
def _overrides(**env) -> list[str]:
    run = subprocess.run(
        ["bash", str(LAUNCH)],
        env={**os.environ, "PRINT_ONLY": "1", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return run.stdout.splitlines()


def _compose(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    config_dir = Path(verl.__file__).parent / "trainer" / "config"
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        return compose(config_name="ppo_trainer", overrides=overrides)


def _validate(config) -> None:
    """verl's own ``validate_config``, as ``main_ppo`` calls it before starting Ray."""
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    config = config.copy()
    if config.actor_rollout_ref.model.lora_rank > 0 and importlib.util.find_spec("vllm") is None:
        # Its LoRA-rank check imports vLLM (GPU only): check the rank against vLLM's list here instead.
        assert config.actor_rollout_ref.model.lora_rank in (1, 8, 16, 32, 64, 128, 256, 320, 512)
        config.actor_rollout_ref.model.lora_rank = 0
    validate_config(
        config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config)
    )


@pytest.mark.parametrize("preset", ["8gpu", "1gpu"])
def test_launch_script_composes_into_a_valid_verl_config(preset, exported, tokenizer, tmp_path):
    from verl.trainer.ppo.reward import get_custom_reward_fn

    data_dir = str(Path(exported["paths"]["train"]).parent)
    overrides = _overrides(PRESET=preset, DATA_DIR=data_dir, DB_ROOT=exported["moved_root"])
    cfg = _compose(overrides)
    _validate(cfg)
    arr, actor, rollout = cfg.actor_rollout_ref, cfg.actor_rollout_ref.actor, cfg.actor_rollout_ref.rollout
    # SQL-R1's published settings (sh/train.sh), in verl 0.9's key names.
    assert cfg.algorithm.adv_estimator == "grpo" and cfg.algorithm.use_kl_in_reward is False
    assert (cfg.data.train_batch_size, rollout.n, actor.ppo_mini_batch_size) == (8, 8, 8)
    assert (cfg.data.max_prompt_length, cfg.data.max_response_length) == (4096, 2048)
    assert (actor.use_kl_loss, actor.kl_loss_coef, actor.kl_loss_type) == (True, 0.001, "low_var_kl")
    assert (actor.entropy_coeff, actor.clip_ratio, actor.grad_clip, rollout.temperature) == (
        0.001,
        0.2,
        1.0,
        1.1,
    )
    assert rollout.name == "vllm" and actor.fsdp_config.param_offload and arr.ref.fsdp_config.param_offload
    assert (cfg.trainer.total_epochs, cfg.trainer.save_freq, cfg.trainer.test_freq) == (10, 100, 100)
    if preset == "8gpu":
        assert arr.model.path == "Qwen/Qwen2.5-Coder-7B-Instruct"
        assert (
            cfg.trainer.n_gpus_per_node,
            rollout.tensor_model_parallel_size,
            rollout.gpu_memory_utilization,
        ) == (
            8,
            4,
            0.2,
        )
        assert actor.optim.lr == 3e-7 and arr.model.lora_rank == 0
    else:
        assert arr.model.path == "Qwen/Qwen2.5-Coder-3B-Instruct"
        assert (cfg.trainer.n_gpus_per_node, rollout.tensor_model_parallel_size, arr.model.lora_rank) == (
            1,
            1,
            32,
        )
        assert actor.optim.lr == 1e-5
    # Our data and reward, read from the composed config the way main_ppo reads them.
    assert (
        cfg.data.train_files == exported["paths"]["train"] and cfg.data.val_files == exported["paths"]["test"]
    )
    assert Path(cfg.reward.custom_reward_function.path) == ADAPTER
    assert cfg.reward.custom_reward_function.reward_kwargs.db_root == exported["moved_root"]
    fn = get_custom_reward_fn(cfg)
    ds = _dataset([cfg.data.val_files], tokenizer, tmp_path)
    item = ds[0]
    out = fn(
        data_source=item["data_source"],
        solution_str=_answer(item["reward_model"]["ground_truth"]["sql"]),
        ground_truth=item["reward_model"]["ground_truth"],
        extra_info=dict(item["extra_info"]),
    )
    assert out["correct"] == 1.0


@pytest.mark.parametrize(
    "wrong",
    [
        "actor_rollout_ref.actor.ppo_micro_batch_sise=2",  # a typo
        "actor_rollout_ref.actor.fsdp_config.grad_offload=True",  # SQL-R1's verl 0.1 key, gone in 0.9
        "reward.custom_reward_function.kwargs.db_root=/x",  # reward_kwargs misspelt
    ],
)
def test_a_wrong_key_fails_composition(wrong, exported):
    from hydra.errors import ConfigCompositionException

    overrides = _overrides(DB_ROOT=exported["moved_root"])
    with pytest.raises(ConfigCompositionException, match=wrong.split("=")[0].split(".")[-1]):
        _compose(overrides + [wrong])


def test_launch_command_with_cfg_job_prints_the_config_without_training(exported, tmp_path):
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "DATA_DIR": str(Path(exported["paths"]["train"]).parent),  # DB_ROOT from its export_info.json
        "OUTPUT_DIR": str(tmp_path / "ckpt"),
    }
    env.pop("DB_ROOT", None)
    run = subprocess.run(
        ["bash", str(LAUNCH), "--cfg", "job"], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert f"path: {ADAPTER}" in run.stdout and f"db_root: {exported['db_root']}" in run.stdout
    assert "adv_estimator: grpo" in run.stdout
    assert not (tmp_path / "ckpt").exists()  # nothing ran
    wrong = ["bash", str(LAUNCH), "actor_rollout_ref.rollout.nn=8", "--cfg", "job"]
    bad = subprocess.run(wrong, env=env, capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "Key 'nn' is not in struct" in bad.stdout + bad.stderr
