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
"""

import os as _os

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from tflite_lowrank.datasets import (  # noqa: E402
    DATASETS,
    TextDataset,
    load_dataset,
    load_glove,
)
from tflite_lowrank.factorize import (  # noqa: E402
    rank_for_compression,
    rank_for_energy,
    truncated_svd,
)
from tflite_lowrank.layers import LowRankEmbedding  # noqa: E402
from tflite_lowrank.models import build_dan, build_lstm  # noqa: E402
from tflite_lowrank.text import Tokenizer  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "LowRankEmbedding",
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
]
