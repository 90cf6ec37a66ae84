"""`Interrupt`: a callback that kills a `fit()` run, for the tests of resuming."""

import keras


class Interrupt(keras.callbacks.Callback):
    """Kills the run: raises `RuntimeError("interrupted ...")` at `hook` of epoch
    `epoch` (after batch `batch` for `"on_train_batch_end"`)."""

    def __init__(self, epoch, hook="on_epoch_begin", batch=0):
        super().__init__()
        self.epoch, self.hook, self.batch = epoch, hook, batch
        self.current = None

    def _kill(self, hook, epoch, batch=0):
        if (hook, epoch, batch) == (self.hook, self.epoch, self.batch):
            raise RuntimeError(f"interrupted at {hook} of epoch {epoch}")

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch
        self._kill("on_epoch_begin", epoch)

    def on_epoch_end(self, epoch, logs=None):
        self._kill("on_epoch_end", epoch)

    def on_train_batch_end(self, batch, logs=None):
        self._kill("on_train_batch_end", self.current, batch)
