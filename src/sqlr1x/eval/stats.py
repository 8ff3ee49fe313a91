"""Bootstrap confidence intervals (numpy, seeded): one sample, and paired differences of two.

Percentile bootstrap over examples. Resampling is done in chunks so memory stays bounded for
large evaluation sets.

Example::

    >>> import numpy as np
    >>> mean, lo, hi = bootstrap_mean([1, 0, 1, 1, 0, 1, 1, 1], seed=0)
    >>> round(mean, 3), lo <= mean <= hi
    (0.75, True)
    >>> d = paired_bootstrap([0, 0, 1, 0], [1, 0, 1, 1], seed=0)
    >>> d["delta"], d["rel_delta"]
    (0.5, 2.0)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

N_BOOT = 2000
ALPHA = 0.05
_CHUNK_CELLS = 2_000_000  # indices drawn per chunk (16 MB of int64)


def _index_chunks(n: int, n_boot: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    rows = max(1, _CHUNK_CELLS // max(n, 1))
    for start in range(0, n_boot, rows):
        yield rng.integers(0, n, size=(min(rows, n_boot - start), n))


def _cat(chunks: list[np.ndarray]) -> np.ndarray:
    # no chunks when n_boot <= 0: a NaN sample, so intervals come out NaN
    return np.concatenate(chunks) if chunks else np.array([np.nan])


def _interval(samples: np.ndarray, alpha: float) -> tuple[float, float]:
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.percentile(samples, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(lo), float(hi)


def bootstrap_mean(
    values: Sequence[float], *, n_boot: int = N_BOOT, seed: int = 0, alpha: float = ALPHA
) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean and its percentile bootstrap ``1 - alpha`` interval.

    An empty input gives NaNs; a single value gives a zero-width interval; ``n_boot=0`` skips the
    bootstrap (NaN interval), for cheap logging during training.
    """
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    if n_boot <= 0:
        return float(x.mean()), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = np.concatenate([x[idx].mean(axis=1) for idx in _index_chunks(x.size, n_boot, rng)])
    return (float(x.mean()), *_interval(means, alpha))


def _rel(delta: np.ndarray | float, base: np.ndarray | float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.asarray(base) != 0, np.asarray(delta) / np.abs(np.asarray(base)), np.nan)


_KEYS = ("mean_a", "mean_b", "delta", "delta_low", "delta_high", "rel_delta", "rel_low", "rel_high")


def _summary(
    xa: np.ndarray, xb: np.ndarray, ma: np.ndarray, mb: np.ndarray, alpha: float
) -> dict[str, float]:
    """Point estimates from the data, intervals from the bootstrap means ``ma``/``mb``."""
    mean_a, mean_b = float(xa.mean()), float(xb.mean())
    d_lo, d_hi = _interval(mb - ma, alpha)
    r_lo, r_hi = _interval(_rel(mb - ma, ma), alpha)
    values = (mean_a, mean_b, mean_b - mean_a, d_lo, d_hi, float(_rel(mean_b - mean_a, mean_a)), r_lo, r_hi)
    return dict(zip(_KEYS, values, strict=True))


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], *, n_boot: int = N_BOOT, seed: int = 0, alpha: float = ALPHA
) -> dict[str, float]:
    """Compare ``b`` against ``a`` on the same examples (equal length, same order).

    Returns ``mean_a, mean_b, delta (b - a), delta_low, delta_high, rel_delta ((b - a) / |a|),
    rel_low, rel_high`` — resampling example indices jointly so per-example pairing is kept.
    ``rel_*`` are NaN when ``mean_a`` is 0.
    """
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if xa.shape != xb.shape:
        raise ValueError(f"paired samples differ in length: {xa.size} vs {xb.size}")
    if xa.size == 0:
        return dict.fromkeys(_KEYS, float("nan"))
    rng = np.random.default_rng(seed)
    ma_s, mb_s = [], []
    for idx in _index_chunks(xa.size, n_boot, rng):
        ma_s.append(xa[idx].mean(axis=1))
        mb_s.append(xb[idx].mean(axis=1))
    ma, mb = _cat(ma_s), _cat(mb_s)
    return _summary(xa, xb, ma, mb, alpha)


def unpaired_bootstrap(
    a: Sequence[float], b: Sequence[float], *, n_boot: int = N_BOOT, seed: int = 0, alpha: float = ALPHA
) -> dict[str, float]:
    """Like ``paired_bootstrap`` for two independent samples (different examples): each resampled alone."""
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if xa.size == 0 or xb.size == 0:
        return dict.fromkeys(_KEYS, float("nan"))
    rng = np.random.default_rng(seed)
    ma = _cat([xa[i].mean(axis=1) for i in _index_chunks(xa.size, n_boot, rng)])
    mb = _cat([xb[i].mean(axis=1) for i in _index_chunks(xb.size, n_boot, rng)])
    return _summary(xa, xb, ma, mb, alpha)


def moving_average(values: Sequence[float], window: int) -> list[float]:
    """Trailing moving average (the first points average what exists so far).

    >>> moving_average([0, 2, 4, 6], 2)
    [0.0, 1.0, 3.0, 5.0]
    """
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= window:
            acc -= values[i - window]
        out.append(acc / min(i + 1, window))
    return out
