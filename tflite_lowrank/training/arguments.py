"""`EmbeddingFactorization`'s argument checks and its rank resolution.

Private helpers of `tflite_lowrank.training.callback`: `_check_arguments` checks the
constructor's arguments before anything is stored; when `fit()` starts,
`_check_not_split` refuses a callback that already split, `_check_rank` checks `rank`
or `compression` against the chosen layer's table and `_warn_if_never_splits` warns
if `fit()` is too short; at the split, `_rank_at_split` gives the rank of the factors
(from `rank`, `compression` or `energy`, capped at `_max_useful_rank`, the largest
rank that still saves parameters). The guards of a run are in `guards`.
"""

from __future__ import annotations

import math
import warnings

import keras
import numpy as np

from tflite_lowrank.factorization.svd import (
    SVD_METHODS,
    rank_for_compression,
    rank_for_energy,
    singular_values,
)
from tflite_lowrank.training.optimizer import _CALR_KEPT_THRESHOLD
from tflite_lowrank.utils.checks import check_compression, check_energy
from tflite_lowrank.utils.checks import check_int as _check_int

SPLIT_FROM = ("last", "best")
_LEARNING_RATE_DEFAULT = "calr"
# Named CALR settings: the default (chosen on dev) and the authors' fine-tuning values.
_LEARNING_RATE_NAMES = ("calr", "calr_peak_1e-2", "calr_peak_2e-3", "calr_paper")
# The names as the error messages list them: "calr", "calr_peak_1e-2", ...
_QUOTED_NAMES = ", ".join(f'"{name}"' for name in _LEARNING_RATE_NAMES)


def _check_arguments(
    layer_name, *, rank, compression, energy, at_epoch, learning_rate, verbose
) -> None:
    """Raises for a bad constructor argument, in the order they are documented."""
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise ValueError(
            "`EmbeddingFactorization` supports the TensorFlow backend only (it "
            "swaps variables in the middle of `fit()`). Set "
            f"KERAS_BACKEND=tensorflow. Received: backend={backend!r}"
        )
    if layer_name is not None and not isinstance(layer_name, str):
        raise TypeError(
            "`layer_name` must be a string or None. "
            f"Received: layer_name={layer_name!r} (of type "
            f"{type(layer_name).__name__})"
        )
    given = [v is not None for v in (rank, compression, energy)]
    if sum(given) != 1:
        raise ValueError(
            "Pass exactly one of `rank`, `compression` or `energy`. "
            f"Received: rank={rank}, compression={compression}, energy={energy}"
        )
    if rank is not None:
        _check_int("rank", rank, minimum=1)
    if compression is not None:
        check_compression(compression)
    if energy is not None:
        check_energy(energy)
    if isinstance(at_epoch, bool) or not isinstance(at_epoch, int | np.integer):
        raise TypeError(
            "`at_epoch` must be an integer (epochs completed before the split). "
            f"Received: at_epoch={at_epoch!r} (of type {type(at_epoch).__name__})"
        )
    if at_epoch < 1:
        raise ValueError(
            "`at_epoch` must be >= 1: the table is split after that many epochs "
            f"of training. Received: at_epoch={at_epoch}"
        )
    _check_learning_rate(learning_rate)
    if isinstance(verbose, bool) or not isinstance(verbose, int | np.integer):
        raise TypeError(f"`verbose` must be an integer. Received: verbose={verbose!r}")


# `None`: the recipe's choice, `True` (the paper's retraining) unless
# `weighting="auto"` takes the fixed-basis recipe below.
_TRAIN_BASIS_DEFAULT = None

# `train_basis="auto"` keeps the basis fixed for a split that keeps at least this
# fraction of the table's parameters. On the datasets a fixed basis helps (RT, R8) it
# wins on dev at p = 0.5 and 0.65 and loses on RT at 0.8 and 0.9
# (benchmarks/results/split_probes.md); the threshold lies between 0.65 and 0.8.
_FIXED_BASIS_KEPT_THRESHOLD = 0.3


