"""Model builders that remember how they were called, so shipped weights load on any Keras 3.

A ``.keras`` file stores every layer's config, and configs change between Keras releases (a
file saved by Keras 3.15 does not deserialise on Colab's Keras 3.13). A weights-only file
(``.weights.h5``) holds just the arrays; the architecture is rebuilt by code. Every builder in
``imgutils.models`` is decorated with :func:`builder`: the models it returns remember the
builder's name and its arguments (a *recipe*), which ``imgutils.pretrained`` writes into the
weights manifest and uses to rebuild the model before loading the arrays.

Only builders registered here can be named in a manifest: a recipe never imports or runs
anything else.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import weakref
from collections.abc import Callable
from typing import Any

# The modules whose builders a manifest may name (imported on demand, nothing else is).
BUILDER_MODULES = ("imgutils.models.classifier", "imgutils.models.gan", "imgutils.models.vae",
                   "imgutils.models.restoration", "imgutils.models.pix2pix",
                   "imgutils.models.autoencoder", "imgutils.models.score",
                   "imgutils.models.diffusion")

_BUILDERS: dict[str, Callable] = {}
_RECIPES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _to_json(value: Any, where: str) -> Any:
    """Builder arguments as JSON values (tuples become lists); anything else is refused."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return [_to_json(v, where) for v in value]
    raise TypeError(f"{where}: builder arguments must be numbers, strings, booleans, None or "
                    f"tuples of them to be recorded; got {type(value).__name__}")


def _from_json(value: Any) -> Any:
    return tuple(_from_json(v) for v in value) if isinstance(value, list) else value


def builder(fn: Callable) -> Callable:
    """Register ``fn`` (a function returning a ``keras.Model``) and record each call's recipe."""
    key = f"{fn.__module__}.{fn.__name__}"
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        recipe = {"builder": key,
                  "kwargs": {k: _to_json(v, f"{key}({k}=...)") for k, v in bound.arguments.items()}}
        model = fn(*args, **kwargs)
        _RECIPES[model] = recipe
        return model

    _BUILDERS[key] = wrapper
    return wrapper


def recipe(model) -> dict | None:
    """``{"builder": "imgutils.models.gan.dcgan_generator", "kwargs": {...}}`` or ``None``.

    ``None`` for a model that no registered builder made (e.g. a hand-written ``keras.Model``).
    """
    try:
        found = _RECIPES.get(model)
    except TypeError:      # not weak-referenceable: certainly not one of ours
        return None
    return None if found is None else {"builder": found["builder"],
                                       "kwargs": dict(found["kwargs"])}


def build(name: str, kwargs: dict | None = None):
    """Rebuild a model from a recipe: the registered builder ``name`` called with ``kwargs``.

    Raises ``ValueError`` for a builder that is not registered (only functions decorated with
    :func:`builder` in :data:`BUILDER_MODULES` can be named) and ``TypeError`` for arguments
    that are not a dict.
    """
    if not isinstance(name, str):
        raise TypeError(f"builder name must be a str, got {type(name).__name__}")
    kwargs = {} if kwargs is None else kwargs
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise TypeError(f"builder kwargs must be a dict of name -> value, got {kwargs!r}")
    module = name.rpartition(".")[0]
    if module in BUILDER_MODULES:
        importlib.import_module(module)        # registers its builders
    if name not in _BUILDERS:
        known = ", ".join(sorted(_BUILDERS)) or "none loaded"
        raise ValueError(f"unknown model builder {name!r}: only the builders of "
                         f"{', '.join(BUILDER_MODULES)} can be named (known: {known})")
    return _BUILDERS[name](**{k: _from_json(v) for k, v in kwargs.items()})


def twin(network):
    """A second network of the same architecture (for an exponential moving average of the
    weights): rebuilt by its imgutils builder when it has one, so the twin can be shipped with
    ``pretrained.save``, else a ``keras.models.clone_model``."""
    import keras

    found = recipe(network)
    if found is not None:
        return build(found["builder"], found["kwargs"])
    return keras.models.clone_model(network)
