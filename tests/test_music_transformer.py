"""Music Transformer: skewing equals the naive relative logits; the cached
step equals the full pass; causality; configs and checkpoints round-trip."""

import numpy as np
import pytest
import tensorflow as tf

import keras

from musicrnn.models import music_transformer as mt
import testing_lib


@pytest.mark.parametrize('length, max_distance', [(1, 4), (7, 16), (13, 5), (32, 32)])
def test_skewing_equals_the_naive_relative_logits(length, max_distance):
  rng = np.random.default_rng(length)
  queries = tf.constant(rng.normal(size=(2, 3, length, 4)), tf.float32)
  embeddings = tf.constant(rng.normal(size=(3, max_distance, 4)), tf.float32)
  skewed = mt.relative_logits_skewed(queries, embeddings).numpy()
  naive = mt.relative_logits_naive(queries, embeddings).numpy()
  lower = np.tril(np.ones((length, length), bool))
  np.testing.assert_allclose(skewed[..., lower], naive[..., lower], atol=1e-5)
  # Entry (i, j) is query i against the embedding of distance j - i
  # (clipped to the farthest one kept).
  i, j = length - 1, 0
  row = embeddings.numpy()[:, max(max_distance - 1 - (i - j), 0)]
  np.testing.assert_allclose(
      naive[:, :, i, j], np.einsum('bhd,hd->bh', queries.numpy()[:, :, i], row),
      atol=1e-5)


def test_skew_moves_distance_columns_to_key_positions():
  # Row i, column r of the input is distance r - (L - 1): with the value r
  # everywhere, output (i, j) must hold j - i + L - 1 for j <= i.
  length = 5
  by_distance = tf.tile(tf.range(length, dtype=tf.float32)[None, None, None],
                        [1, 1, length, 1])
  out = mt.skew(by_distance).numpy()[0, 0]
  for i in range(length):
    for j in range(i + 1):
      assert out[i, j] == j - i + length - 1


def test_relative_rows_by_depth_hold_clipped_distances_by_column():
  # Column k is distance k - (max_length - 1): the farthest share E's first
  # row (clipped), positive distances (masked keys only) distance 0's row.
  embeddings = np.random.default_rng(5).normal(size=(2, 5, 3)).astype(np.float32)
  max_length = 8
  rows = mt.relative_rows_by_depth(tf.constant(embeddings), max_length).numpy()
  assert rows.shape == (2, 3, max_length - 1 + mt.CACHE_CHUNK)
  for distance, row in [(-7, 0), (-4, 0), (-3, 1), (-1, 3), (0, 4), (3, 4)]:
    np.testing.assert_array_equal(rows[:, :, distance + max_length - 1],
                                  embeddings[:, row])


def _model(**kwargs):
  keras.utils.set_random_seed(3)
  settings = dict(num_layers=2, num_heads=2, model_dim=8, feed_forward_dim=16,
                  max_relative_distance=6, dropout_rate=0.1)
  settings.update(kwargs)
  return mt.MusicTransformer(24, **settings)


def _inputs(rng, batch, time, controls):
  return testing_lib.random_event_inputs(rng, batch, time, 24, controls)


@pytest.mark.parametrize('controls', [{}, {'note_density': 8, 'pitch_histogram': 12}])
def test_cached_steps_equal_the_full_pass(controls):
  rng = np.random.default_rng(0)
  model = _model(control_sizes=controls)
  time = 15   # longer than max_relative_distance: clipping is exercised
  inputs = _inputs(rng, 3, time, controls)
  full = model(inputs).numpy()
  states = model.initial_state(3, max_length=time + 4)
  for t in range(time):
    logits, states = model.step({k: v[:, t] for k, v in inputs.items()}, states)
    np.testing.assert_allclose(logits.numpy(), full[:, t], atol=1e-4)
  assert int(states[0][0]) == time


def test_compiled_steps_fill_the_whole_last_chunk():
  # The cache is rounded up to whole chunks; every position it holds steps
  # as the full pass under XLA (which clamps an out-of-range slice silently).
  rng = np.random.default_rng(6)
  model = _model()
  time = 12
  inputs = _inputs(rng, 2, time, {})
  full = model(inputs).numpy()
  step = tf.function(model.step, jit_compile=True)
  states = model.initial_state(2, max_length=5)
  for t in range(time):
    logits, states = step({'tokens': inputs['tokens'][:, t]}, states)
    np.testing.assert_allclose(logits.numpy(), full[:, t], atol=1e-4)


def test_cache_needs_max_length_and_heads_must_divide_width():
  with pytest.raises(ValueError, match='max_length'):
    _model().initial_state(2)
  with pytest.raises(ValueError, match='divisible'):
    mt.MusicTransformer(10, num_heads=3, model_dim=8)


def test_future_events_do_not_change_past_logits():
  rng = np.random.default_rng(1)
  model = _model()
  inputs = _inputs(rng, 2, 10, {})
  changed = {'tokens': inputs['tokens'].copy()}
  changed['tokens'][:, 6:] = (changed['tokens'][:, 6:] + 1) % 24
  before, after = model(inputs).numpy(), model(changed).numpy()
  np.testing.assert_allclose(before[:, :6], after[:, :6], atol=1e-5)
  assert np.abs(before[:, 6:] - after[:, 6:]).max() > 1e-4


def test_dropout_only_in_training():
  model = _model(dropout_rate=0.5)
  inputs = _inputs(np.random.default_rng(2), 2, 6, {})
  np.testing.assert_allclose(model(inputs).numpy(), model(inputs).numpy())
  assert np.abs(model(inputs, training=True).numpy()
                - model(inputs).numpy()).max() > 1e-4


def test_config_round_trip_saved_model_and_checkpoint(tmp_path):
  inputs = _inputs(np.random.default_rng(4), 2, 5, {'note_density': 8})
  testing_lib.check_model_round_trips(
      _model(control_sizes={'note_density': 8}),
      lambda: _model(control_sizes={'note_density': 8}), inputs, tmp_path)