def _check_train_basis(train_basis) -> None:
    """Raises unless `train_basis` is `None`, `True`, `False` or `"auto"`."""
    if not (
        train_basis is None or isinstance(train_basis, bool) or train_basis == "auto"
    ):
        raise ValueError(
            '`train_basis` must be None, True, False or "auto". '
            f"Received: train_basis={train_basis!r}"
        )


def _resolve_train_basis(train_basis, kept: float, recipe: bool = False) -> bool:
    """`train_basis` for a split keeping `kept` of the table's parameters.

    `recipe`: `weighting="auto"` took the fixed-basis recipe (a recurrent consumer,
    or a model that fits its training data), which `None` follows.
    """
    if train_basis is None:
        return not recipe
    if train_basis == "auto":
        return kept < _FIXED_BASIS_KEPT_THRESHOLD
    return bool(train_basis)


_WEIGHTING_DEFAULT = "auto"
_WEIGHTINGS = ("auto", "none", "consumer")

# `weighting="auto"` takes the fixed-basis recipe (consumer-weighted split, fixed
# basis) for splits keeping at most this fraction of the table's parameters: the
# heavy splits of the default CALR, where it was chosen on dev (LSTM, p = 0.9:
# benchmarks/results/split_probes_lstm.md and frontier_lstm.md; a model that fits its
# training data, p = 0.9: pipelines.md). Lighter splits keep the plain SVD (not
# measured there).
_RECIPE_KEPT_THRESHOLD = _CALR_KEPT_THRESHOLD


def _resolve_weighting(
    weighting: str, kept: float, calibrated: bool, fixed_recipe: bool
) -> str:
    """`"none"` or `"consumer"`: what `weighting` means for this split.

    `"auto"` is `"consumer"` for a heavy split (`kept` at most
    `_RECIPE_KEPT_THRESHOLD`) without calibration data that takes the fixed-basis
    recipe (`fixed_recipe`: a recurrent layer reads its vectors, or the model fits
    its training data, `split.fits_training_data`), else `"none"`.

    >>> _resolve_weighting("auto", 0.1, calibrated=False, fixed_recipe=True)
    'consumer'
    >>> _resolve_weighting("auto", 0.1, calibrated=False, fixed_recipe=False)
    'none'
    >>> _resolve_weighting("auto", 0.5, calibrated=False, fixed_recipe=True)
    'none'
    """
    if weighting != "auto":
        return weighting
    heavy = kept <= _RECIPE_KEPT_THRESHOLD
    return "consumer" if heavy and fixed_recipe and not calibrated else "none"


def _check_svd_method(svd_method) -> None:
    """Raises unless `svd_method` is one of `SVD_METHODS`."""
    if not isinstance(svd_method, str) or svd_method not in SVD_METHODS:
        raise ValueError(
            f"`svd_method` must be one of {SVD_METHODS}. "
            f"Received: svd_method={svd_method!r}"
        )


def _check_weighting(weighting, calibration_data) -> None:
    """Raises unless `weighting` is a known name that agrees with `calibration_data`."""
    if not isinstance(weighting, str) or weighting not in _WEIGHTINGS:
        raise ValueError(
            '`weighting` must be "auto", "none" or "consumer". '
            f"Received: weighting={weighting!r}"
        )
    if calibration_data is not None and weighting == "consumer":
        raise ValueError(
            "`calibration_data` already weights the split (by the loss gradient), "
            'so `weighting` must be "auto" or "none" with it. '
            f"Received: weighting={weighting!r} with calibration_data"
        )


def _check_not_split(result, at_epoch: int) -> None:
    """Raises if the callback already split (its `result` is set)."""
    if result is not None:
        raise ValueError(
            "This `EmbeddingFactorization` already split layer "
            f"'{result.layer_name}' at epoch {result.epoch}; a "
            "callback splits once. Create a new one for another run, or leave "
            "it out when training the factorized model further. "
            f"Received: at_epoch={at_epoch}"
        )


