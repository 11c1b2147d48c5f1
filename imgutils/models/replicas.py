"""Helpers that keep custom ``train_step`` code correct under ``tf.distribute`` strategies.

``imgutils.config.distribute`` installs a ``MirroredStrategy`` for the ``full`` profile on a
machine with several GPUs. Keras' ``fit`` then runs ``train_step`` once per replica, each on
its shard of the global batch, and the optimizer *sums* the replicas' gradients (the
TensorFlow backend's ``TFOptimizer._all_reduce_sum_gradients``). A custom ``train_step``
must therefore

* scale the per-replica loss by ``1 / num_replicas_in_sync`` before taking gradients
  (:func:`scale_for_replicas`), as Keras' own ``train_step`` does with
  ``keras.src.losses.loss.scale_loss_for_distribution``;
* draw its noise so that the *global* batch sees the numbers it would see on one device,
  instead of every replica repeating the same draws from its copy of the seed state
  (:func:`global_normal`);
* normalise with statistics of the global batch (:func:`batch_norm`).

With one replica (the default strategy: CPU, one GPU) every helper here is the plain
operation it replaces, with the same random draws and the same arithmetic.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

__all__ = ["batch_norm", "gather_global_batch", "global_normal", "num_replicas",
           "scale_for_replicas"]


def _replica_context():
    """The replica context of a multi-replica step, or None (one replica, cross-replica code)."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return None
    return ctx


def num_replicas() -> int:
    """Replicas whose gradients the optimizer will sum: 1 outside a multi-replica step."""
    ctx = _replica_context()
    return 1 if ctx is None else int(ctx.num_replicas_in_sync)


def scale_for_replicas(loss):
    """``loss / num_replicas``: the loss to differentiate inside a (per-replica) train step.

    The per-replica loss is the mean over this replica's shard; the optimizer sums the
    replicas' gradients, so scaling by ``1 / num_replicas`` gives the gradient of the mean
    over the global batch (exactly, for equal shards). With one replica ``loss`` itself is
    returned (no operation). Track the *unscaled* loss in the metrics.
    """
    n = num_replicas()
    if n == 1:
        return loss
    return loss * tf.cast(1.0 / n, loss.dtype)


def _shard_rows(ctx, rows):
    """``(start, total)``: this replica's first row in the global batch, and its size.

    The shards are contiguous and in replica order (how ``experimental_distribute_dataset``
    splits a batch); their sizes are all-reduced, so unequal shards (a last, short batch)
    are handled. The sizes travel as float32 (exact below 2**24 rows) because all-reduce
    implementations (NCCL) are most reliable with floats.
    """
    n = ctx.num_replicas_in_sync
    replica = ctx.replica_id_in_sync_group
    mine = tf.one_hot(replica, n, dtype=tf.float32) * tf.cast(rows, tf.float32)
    sizes = tf.cast(ctx.all_reduce(tf.distribute.ReduceOp.SUM, mine), tf.int32)
    return tf.reduce_sum(sizes[:replica]), tf.reduce_sum(sizes)


def global_normal(shape, seed, dtype=None):
    """Standard normals ``[B, ...]`` for this replica's shard of the global batch.

    ``shape``: ``(B, ...)`` with ``B`` this replica's batch (an int or a scalar tensor);
    ``seed``: a ``keras.random.SeedGenerator`` (or an int). With one replica this is exactly
    ``keras.random.normal(shape, dtype=dtype, seed=seed)``. With several, every replica
    draws the normals for the whole global batch from the same seed state (the generator's
    state is mirrored and advances identically on all replicas) and keeps the rows of its
    shard, so the global batch gets the numbers one device would draw, and no two replicas
    share noise.
    """
    ctx = _replica_context()
    if ctx is None:
        return keras.random.normal(shape, dtype=dtype, seed=seed)
    rows = shape[0]
    start, total = _shard_rows(ctx, rows)
    noise = keras.random.normal((total, *shape[1:]), dtype=dtype, seed=seed)
    return noise[start:start + rows]


def gather_global_batch(x):
    """``x`` ``[B, ...]`` of all replicas, concatenated in replica order (the global batch).

    With one replica, ``x`` itself. For batch statistics that must not depend on how the
    batch is split (e.g. a variance over the batch).
    """
    ctx = _replica_context()
    return x if ctx is None else ctx.all_gather(x, axis=0)


def batch_norm(name: str, **kwargs) -> layers.BatchNormalization:
    """``layers.BatchNormalization`` whose training statistics cover the global batch.

    Decided when the model is built (build it after ``config.distribute``): under a strategy
    with several replicas, ``synchronized=True`` (the mean and variance are all-reduced
    across the replicas; a stock Keras 3 argument, saved in the layer config); otherwise the
    plain layer, ``synchronized=False``, as before. Keras' synchronized moments are computed
    as ``E[x^2] - E[x]^2`` even with one replica, which differs from ``tf.nn.moments`` in
    the last bits: hence it is only switched on where it is needed.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    synchronized = tf.distribute.get_strategy().num_replicas_in_sync > 1
    return layers.BatchNormalization(synchronized=synchronized, name=name, **kwargs)
