"""`FactorizationResult`: what `EmbeddingFactorization` did at the split."""

from __future__ import annotations

import dataclasses


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

    def to_dict(self) -> dict:
        """Returns the fields as a plain dictionary (e.g. for JSON)."""
        return dataclasses.asdict(self)

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
        return (
            f"Epoch {self.epoch}: factorized layer '{self.layer_name}' "
            f"({self.input_dim} x {self.output_dim}) to {layout}: "
            f"{self.params_before} -> {self.params_after} parameters "
            f"({100.0 * (1.0 - self.params_after / self.params_before):.1f}% removed), "
            f"relative reconstruction error {self.relative_error:.4f}, "
            f"{self.seconds:.2f} s."
        )
