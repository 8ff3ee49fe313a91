"""Dataset spec strings."""

from __future__ import annotations

import pytest

from sqlr1x.data import DatasetError, parse_spec
from sqlr1x.data.spec import DatasetSpec


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("spider:/data/spider:dev", DatasetSpec("spider", "/data/spider", "dev")),
        ("spider:/data/spider", DatasetSpec("spider", "/data/spider", "dev")),
        ("bird:/data/bird:train", DatasetSpec("bird", "/data/bird", "train")),
        ("wikisql:/w:test:cache_dir=/tmp/c", DatasetSpec("wikisql", "/w", "test", {"cache_dir": "/tmp/c"})),
        (
            "synsql:/s:complexity=Complex,Moderate:limit=40",
            DatasetSpec("synsql", "/s", "train", {"complexity": "Complex,Moderate", "limit": "40"}),
        ),
        ("demo:dev", DatasetSpec("demo", "", "dev")),
        ("demo:train:limit=3", DatasetSpec("demo", "", "train", {"limit": "3"})),
        ("spider:C:/data/spider:dev", DatasetSpec("spider", "C:/data/spider", "dev")),
    ],
)
def test_parse(spec, expected):
    assert parse_spec(spec) == expected


def test_round_trip():
    for spec in ("spider:/d:dev", "synsql:/s:train:complexity=Complex", "demo:dev"):
        assert str(parse_spec(spec)) == spec


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nope:/x", "KIND"),
        ("spider", "KIND"),
        ("spider:/x:validation", "unknown spider split 'validation'"),
        ("demo:test", "demo:SPLIT"),
        ("bird:/x:dev:complexity=Complex", "unknown option 'complexity'"),
        ("spider::dev", "missing the dataset folder"),
    ],
)
def test_bad_specs(spec, message):
    with pytest.raises(DatasetError, match=message):
        parse_spec(spec)


def test_bad_limit():
    from sqlr1x.data import load_spec

    with pytest.raises(DatasetError, match="limit"):
        load_spec("demo:dev:limit=abc")
