"""The compiled sampler equals the naive loop and honours its filters."""

import numpy as np
import pytest
import tensorflow as tf

import keras

from musicrnn.generation import sampler
from musicrnn.models.event_lstm import EventLSTM


@pytest.fixture(scope='module')
def model():
  keras.utils.set_random_seed(3)
  return EventLSTM(24, rnn_layer_sizes=(16, 16),
                   control_sizes={'note_density': 8, 'pitch_histogram': 12})


def _controls(batch, total, rng):
  h = rng.random((batch, total, 12)).astype('float32')
  return {'note_density': rng.integers(0, 8, (batch, total)).astype('int32'),
          'pitch_histogram': h / h.sum(-1, keepdims=True)}


def test_greedy_compiled_loop_equals_the_naive_loop(model):
  rng = np.random.default_rng(0)
  primer = rng.integers(0, 24, (4, 5)).astype('int32')
  controls = _controls(4, 5 + 12, rng)
  fast = sampler.sample(model, primer, 12, controls=controls, top_k=1)
  slow = sampler.sample_naively(model, primer, 12, controls=controls, top_k=1)
  assert fast.shape == (4, 17)
  np.testing.assert_array_equal(fast[:, :5], primer)
  np.testing.assert_array_equal(fast, slow)


def test_seeded_sampling_is_reproducible_and_varies_with_the_seed(model):
  rng = np.random.default_rng(1)
  primer = np.zeros((8, 1), 'int32')
  controls = _controls(8, 31, rng)
  a = sampler.sample(model, primer, 30, controls=controls, seed=5)
  b = sampler.sample(model, primer, 30, controls=controls, seed=5)
  c = sampler.sample(model, primer, 30, controls=controls, seed=6)
  np.testing.assert_array_equal(a, b)
  assert (a != c).any()
  assert a.min() >= 0 and a.max() < 24


def test_filters():
  logits = tf.constant([[1.0, 3.0, 2.0, 0.0]])
  top2 = sampler.filter_logits(logits, top_k=2).numpy()
  assert np.isinf(top2[0, [0, 3]]).all() and np.isfinite(top2[0, [1, 2]]).all()
  # Probabilities 0.64, 0.24, 0.09, 0.03: top_p=0.7 keeps the first two.
  nucleus = sampler.filter_logits(logits, top_p=0.7).numpy()
  assert np.isfinite(nucleus[0, [1, 2]]).all() and np.isinf(nucleus[0, [0, 3]]).all()
  cold = sampler.filter_logits(logits, temperature=0.5).numpy()
  np.testing.assert_allclose(cold, logits.numpy() * 2)


def _log_likelihood(model, tokens, controls, start):
  """Summed log-probability of tokens[:, start:] under the full pass."""
  inputs = {'tokens': tokens[:, :-1]}
  inputs.update({k: v[:, 1:] for k, v in controls.items()})
  log_probs = tf.nn.log_softmax(model(inputs)).numpy()
  picked = np.take_along_axis(log_probs, tokens[:, 1:, None], axis=2)[..., 0]
  return picked[:, start - 1:].sum(axis=1)


def test_beam_search_greedy_and_likelier_than_sampling(model):
  rng = np.random.default_rng(4)
  primer = rng.integers(0, 24, (3, 4)).astype('int32')
  controls = _controls(3, 4 + 15, rng)
  greedy = sampler.sample(model, primer, 15, controls=controls, top_k=1)
  beam_greedy = sampler.beam_search(model, primer, 15, beam_size=3, branch_factor=2,
                                    controls=controls, top_k=1)
  np.testing.assert_array_equal(beam_greedy, greedy)
  beam = sampler.beam_search(model, primer, 15, beam_size=4, branch_factor=3,
                             controls=controls, seed=0)
  assert beam.shape == (3, 19)
  np.testing.assert_array_equal(beam[:, :4], primer)
  samples = [sampler.sample(model, primer, 15, controls=controls, seed=s)
             for s in range(6)]
  beam_ll = _log_likelihood(model, beam, controls, 4)
  sample_ll = np.mean([_log_likelihood(model, s, controls, 4) for s in samples], axis=0)
  assert (beam_ll > sample_ll).all()


