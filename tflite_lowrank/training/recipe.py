"""`SplitRecipe` and `FactorizationResult`: what a split runs, and what it did.

The choice of a split is spread over several arguments of `EmbeddingFactorization`
(`bands`, `weighting`, `train_basis`, `learning_rate`, ...). A `SplitRecipe` holds
them together: the callback takes one (`recipe=`, a `SplitRecipe` or a preset name),
its individual arguments override single fields, and `split.result.recipe` reports
the recipe the split ran, with `"auto"` choices resolved for the model and budget.

Presets (`SPLIT_RECIPES`):

- `"default"`: frequency bands, the plain SVD with both factors trained, except a
  heavy split read by a recurrent layer or of a model whose logged training accuracy
  reached 0.95 (`fixed_basis_above`): consumer-weighted, fixed basis; CALR with its
  peak set by the budget; the weights of the best pre-split epoch on the validation
  data are split (`split_from="best"`).
- `"fixed_basis"`: the SVD weighted by the input kernel of the layer reading the
  vectors (`weighting="consumer"`), codes at the table's scale over a fixed basis
  (`train_basis=False`); the data-free recipe that held on users' pipelines.
- `"hedged"`: as `"fixed_basis"`, but the basis keeps training at a tenth of the
  codes' rate (`basis_learning_rate=0.1`).
- `"plain"`: the plain banded SVD with both factors trained for every model.
- `"paper"`: the paper's single rank-k SVD, both factors trained, the authors'
  fine-tuning CALR (`learning_rate="calr_paper"`), the last epoch's weights split.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import keras

from tflite_lowrank.factorization.quantization import check_code_quantization
from tflite_lowrank.factorization.svd import SVD_METHODS
from tflite_lowrank.training.arguments import (
    _WEIGHTINGS,
    _check_bands,
    _check_learning_rate,
    _check_train_basis,
    _normalize_bands,
    check_fixed_basis_above,
    check_split_from,
)
from tflite_lowrank.utils.checks import check_bool, check_int

SPLIT_RECIPES = ("default", "fixed_basis", "hedged", "plain", "paper")


class _FromRecipe:
    """The default of `EmbeddingFactorization`'s recipe fields: take the recipe's."""

    def __repr__(self) -> str:
        return "<from recipe>"


FROM_RECIPE = _FromRecipe()


@dataclasses.dataclass(frozen=True)
class SplitRecipe:
    """How `EmbeddingFactorization` splits the table and retrains after the split.

    A frozen, printable value: `print(split.result.recipe)` says what a split ran.
    Build one from a preset and change fields with `replace`:
    `SplitRecipe.preset("fixed_basis").replace(bands=1)`.

    Args:
        bands: `"auto"`, an integer >= 1, or a tuple of increasing ids. Frequency
            bands of the id range, each with its own factors. Defaults to `"auto"`.
        weighting: `"auto"`, `"none"` or `"consumer"`. How the SVD is weighted
            without calibration data. Defaults to `"auto"`.
        train_basis: `None`, `True`, `False` or `"auto"`. Whether the basis factor
            `B` trains after the split (`False`: codes at the table's scale over a
            fixed orthonormal basis). `None` follows `weighting`'s recipe.
            Defaults to `None`.
        basis_learning_rate: Float in (0, 1]. When the basis trains, its updates
            are scaled by this factor relative to the codes' (1: trained at the
            same rate). Defaults to `1.0`.
        basis_frozen_epochs: Integer >= 0. When the basis trains, it is first
            held fixed for this many epochs after the split (the codes retrain
            at the table's scale, as over a fixed basis), then trains. Defaults
            to `0`.
        learning_rate: `"calr"`, `"calr_peak_1e-2"`, `"calr_peak_2e-3"`,
            `"calr_paper"`, `None`, a float or a `LearningRateSchedule`. The fresh
            optimizer's rate. Defaults to `"calr"`.
        svd_method: One of `SVD_METHODS`. How the truncated SVD is computed.
            Defaults to `"auto"`.
        balanced: Boolean. Split the singular values evenly between the factors.
            Defaults to `False`.
        quantization_aware: `None`, `"int8_rows"`, `"int4_rows"` or `"int4"`.
            After the split, the codes train rounded to the grid of that
            `convert_to_tflite` mode (straight-through gradient): the file then
            reads the values the model trained with. Defaults to `None`.
        fixed_basis_above: Float in (0, 1] or `None`. With `weighting="auto"`
            and `train_basis=None`, a heavy split of a model whose training
            accuracy (the logged `accuracy` metrics of the epoch whose weights are
            split) is at least this value takes the fixed-basis recipe (weighted
            by the consumer's kernel, codes at the table's scale over a fixed
            basis), as a recurrent model's does: a model that already fits its
            training data overfits with a moving basis. `None` turns the rule
            off. Defaults to `0.95`.
        split_from: `"best"` or `"last"`. The weights the split factorizes:
            those of the epoch before the split with the best validation metric
            (`EmbeddingFactorization(monitor=...)`), restored first, so that a
            model past its peak is split from its peak; or the last epoch's (also
            what `"best"` does without validation logs). Defaults to `"best"`.

    Example:

    ```python
    recipe = tl.SplitRecipe.preset("fixed_basis")
    split = tl.EmbeddingFactorization(compression=0.9, at_epoch=3, recipe=recipe)
    model.fit(x, y, epochs=8, callbacks=[split])
    print(split.result.recipe)
    ```
    """

    bands: int | tuple[int, ...] | str = "auto"
    weighting: str = "auto"
    train_basis: bool | str | None = None
    basis_learning_rate: float = 1.0
    basis_frozen_epochs: int = 0
    learning_rate: Any = "calr"
    svd_method: str = "auto"
    balanced: bool = False
    quantization_aware: str | None = None
    split_from: str = "best"
    fixed_basis_above: float | None = 0.95

    def __post_init__(self):
        _check_bands(self.bands, None, energy=None)
        object.__setattr__(self, "bands", _normalize_bands(self.bands))
        if not isinstance(self.weighting, str) or self.weighting not in _WEIGHTINGS:
            raise ValueError(
                f"`weighting` must be one of {_WEIGHTINGS}. "
                f"Received: weighting={self.weighting!r}"
            )
        _check_train_basis(self.train_basis)
        rate = self.basis_learning_rate
        if isinstance(rate, bool) or not isinstance(rate, int | float):
            raise TypeError(
                "`basis_learning_rate` must be a float in (0, 1]. "
                f"Received: basis_learning_rate={rate!r}"
            )
        if not 0.0 < rate <= 1.0:
            raise ValueError(
                "`basis_learning_rate` must be in (0, 1]: the basis trains at this "
                "fraction of the codes' rate (a fixed basis is train_basis=False). "
                f"Received: basis_learning_rate={rate!r}"
            )
        object.__setattr__(self, "basis_learning_rate", float(rate))
        frozen = check_int("basis_frozen_epochs", self.basis_frozen_epochs, minimum=0)
        object.__setattr__(self, "basis_frozen_epochs", frozen)
        _check_learning_rate(self.learning_rate)
        if not isinstance(self.svd_method, str) or self.svd_method not in SVD_METHODS:
            raise ValueError(
                f"`svd_method` must be one of {SVD_METHODS}. "
                f"Received: svd_method={self.svd_method!r}"
            )
        check_bool("balanced", self.balanced)
        check_code_quantization(self.quantization_aware, "quantization_aware")
        check_split_from(self.split_from)
        above = check_fixed_basis_above(self.fixed_basis_above)
        object.__setattr__(self, "fixed_basis_above", above)

    @classmethod
    def preset(cls, name: str) -> SplitRecipe:
        """The named preset (`SPLIT_RECIPES`; see the module docstring)."""
        presets = {
            "default": {},
            "fixed_basis": {"weighting": "consumer", "train_basis": False},
            "hedged": {
                "weighting": "consumer",
                "train_basis": True,
                "basis_learning_rate": 0.1,
            },
            "plain": {"weighting": "none", "train_basis": True},
            "paper": {
                "bands": 1,
                "weighting": "none",
                "train_basis": True,
                "learning_rate": "calr_paper",
                "split_from": "last",
                "fixed_basis_above": None,
            },
        }
        if not isinstance(name, str) or name not in presets:
            raise ValueError(
                f"`recipe` must be a SplitRecipe or one of {SPLIT_RECIPES}. "
                f"Received: recipe={name!r}"
            )
        return cls(**presets[name])

    def replace(self, **changes) -> SplitRecipe:
        """A copy with the given fields changed (checked like the constructor)."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise TypeError(
                f"SplitRecipe has no field {unknown[0]!r}; fields: "
                f"{[f.name for f in dataclasses.fields(self)]}. "
                f"Received: {unknown[0]}={changes[unknown[0]]!r}"
            )
        return dataclasses.replace(self, **changes)

    def get_config(self) -> dict:
        """The fields as JSON-ready values (a schedule is Keras-serialized)."""
        config = dataclasses.asdict(self)
        if isinstance(self.bands, tuple):
            config["bands"] = list(self.bands)
        if isinstance(
            self.learning_rate, keras.optimizers.schedules.LearningRateSchedule
        ):
            config["learning_rate"] = keras.optimizers.schedules.serialize(
                self.learning_rate
            )
        return config

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SplitRecipe:
        """The recipe `get_config` described."""
        config = dict(config)
        if isinstance(config.get("bands"), list):
            config["bands"] = tuple(config["bands"])
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = keras.optimizers.schedules.deserialize(
                config["learning_rate"]
            )
        return cls(**config)

    def to_dict(self) -> dict:
        """The fields as a plain dictionary (`get_config`)."""
        return self.get_config()

    def describe(self) -> str:
        """One sentence: the layout, the weighting, the basis and the schedule."""
        bands = self.bands
        layout = (
            "the paper's single SVD"
            if bands == 1
            else "frequency bands (auto)"
            if bands == "auto"
            else f"{bands} frequency bands"
            if isinstance(bands, int)
            else f"bands starting at ids {', '.join(map(str, bands))}"
        )
        weighting = {
            "auto": "weighted by a recurrent consumer's kernel when heavy",
            "none": "plain SVD",
            "consumer": "weighted by the consumer's input kernel",
        }[self.weighting]
        if (
            self.weighting == "auto"
            and self.train_basis is None
            and self.fixed_basis_above is not None
        ):
            weighting += (
                f" or when the training accuracy reaches {self.fixed_basis_above:g}"
            )
        basis = {
            None: "basis as the weighting's recipe says",
            True: "basis trained",
            False: "fixed basis",
            "auto": "basis fixed for light splits",
        }[self.train_basis]
        if self.train_basis is not False and self.basis_frozen_epochs:
            basis += f" after {self.basis_frozen_epochs} fixed epochs"
        if self.train_basis is not False and self.basis_learning_rate < 1.0:
            basis += f" at {self.basis_learning_rate:g} of the codes' rate"
        rate = self.learning_rate
        if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
            rate = type(rate).__name__
        described = f"{layout}, {weighting}, {basis}, learning rate {rate!r}"
        if self.quantization_aware:
            described += f", codes trained for {self.quantization_aware!r} files"
        described += (
            ", the best pre-split epoch's weights split"
            if self.split_from == "best"
            else ", the last epoch's weights split"
        )
        return described


