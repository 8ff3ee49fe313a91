"""Batched generation with a tiny random Qwen2 model, and evaluation end to end (model and CLI)."""

from __future__ import annotations

import json

import pytest

from sqlr1x.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny():
    from sqlr1x.train.tiny import TinySpec, build_tiny_model, train_tokenizer

    tok = train_tokenizer(
        ["SELECT name FROM employees WHERE salary > 100", "How many employees?"] * 20, vocab_size=300
    )
    model = build_tiny_model(
        tok, TinySpec(vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=2)
    )
    return model, tok


def prompts(tok):
    chat = [{"role": "user", "content": "How many employees?"}]
    long = tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True) + "<think>"
    return [long, "SELECT", "How many employees earn more than 100 in total?"]


def test_greedy_is_deterministic_repeated_n_times_and_batch_independent(tiny):
    from sqlr1x.eval.generate import generate

    model, tok = tiny
    tok.padding_side = "right"
    out = generate(model, tok, prompts(tok), n=3, temperature=0.0, max_new_tokens=8, batch_size=3)
    assert tok.padding_side == "right"  # restored after left-padded batching
    assert len(out) == 3 and all(len(o) == 3 and len(set(o)) == 1 for o in out)
    one_by_one = generate(model, tok, prompts(tok), temperature=0.0, max_new_tokens=8, batch_size=1)
    assert [o[0] for o in out] == [o[0] for o in one_by_one]  # left padding does not change outputs
    assert generate(model, tok, [], n=2) == []
    with pytest.raises(ValueError, match="n must be"):
        generate(model, tok, ["x"], n=0)


def test_sampling_returns_n_samples_and_is_seedable(tiny):
    from sqlr1x.eval.generate import generate

    model, tok = tiny
    model.train()
    a = generate(model, tok, prompts(tok), n=4, temperature=1.0, max_new_tokens=8, batch_size=8, seed=7)
    b = generate(model, tok, prompts(tok), n=4, temperature=1.0, max_new_tokens=8, batch_size=8, seed=7)
    assert a == b and [len(x) for x in a] == [4, 4, 4]
    assert len(set(a[0])) > 1  # a random model at temperature 1 does not repeat itself
    assert model.training is True  # generation ran in eval mode and restored the training mode


def test_evaluate_with_a_model_reports_greedy_and_voted(tiny, tmp_path):
    from sqlr1x.data import load_spec
    from sqlr1x.eval.runner import evaluate

    model, tok = tiny
    examples = load_spec("demo:dev", limit=3)
    res = evaluate(examples, model=model, tokenizer=tok, n=2, temperature=0.8, max_new_tokens=8, n_boot=50)
    assert set(res.scores) == {"greedy", "voted"} and res.primary == "voted"
    assert all(len(sc) == 3 for sc in res.scores.values())
    assert all(s.n_samples == 2 for s in res.scores["voted"])
    assert res.summary()["greedy/ex_spider"] == res.metrics["greedy"]["metrics"]["ex_spider"]["mean"]
    assert res.metrics["greedy"]["metrics"]["format_valid_rate"]["n"] == 3
    files = res.write(tmp_path / "eval")
    assert {"metrics_json", "report_md", "metrics_png"} <= set(files)


def test_cli_eval_tiny_model_and_predictions_end_to_end(tmp_path, capsys):
    out = tmp_path / "tiny" / "eval"
    rc = main(
        [
            "eval",
            "--model",
            "tiny",
            "--dataset",
            "demo:dev",
            "--limit",
            "4",
            "--max-new-tokens",
            "16",
            "--n",
            "2",
            "--n-boot",
            "50",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert rc == 0
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["run"]["backend"] == "transformers" and doc["results"]["greedy"]["n"] == 4
    assert (out / "metrics.png").read_bytes()[:4] == b"\x89PNG"
    assert "| metric | voted | greedy |" in (out / "report.md").read_text()
    assert "ex_spider" in capsys.readouterr().out

    # our own predictions.jsonl scores again without a model, to the same numbers
    rc = main(
        [
            "eval",
            "--predictions",
            str(out / "predictions_greedy.jsonl"),
            "--dataset",
            "demo:dev",
            "--limit",
            "4",
            "--n-boot",
            "50",
            "--out",
            str(tmp_path / "again"),
            "--quiet",
        ]
    )
    assert rc == 0
    again = json.loads((tmp_path / "again" / "metrics.json").read_text())["results"]["predictions"]["metrics"]
    assert again["ex_spider"]["mean"] == doc["results"]["greedy"]["metrics"]["ex_spider"]["mean"]
    assert (
        again["format_valid_rate"]["mean"] == doc["results"]["greedy"]["metrics"]["format_valid_rate"]["mean"]
    )

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "nope", "sql": "SELECT 1"}) + "\n")
    assert main(["eval", "--predictions", str(bad), "--dataset", "demo:dev", "--quiet"]) == 2
    assert "none of its 1 ids" in capsys.readouterr().err
    assert main(["eval", "--dataset", "demo:dev"]) == 2
