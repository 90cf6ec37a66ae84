"""Optional dependencies: import them when needed, naming the extra that installs them.

The core install (`pip install tflite-lowrank`: the callback, the converter, the
benchmark) does not pull the packages that only the datasets, the plots, the demo and
the `benchmarks/` scripts need. These live in extras of `pyproject.toml`:

| extra | packages | needed by |
|---|---|---|
| `data` | pandas, pyarrow | `load_dataset`, `load_glove` |
| `plot` | matplotlib | `Comparison.plot` |
| `demo` | `data` + `plot` | `tflite-lowrank demo`, the notebooks |
| `bench` | `data` + `plot` | the scripts in `benchmarks/` |

Standard library only.

Example:

```python
from tflite_lowrank.utils.optional import require

pd = require("pandas", extra="data", purpose="Loading the `rotten_tomatoes` dataset")
```
"""

from __future__ import annotations

import importlib
from types import ModuleType

DISTRIBUTION = "tflite-lowrank"


def require(module: str, *, extra: str, purpose: str) -> ModuleType:
    """Imports `module` and returns it; if it is missing, names the extra to install.

    Args:
        module: the module to import, e.g. `"pandas"` or `"matplotlib.figure"`.
        extra: the extra of `tflite-lowrank` that installs it, e.g. `"data"`.
        purpose: what needs it, as the start of a sentence, e.g.
            ``"Loading the `rotten_tomatoes` dataset"``.

    Returns:
        The imported module.

    Raises:
        ModuleNotFoundError: if `module` (or a package it needs) is not installed; the
            message names the package, the extra and the original error. (The
            import names used with it, pandas, pyarrow and matplotlib, are also
            their PyPI names.)
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        package = module.partition(".")[0]
        raise ModuleNotFoundError(
            f"{purpose} needs {package}: pip install '{DISTRIBUTION}[{extra}]'. "
            f"Received: {error}",
            name=error.name,
        ) from error
