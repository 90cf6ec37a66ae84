"""Regenerates the committed assets fixture of the Kotlin core tests.

`android_demo/core/src/test/resources/assets_fixture/` is a real export: two tiny DAN
models (vocabulary ~40, seq_len 8, 2 labels; the compressed one factorized to rank 2
during `fit`), converted with `convert_to_tflite` and written by
`tflite_lowrank.apps.android.export_android_assets`, so the Kotlin checks run on
exactly what the Python exporter writes. The files are a few KB. The test sentences
include odd inputs (accents, other scripts, NFD and full-width letters, emoji,
clitics in capitals, only punctuation, empty, longer than seq_len) so that the golden
token ids exercise the tokenizer rules (`tflite_lowrank-clean-v2`).

Usage (from the repository root):

    .venv/bin/python android_demo/scripts/make_core_fixture.py

`tests/test_android.py` checks the committed fixture with `check_android_assets`.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tflite_lowrank.apps.android.export import export_android_assets  # noqa: E402
from tflite_lowrank.data import Tokenizer, save_labels  # noqa: E402
from tflite_lowrank.export.converter import convert_to_tflite  # noqa: E402
from tflite_lowrank.models.paper import build_dan, compile_for_classification  # noqa: E402
from tflite_lowrank.training.callback import EmbeddingFactorization  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[1] / "core/src/test/resources/assets_fixture"
LABELS = ("negative", "positive")
SEQ_LEN = 8
RANK = 2
TRAIN = (
    ("positive", "The film is good."),
    ("positive", "A great, fun movie!"),
    ("positive", "It's the best film of 2019."),
    ("positive", "Good plot, great cast."),
    ("negative", "A bad, boring movie."),
    ("negative", "The plot doesn't work."),
    ("negative", "It's the worst film."),
    ("negative", "Boring (and bad)."),
    ("positive", "Že včeraj: odličen film, človek!"),
    ("negative", "Фильм плохой, скучный."),
)
TEST = (
    ("positive", "The film is good."),
    ("negative", "It's a bad, BORING movie!"),
    ("positive", "Great fun (really)."),
    ("negative", "I DON'T like it... at all?!"),
    ("positive", "Café naïve résumé: a great film 😀"),
    ("positive", "ODLIČEN film, c\u030clovek! ＦＩＬＭ 映画"),
    ("negative", "ФИЛЬМ плохой… İYİ DEĞİL"),
    ("negative", "bad bad bad bad bad bad bad bad bad bad, the worst"),
    ("positive", "!?.,()`'"),
    ("negative", ""),
)


def _fit(tokenizer: Tokenizer, *, factorize: bool) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = build_dan(
        tokenizer.vocabulary_size,
        len(LABELS),
        seq_len=SEQ_LEN,
        embedding_dim=8,
        hidden=(6,),
    )
    compile_for_classification(model)
    x = tokenizer.encode([text for _, text in TRAIN] * 4)
    y = np.array([LABELS.index(label) for label, _ in TRAIN] * 4)
    callbacks = (
        [EmbeddingFactorization("embedding", rank=RANK, at_epoch=20, verbose=0)]
        if factorize
        else []
    )
    model.fit(x, y, epochs=40, batch_size=8, verbose=0, callbacks=callbacks)
    return model


def main() -> int:
    texts = [text for _, text in TRAIN]  # test words stay out of vocabulary: <unk>
    tokenizer = Tokenizer.from_texts(texts, seq_len=SEQ_LEN)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        tokenizer.save(run_dir)
        save_labels(LABELS, run_dir)
        (run_dir / "test.tsv").write_text(
            "".join(f"{label}\t{text}\n" for label, text in TEST), encoding="utf-8"
        )
        convert_to_tflite(_fit(tokenizer, factorize=False), run_dir / "baseline.tflite")
        convert_to_tflite(
            _fit(tokenizer, factorize=True), run_dir / "compressed.tflite"
        )
        (run_dir / "results.json").write_text(
            json.dumps(
                {
                    "models": {
                        "baseline": {"rank": None, "quantization": "float32"},
                        "compressed": {"rank": RANK, "quantization": "float32"},
                    }
                }
            ),
            encoding="utf-8",
        )
        FIXTURE.mkdir(parents=True, exist_ok=True)
        export = export_android_assets(
            run_dir, FIXTURE, overwrite=True, num_golden=len(TEST)
        )
    print(f"wrote {len(export.files)} files to {FIXTURE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
