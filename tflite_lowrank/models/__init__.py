"""The paper's text classifiers (DAN and LSTM) with GloVe initialisation (`paper`)."""

from tflite_lowrank.models.paper import (  # noqa: F401
    PAPER_ADAM_EPSILON,
    build_dan,
    build_lstm,
    compile_for_classification,
    glove_embeddings,
)

__all__ = [
    "PAPER_ADAM_EPSILON",
    "build_dan",
    "build_lstm",
    "glove_embeddings",
    "compile_for_classification",
]