@dataclasses.dataclass(frozen=True)
class FactorizationResult:
    """What `EmbeddingFactorization` did at the split.

    Attributes:
        epoch: Integer. Epochs completed before the split (Keras' 1-based count).
        layer_name: String. Name of the factorized layer.
        input_dim: Integer. Rows of the table (vocabulary size V).
        output_dim: Integer. Columns of the table (embedding size D).
        rank: Integer. Inner dimension k of the factors; with frequency bands, the
            single-band rank whose budget `k * (V + D)` the bands share.
        params_before: Integer. `V * D`.
        params_after: Integer. Parameters of the factors (`k * (V + D)` for one
            band, at most that with bands).
        relative_error: Float. `||W - A B||_F / ||W||_F` at the split (NaN when
            resumed from a backup, where `W` is not available).
        seconds: Float. Wall time of the split.
        resumed: Boolean. `True` if the factorized state was restored from a
            `BackupAndRestore` backup instead of computed from the table.
        boundaries: Tuple of integers. First id of each band after the first
            (empty for the paper's single band).
        band_ranks: Tuple of integers. Rank of each band (`(rank,)` for one band).
        calibration_batches: Integer. Batches of `calibration_data` whose loss
            gradient weighted the SVD (0: the plain SVD).
        train_basis: Boolean. `False` if the factors' bases `embeddings_b*` were
            kept fixed after the split (`EmbeddingFactorization(train_basis=...)`).
        consumer: String or None. Name of the layer whose input kernel weighted
            the SVD (`EmbeddingFactorization(weighting=...)`); None otherwise.
        recipe: `SplitRecipe` or None. The recipe the split ran, with `"auto"`
            choices resolved (`weighting`, `train_basis`, `basis_learning_rate`).
        compression: Float or None. The compression the split used: the given
            one, or the one the accuracy budget chose (`max_dev_drop`).
        budget_evaluations: Tuple of `(compression, dev_accuracy)` pairs: the
            candidates the accuracy budget evaluated right before the split, the
            uncompressed model first (`(0.0, accuracy)`); empty without a budget.
        weights_from_epoch: Integer or None. With `split_from="best"`, the epoch
            (1-based) whose weights were restored and factorized; `None` when the
            split factorized the last epoch's weights.
    """

    epoch: int
    layer_name: str
    input_dim: int
    output_dim: int
    rank: int
    params_before: int
    params_after: int
    relative_error: float
    seconds: float
    resumed: bool = False
    boundaries: tuple[int, ...] = ()
    band_ranks: tuple[int, ...] = ()
    calibration_batches: int = 0
    train_basis: bool = True
    consumer: str | None = None
    recipe: SplitRecipe | None = None
    compression: float | None = None
    budget_evaluations: tuple[tuple[float, float], ...] = ()
    weights_from_epoch: int | None = None

    def to_dict(self) -> dict:
        """Returns the fields as a plain dictionary (e.g. for JSON)."""
        fields = dataclasses.asdict(dataclasses.replace(self, recipe=None))
        fields["recipe"] = None if self.recipe is None else self.recipe.get_config()
        return fields

    def describe(self) -> str:
        """One sentence for the log: the epoch, the table, the layout and the cost."""
        if len(self.band_ranks) > 1:
            layout = (
                f"{len(self.band_ranks)} frequency bands (first ids "
                f"{', '.join(map(str, self.boundaries))}; ranks "
                f"{', '.join(map(str, self.band_ranks))})"
            )
        else:
            layout = f"rank {self.rank}"
        if not self.train_basis:
            layout += ", fixed bases (codes at the table's scale)"
        if self.calibration_batches:
            layout += (
                f", weighted by the loss gradient of {self.calibration_batches} "
                "calibration batches"
            )
        if self.consumer:
            layout += f", weighted by the input kernel of '{self.consumer}'"
        if self.weights_from_epoch is not None:
            layout += f", from the weights of epoch {self.weights_from_epoch}"
        return (
            f"Epoch {self.epoch}: factorized layer '{self.layer_name}' "
            f"({self.input_dim} x {self.output_dim}) to {layout}: "
            f"{self.params_before} -> {self.params_after} parameters "
            f"({100.0 * (1.0 - self.params_after / self.params_before):.1f}% removed), "
            f"relative reconstruction error {self.relative_error:.4f}, "
            f"{self.seconds:.2f} s."
        )


def resolve_arguments(recipe, *, energy, **overrides) -> SplitRecipe:
    """The callback's recipe: `recipe` (a `SplitRecipe` or a preset name) with the
    fields given as `overrides` (those not `FROM_RECIPE`) replaced.

    With `energy` (one rank from the whole table's spectrum) and bands left to the
    recipe's `"auto"`, the split has one band.
    """
    if isinstance(recipe, str):
        recipe = SplitRecipe.preset(recipe)
    elif not isinstance(recipe, SplitRecipe):
        raise TypeError(
            f"`recipe` must be a SplitRecipe or one of {SPLIT_RECIPES}. "
            f"Received: recipe={recipe!r} (of type {type(recipe).__name__})"
        )
    changes = {k: v for k, v in overrides.items() if v is not FROM_RECIPE}
    if energy is not None and "bands" not in changes and recipe.bands == "auto":
        changes["bands"] = 1
    return recipe.replace(**changes) if changes else recipe
