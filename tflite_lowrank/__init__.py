"""tflite_lowrank: online low-rank embedding compression for Keras text models.

Train, split the embedding table into truncated-SVD factors partway through `fit()`,
keep training with the CALR schedule, then ship a small `.tflite` file.

Reference: Acharya, Goel, Metallinou, Dhillon. "Online Embedding Compression for Text
Classification using Low Rank Matrix Factorization". AAAI 2019.

Example:

```python
import tflite_lowrank as tl

split = tl.EmbeddingFactorization("embedding", compression=0.9, at_epoch=3)
model.fit(x, y, epochs=8, validation_data=(x_dev, y_dev), callbacks=[split])
tl.convert_to_tflite(model, "model.tflite", quantization="dynamic")
print(tl.compare_models(["baseline.tflite", "model.tflite"], x_test, y_test))
```

Importing the package imports Keras and registers the package's Keras objects
(`LowRankEmbedding`, `BandedLowRankEmbedding`, their reversible siblings,
`CyclicalAnnealedLearningRate`, the layers of the paper's models) with `keras.saving`,
so a `.keras` file holding them loads with `keras.saving.load_model` once
`tflite_lowrank` is imported (Keras imports only its own packages while loading); a
model whose factorized embedding sits inside a custom layer loads with
`tl.load_model`. It has no other side effect. The package is laid out by concept,
each sub-package with a curated `__all__`: `factorization` (the NumPy maths of the
split), `layers` (the factorized embeddings), `training` (the callback and CALR),
`export` (Keras to `.tflite`), `litert` (reading and running `.tflite` files),
`benchmark`, `data`, `models` and `apps` (the demo and the Android export); every
Keras internal is in the private `_keras`. The command line is the separate
`tflite_lowrank_cli` package.
"""

from tflite_lowrank.benchmark import (
    BenchmarkResult,
    Comparison,
    benchmark_tflite,
    compare_models,
)
from tflite_lowrank.data import (
    DATASETS,
    TextDataset,
    Tokenizer,
    load_dataset,
    load_glove,
)
from tflite_lowrank.export import (
    QUANTIZATION_MODES,
    ConversionResult,
    convert_to_tflite,
)
from tflite_lowrank.factorization import (
    allocate_band_ranks,
    frequency_order,
    rank_for_compression,
    rank_for_energy,
    truncated_svd,
)
from tflite_lowrank.layers import (
    BandedLowRankEmbedding,
    LowRankEmbedding,
    ReversibleBandedLowRankEmbedding,
    ReversibleLowRankEmbedding,
    load_model,
)
from tflite_lowrank.models import build_dan, build_lstm
from tflite_lowrank.training import (
    SPLIT_RECIPES,
    CyclicalAnnealedLearningRate,
    EmbeddingFactorization,
    FactorizationResult,
    SplitRecipe,
)
from tflite_lowrank.version import __version__

__all__ = [
    "__version__",
    "LowRankEmbedding",
    "BandedLowRankEmbedding",
    "ReversibleLowRankEmbedding",
    "ReversibleBandedLowRankEmbedding",
    "load_model",
    "allocate_band_ranks",
    "frequency_order",
    "EmbeddingFactorization",
    "FactorizationResult",
    "SplitRecipe",
    "SPLIT_RECIPES",
    "CyclicalAnnealedLearningRate",
    "DATASETS",
    "TextDataset",
    "Tokenizer",
    "build_dan",
    "build_lstm",
    "load_dataset",
    "load_glove",
    "rank_for_compression",
    "rank_for_energy",
    "truncated_svd",
    "convert_to_tflite",
    "QUANTIZATION_MODES",
    "ConversionResult",
    "benchmark_tflite",
    "compare_models",
    "BenchmarkResult",
    "Comparison",
]
