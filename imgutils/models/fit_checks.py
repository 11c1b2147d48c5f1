"""``fit`` that looks at the data first: one mixin for every model of the package that
overrides ``train_step``.

A GAN fed 0-255 pixels, a VAE fed uint8 or NaN images, trains for minutes and returns garbage
with no error. ``CheckedFit.fit`` runs ``validation.training_data`` on the training data (the
first batch of a dataset) and on ``validation_data`` before handing over to ``keras.Model.fit``:
one batch, once per call, nothing inside the compiled step.
"""

from __future__ import annotations

from ..validation import training_data

__all__ = ["CheckedFit"]


class CheckedFit:
    """Mixin placed before ``keras.Model``: ``class VAE(CheckedFit, keras.Model)``."""

    def fit(self, x=None, y=None, *args, **kwargs):
        training_data(x, y, "x")
        validation = kwargs.get("validation_data")
        if validation is not None:
            training_data(validation, None, "validation_data")
        return super().fit(x, y, *args, **kwargs)