def test_compiled_and_uncompiled_loops_agree_where_the_draw_is_greedy(model):
  # XLA and TF kernels draw different random numbers, but the same argmax.
  rng = np.random.default_rng(5)
  primer = rng.integers(0, 24, (3, 4)).astype('int32')
  controls = _controls(3, 4 + 10, rng)
  for search in (sampler.sample, lambda *a, **k: sampler.beam_search(
      *a, beam_size=2, branch_factor=3, steps_per_iteration=2, **k)):
    xla = search(model, primer, 10, controls=controls, top_k=1)
    graph = search(model, primer, 10, controls=controls, top_k=1,
                   jit_compile=False)
    np.testing.assert_array_equal(xla, graph)
  # Each is reproducible for a seed.
  for jit in (True, False):
    a, b = (sampler.beam_search(model, primer, 10, beam_size=3, branch_factor=2,
                                steps_per_iteration=4, controls=controls,
                                seed=2, jit_compile=jit) for _ in range(2))
    np.testing.assert_array_equal(a, b)


def test_beam_search_iterations_follow_magenta(model):
  # 10 events in iterations of 4: the first takes the remainder (2).
  assert sampler.first_iteration_steps(10, 4) == 2
  assert sampler.first_iteration_steps(8, 4) == 4
  assert sampler.first_iteration_steps(7, 1) == 1
  rng = np.random.default_rng(6)
  primer = rng.integers(0, 24, (2, 3)).astype('int32')
  controls = _controls(2, 3 + 10, rng)
  samples = [sampler.sample(model, primer, 10, controls=controls, seed=s)
             for s in range(4)]
  sample_ll = np.mean([_log_likelihood(model, s, controls, 3) for s in samples],
                      axis=0)
  for spi in (1, 4, 10):
    beam = sampler.beam_search(model, primer, 10, beam_size=4, branch_factor=3,
                               steps_per_iteration=spi, controls=controls, seed=1)
    np.testing.assert_array_equal(beam[:, :3], primer)
    # Pruning by likelihood finds likelier continuations than plain draws.
    assert (_log_likelihood(model, beam, controls, 3) > sample_ll).all(), spi
  with pytest.raises(ValueError, match='steps_per_iteration'):
    sampler.beam_search(model, primer, 10, beam_size=2, branch_factor=2,
                        steps_per_iteration=0)


def test_top_k_given_as_a_tensor_compiles_with_xla():
  logits = tf.constant([[1.0, 3.0, 2.0, 0.0], [0.0, 1.0, 5.0, 4.0]])
  filtered = tf.function(
      lambda x, k: sampler.filter_logits(x, top_k=k), jit_compile=True)
  for k in (0, 1, 2, 9):
    expected = sampler.filter_logits(logits, top_k=k).numpy()
    np.testing.assert_array_equal(filtered(logits, tf.constant(k)).numpy(),
                                  expected)


def test_compiled_loops_do_not_keep_their_model_alive():
  """A notebook that samples from one model after another frees each: the
  cache of compiled loops holds a model weakly, and its loops with it."""
  import gc  # pylint: disable=import-outside-toplevel
  import weakref  # pylint: disable=import-outside-toplevel
  model = EventLSTM(12, rnn_layer_sizes=(8,))
  primer = np.zeros((2, 1), 'int32')
  first = sampler.sample(model, primer, 4, seed=1, jit_compile=False)
  # The loop is made once per model and reused.
  np.testing.assert_array_equal(
      sampler.sample(model, primer, 4, seed=1, jit_compile=False), first)
  sampler.beam_search(model, primer, 4, beam_size=2, branch_factor=2, seed=1,
                      jit_compile=False)
  assert len(sampler._LOOPS[model]) == 2  # pylint: disable=protected-access
  gone = weakref.ref(model)
  del model
  gc.collect()
  assert gone() is None
