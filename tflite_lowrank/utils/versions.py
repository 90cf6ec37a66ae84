"""Installed versions of distributions, for `tflite-lowrank env` and the demo's results.

Standard library only, imported lazily: the command line imports this module before
it parses `--help`, which must stay fast.
"""


def version(dist: str) -> str:
    """The installed version of the distribution `dist`, or "not installed"."""
    import importlib.metadata as metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"