def _check_rank(layer, *, rank, compression) -> None:
    """Raises if `rank` or `compression` gives no useful rank for `layer`'s table."""
    input_dim, output_dim = layer.input_dim, layer.output_dim
    if compression is not None:
        try:
            rank_for_compression(input_dim, output_dim, compression)
        except ValueError as error:
            raise ValueError(
                f"{error} (layer '{layer.name}'). Received: compression={compression}"
            ) from None
        return
    if rank is None:
        return
    max_rank = _max_useful_rank(input_dim, output_dim)
    if rank > max_rank:
        raise ValueError(
            f"`rank` must be at most {max_rank} for the {input_dim} x "
            f"{output_dim} table of layer '{layer.name}': at a larger rank the "
            f"factors ({rank} x ({input_dim} + {output_dim}) parameters) are "
            "not smaller than the table, or the rank is not below "
            f"min({input_dim}, {output_dim}). Received: rank={rank}"
        )


def _rank_at_split(layer, table, *, rank, compression, energy) -> tuple[int, int]:
    """The rank of the factors of `layer`'s trained `table`, and the rank wanted.

    They differ only when `energy` wants a rank that would not save parameters: the
    rank is then capped at `_max_useful_rank` (the caller logs it).
    """
    input_dim, output_dim = layer.input_dim, layer.output_dim
    if energy is not None:
        wanted = rank_for_energy(singular_values(table), energy)
        return min(wanted, _max_useful_rank(input_dim, output_dim)), wanted
    if compression is not None:
        rank = rank_for_compression(input_dim, output_dim, compression)
    return rank, rank


def _warn_if_never_splits(at_epoch: int, epochs: int) -> None:
    """Warns (for the caller's caller) if `fit()` ends before epoch `at_epoch` does."""
    if at_epoch >= epochs:
        warnings.warn(
            f"`EmbeddingFactorization(at_epoch={at_epoch})` will never "
            f"split: `fit()` runs {epochs} epochs and the split happens after "
            f"epoch {at_epoch}, before the next one. Use `at_epoch` < "
            f"`epochs`. Received: at_epoch={at_epoch}, epochs={epochs}",
            stacklevel=3,
        )


def _max_useful_rank(input_dim: int, output_dim: int) -> int:
    """Largest k with k < min(V, D) and k (V + D) < V D."""
    by_size = (input_dim * output_dim - 1) // (input_dim + output_dim)
    return max(0, min(min(input_dim, output_dim) - 1, by_size))


def _check_learning_rate(learning_rate) -> None:
    if learning_rate is None or isinstance(
        learning_rate, keras.optimizers.schedules.LearningRateSchedule
    ):
        return
    if isinstance(learning_rate, str):
        if learning_rate not in _LEARNING_RATE_NAMES:
            raise ValueError(
                f"`learning_rate` must be {_QUOTED_NAMES}, None, a float or a "
                f"`LearningRateSchedule`. Received: learning_rate={learning_rate!r}"
            )
        return
    if isinstance(learning_rate, bool) or not isinstance(
        learning_rate, int | float | np.integer | np.floating
    ):
        raise TypeError(
            f"`learning_rate` must be {_QUOTED_NAMES}, None, a float or a "
            "`keras.optimizers.schedules.LearningRateSchedule`. "
            f"Received: learning_rate={learning_rate!r} (of type "
            f"{type(learning_rate).__name__})"
        )
    if not (learning_rate > 0 and math.isfinite(learning_rate)):
        raise ValueError(
            f"`learning_rate` must be > 0. Received: learning_rate={learning_rate}"
        )


