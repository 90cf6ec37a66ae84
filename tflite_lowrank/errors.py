"""The exceptions that several parts of the package raise, defined once."""

__all__ = ["OutputMismatchError"]


class OutputMismatchError(ValueError):
    """A model's output is not what it should be.

    Raised by `convert_to_tflite` when the converted file disagrees with Keras, and by
    `compare_models` when the files do not output the same number of labels.

    Example:

    ```python
    try:
        tl.convert_to_tflite(model, "model.tflite")
    except tl.benchmark.OutputMismatchError as error:
        print("conversion check failed:", error)
    ```
    """
