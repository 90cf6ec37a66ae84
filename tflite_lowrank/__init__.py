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

The public names are loaded on first use (PEP 562 `__getattr__`), so `import
tflite_lowrank` and `tflite-lowrank --help` do not import TensorFlow. Keras layers are
registered for `keras.saving.load_model` as soon as their module is imported: by any
use of `tl.LowRankEmbedding` or `tl.build_dan`, by `import tflite_lowrank.layers`, or
at once here when Keras is already imported.
"""

import importlib as _importlib
import importlib.util as _importlib_util
import os as _os
import sys as _sys

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

# Public name -> the module that defines it. To export a name, add it here and to
# `__all__`; do not import it eagerly (that would make `import tflite_lowrank`, and so
# the command line's `--help`, import TensorFlow).
_EXPORTS = {
    "DATASETS": "tflite_lowrank.datasets",
    "TextDataset": "tflite_lowrank.datasets",
    "load_dataset": "tflite_lowrank.datasets",
    "load_glove": "tflite_lowrank.datasets",
    "rank_for_compression": "tflite_lowrank.factorize",
    "rank_for_energy": "tflite_lowrank.factorize",
    "truncated_svd": "tflite_lowrank.factorize",
    "LowRankEmbedding": "tflite_lowrank.layers",
    "CyclicalAnnealedLearningRate": "tflite_lowrank.schedules",
    "EmbeddingFactorization": "tflite_lowrank.callbacks",
    "build_dan": "tflite_lowrank.models",
    "build_lstm": "tflite_lowrank.models",
    "Tokenizer": "tflite_lowrank.text",
    "convert_to_tflite": "tflite_lowrank.convert",
    "QUANTIZATION_MODES": "tflite_lowrank.convert",
    "ConversionResult": "tflite_lowrank.convert",
    "benchmark_tflite": "tflite_lowrank.benchmark",
    "compare_models": "tflite_lowrank.benchmark",
    "BenchmarkResult": "tflite_lowrank.benchmark",
    "Comparison": "tflite_lowrank.benchmark",
}

# Modules holding Keras serializables; imported at once when Keras already is (free).
_KERAS_MODULES = (
    "tflite_lowrank.layers",
    "tflite_lowrank.models",
    "tflite_lowrank.schedules",
)

__all__ = [
    "__version__",
    "LowRankEmbedding",
    "EmbeddingFactorization",
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


def __getattr__(name: str):
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(module_name), name)
    globals()[name] = value  # Later lookups skip __getattr__.
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def _register_keras_objects() -> None:
    for module_name in _KERAS_MODULES:
        _importlib.import_module(module_name)


class _RegisterAfterKerasImport:
    """Imports our Keras serializables right after `keras` itself is imported.

    So `import tflite_lowrank; import keras; keras.saving.load_model("m.keras")` finds
    `LowRankEmbedding` without `custom_objects`, while `import tflite_lowrank` alone
    stays free of TensorFlow.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        _sys.meta_path.remove(self)  # One shot; also avoids finding ourselves.
        spec = _importlib_util.find_spec("keras")
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            _sys.modules["keras"] = module
            _register_keras_objects()

        spec.loader.exec_module = exec_then_register
        return spec


if "keras" in _sys.modules:
    _register_keras_objects()
else:
    _sys.meta_path.insert(0, _RegisterAfterKerasImport())