def _check_bands(bands, token_counts, *, energy) -> None:
    """Raises for a bad `bands` or `token_counts` (checked again against V at fit)."""
    if isinstance(bands, str):
        if bands != "auto":
            raise ValueError(
                '`bands` must be "auto", a positive integer or a sequence of '
                f"increasing token ids. Received: bands={bands!r}"
            )
        return
    if isinstance(bands, bool) or not (
        isinstance(bands, int | np.integer)
        or (
            isinstance(bands, list | tuple | np.ndarray)
            and all(isinstance(b, int | np.integer) for b in bands)
        )
    ):
        raise TypeError(
            '`bands` must be "auto", a positive integer (the number of frequency '
            "bands) or a sequence of increasing token ids (the first id of each "
            f"band after the first). Received: bands={bands!r}"
        )
    if isinstance(bands, int | np.integer) and bands < 1:
        raise ValueError(f"`bands` must be >= 1. Received: bands={bands}")
    single = isinstance(bands, int | np.integer) and bands == 1
    if energy is not None and not single:
        raise ValueError(
            "`energy` picks one rank from the spectrum of the whole table; with "
            "`bands` other than 1 pass `rank` or `compression`. "
            f"Received: energy={energy}, bands={bands!r}"
        )
    if token_counts is not None and single:
        raise ValueError(
            "`token_counts` weights the frequency bands; with `bands=1` (one SVD "
            "of the whole table) it has no effect. Pass `bands` > 1 or leave "
            f"`token_counts` out. Received: bands={bands!r}"
        )


def _check_band_budget(layer, *, rank, compression, bands, token_counts) -> None:
    """Raises at `fit()` start if the budget cannot give every band rank 1."""
    from tflite_lowrank.factorization.band_ranks import (
        allocate_band_ranks,
        resolve_bands,
    )

    if isinstance(bands, int | np.integer) and bands == 1:
        return
    input_dim, output_dim = layer.input_dim, layer.output_dim
    if rank is None:
        rank = rank_for_compression(input_dim, output_dim, compression)
    bands = resolve_bands(bands, input_dim, output_dim, rank)
    if isinstance(bands, int | np.integer) and bands == 1:
        return
    compression = 1.0 - rank * (input_dim + output_dim) / (input_dim * output_dim)
    try:
        allocate_band_ranks(
            input_dim,
            output_dim,
            compression,
            bands=bands,
            token_counts=token_counts,
        )
    except ValueError as error:
        raise ValueError(f"{error} (layer '{layer.name}')") from None


def _normalize_bands(bands) -> int | str | tuple[int, ...]:
    """`bands` (checked by `_check_bands`): `"auto"`, an `int` or a tuple of `int`s."""
    if isinstance(bands, str):
        return bands
    if isinstance(bands, int | np.integer):
        return int(bands)
    return tuple(int(b) for b in bands)


def check_fixed_basis_above(value) -> float | None:
    """`SplitRecipe.fixed_basis_above` as a float, or None; raises unless valid."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(
            "`fixed_basis_above` must be a float in (0, 1] or None. "
            f"Received: fixed_basis_above={value!r}"
        )
    if not 0.0 < value <= 1.0:
        raise ValueError(
            "`fixed_basis_above` must be in (0, 1] (a training accuracy) or None. "
            f"Received: fixed_basis_above={value!r}"
        )
    return float(value)


def check_split_from(value) -> str:
    """`split_from`: the weights the split factorizes (`coordination.BestWeights`)."""
    if not isinstance(value, str) or value not in SPLIT_FROM:
        raise ValueError(
            f"`split_from` must be one of {SPLIT_FROM}: the weights the split "
            "factorizes, the last epoch's or those of the epoch with the best "
            f"`monitor` value. Received: split_from={value!r}"
        )
    return value


def check_monitor(value) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ValueError(
            "`monitor` must be the name of a logged metric such as 'val_loss' or "
            f"'val_accuracy', or None. Received: monitor={value!r}"
        )
    return value
