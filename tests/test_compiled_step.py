"""A compiled step: XLA (jit_compile), mixed precision and static-shape
input, on the tiny configs on CPU."""
# pylint: disable=protected-access


import keras
import numpy as np
import pytest
import tensorflow as tf

from musicrnn import configs
from musicrnn import encodings
from musicrnn import models
from musicrnn import tasks
from musicrnn.errors import UsageError
from musicrnn.tasks import next_token
from musicrnn.tfrecords import input as input_lib
from musicrnn.training import compilation
from musicrnn.training import trainer

NAME = 'performance_with_dynamics_tiny'


def _config(name=NAME, **overrides):
  config = configs.get_config(name)
  configs.apply_overrides(config, overrides=overrides)
  return config


def _train(data, run_dir, num_steps, config=None, **kwargs):
  return trainer.train(config or _config(), data, str(run_dir),
                       num_steps=num_steps, seed=0, log_every=1,
                       eval_every=num_steps, checkpoint_every=num_steps,
                       progress=False, **kwargs)


def test_xla_and_graph_steps_give_the_same_losses(tiny_datasets, tmp_path):
  """Static shapes with and without XLA (auto: off for the event LSTM)."""
  data = tiny_datasets[NAME]
  assert compilation.use_jit_compile(_config(), None) is False
  runs = {jit: _train(data, tmp_path / str(jit), 3, jit_compile=jit,
                      static_shapes=True, eval_max_batches=2)
          for jit in (None, True)}
  graph, xla = runs[None], runs[True]
  # Static-shape training runs end to end.
  assert graph.final_step == xla.final_step == 3
  assert all(h['events'] > 0 for h in graph.history)
  # The same batches, the same real events; losses within float rounding.
  assert [h['events'] for h in xla.history] == [h['events'] for h in graph.history]
  np.testing.assert_allclose([h['loss'] for h in xla.history],
                             [h['loss'] for h in graph.history], rtol=1e-4)
  assert xla.history[-1]['loss'] < xla.history[0]['loss']
  # The eval step is compiled too.
  assert xla.evals[0]['events'] == graph.evals[0]['events'] > 0
  assert xla.evals[0]['nll'] == pytest.approx(graph.evals[0]['nll'], rel=1e-4)


def test_bfloat16_trains_and_its_loss_falls(tiny_datasets, tmp_path):
  config = _config(**{'train.learning_rate': 1e-2})
  summary = trainer.train(config, tiny_datasets[NAME], str(tmp_path),
                          num_steps=40, seed=1, log_every=10, eval_every=40,
                          checkpoint_every=40, progress=False,
                          mixed_precision='mixed_bfloat16')
  losses = [h['loss'] for h in summary.history]
  assert all(np.isfinite(losses)) and losses[-1] < losses[0] - 0.3, losses
  assert np.isfinite(summary.evals[-1]['nll'])
  # The global policy is as before: later models build in float32.
  assert keras.config.dtype_policy().name == 'float32'


@pytest.mark.parametrize('name', ['performance_with_dynamics_tiny',
                                  'music_transformer_tiny', 'dilated_cnn_tiny',
                                  'pianoroll_gan_tiny'])
def test_mixed_models_keep_float32_variables_and_outputs(name):
  config = _config(name)
  with compilation.dtype_policy('mixed_bfloat16'):
    model = models.build_model(config, encodings.codec_from_config(config), [])
    outputs = model(model.example_inputs([]))
  assert keras.config.dtype_policy().name == 'float32'
  assert outputs.dtype == tf.float32
  assert {v.dtype for v in model.weights} == {'float32'}
  assert 'bfloat16' in {l.compute_dtype for l in model._flatten_layers()}


def test_loss_scaling_unscales_before_clipping(tiny_datasets):
  """One step with a LossScaleOptimizer leaves Adam as the plain step does:
  the gradients are unscaled, then clipped (a tiny clip norm binds)."""
  config = _config(**{'train.clip_norm': 1e-3})
  codec = encodings.codec_from_config(config)
  features, labels, weights = next(iter(input_lib.make_dataset(
      tiny_datasets[NAME], 'train', 4, shuffle=False)))
  strategy = tf.distribute.get_strategy()
  adams = []
  for loss_scale in (False, True):
    keras.utils.set_random_seed(0)
    model = models.build_model(config, codec, [])
    objective = next_token.NextTokenObjective(model, config, strategy,
                                        loss_scale=loss_scale)
    strategy.run(objective.replica_step, args=(features, labels, weights))
    adams.append(objective.optimizers['optimizer'])
  plain, scaled = adams
  assert int(scaled.iterations) == 1
  for a, b in zip(plain.variables, scaled.variables):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-9)
  # Adam's first moment is (1 - beta_1) x the clipped gradient.
  norm = np.sqrt(sum(np.sum(np.square(m)) for m in scaled._momentums))
  assert norm == pytest.approx((1 - scaled.beta_1) * 1e-3, rel=1e-3)


def test_float16_run_resumes_at_any_precision(tiny_datasets, tmp_path):
  data = tiny_datasets[NAME]
  first = _train(data, tmp_path, 2, mixed_precision='mixed_float16')
  assert all(np.isfinite(h['loss']) for h in first.history)
  second = _train(data, tmp_path, 4, mixed_precision='mixed_float16')
  assert second.resumed and second.start_step == 2 and second.final_step == 4
  # The checkpoint holds Adam's state, not the loss scale: float32 resumes.
  third = _train(data, tmp_path, 5)
  assert third.start_step == 4 and np.isfinite(third.history[-1]['loss'])
  with pytest.raises(UsageError, match='mixed_precision must be one of'):
    _train(data, tmp_path / 'x', 1, mixed_precision='float16')


def test_float16_gan_trains_on_static_batches(gan_dataset, tmp_path):
  summary = _train(gan_dataset, tmp_path, 2, config=_config('pianoroll_gan_tiny'),
                   mixed_precision='mixed_float16', static_shapes=True,
                   jit_compile=False)
  for record in summary.history:
    assert np.isfinite([record['critic_loss'], record['generator_loss']]).all()
    assert record['segments'] == 4   # a full batch every step


def test_tpu_picks_static_shapes_and_their_pipeline_runs(tiny_datasets):
  config = _config()
  length = compilation.static_input_length(config, tpu=True)
  assert length == config.data.max_events == 64
  assert compilation.static_input_length(config, jit_compile=True) == length
  assert compilation.static_input_length(config) is None
  assert compilation.static_input_length(config, tpu=True, static_shapes=False) is None
  # The TPU compiles every step itself; XLA off is the default elsewhere
  # for the families XLA trains no faster (the event LSTM).
  assert compilation.use_jit_compile(config, None, tpu=True) is False
  assert compilation.use_jit_compile(config, None) is False
  assert compilation.use_jit_compile(_config('music_transformer_tiny'), None)
  # The pipeline --strategy=tpu reads: one shape for every batch.
  data = tiny_datasets[NAME]
  batches = list(input_lib.make_dataset(data, 'train', 4, seed=0,
                                        static_length=length).take(30))
  assert {(tuple(f['tokens'].shape), tuple(l.shape), tuple(w.shape))
          for f, l, w in batches} == {((4, length), (4, length), (4, length))}
  for features, labels, weights in batches:
    real = weights.numpy() > 0
    # Real steps first, then padding: token, label and weight 0.
    assert (np.diff(real.astype(int), axis=1) <= 0).all()
    assert not features['tokens'].numpy()[~real].any()
    assert not labels.numpy()[~real].any()
    assert not real[:, -1].any()   # max_events tokens: 63 inputs, padded to 64


def test_static_eval_fills_the_last_batch_and_keeps_the_metrics(tiny_datasets):
  data = tiny_datasets['multiconditioned_performance_with_dynamics_tiny']
  config = _config('multiconditioned_performance_with_dynamics_tiny')
  padded = list(input_lib.make_dataset(data, 'eval', 3, shuffle=False,
                                       repeat=False))
  static = list(input_lib.make_dataset(data, 'eval', 3, shuffle=False,
                                       repeat=False, static_length=64))
  assert len(static) == len(padded) and len(padded[-1][1]) < 3
  for features, labels, weights in static:
    assert labels.shape == weights.shape == (3, 64)
    assert features['note_density'].shape == (3, 64)
    assert features['pitch_histogram'].shape == (3, 64, 12)
  assert sum(float(tf.reduce_sum(b[2])) for b in static) == sum(
      float(tf.reduce_sum(b[2])) for b in padded)
  controls = encodings.controls_from_config(config)
  model = models.build_model(config, encodings.codec_from_config(config), controls)
  evaluation = tasks.for_config(config).evaluation(model, config)
  ours = evaluation.evaluate(data, 3, static_length=64)
  theirs = evaluation.evaluate(data, 3)
  assert ours['events'] == theirs['events']
  assert ours['nll'] == pytest.approx(theirs['nll'], rel=1e-5)


def test_configs_without_a_token_bound_and_replicas_refuse_xla():
  polyphony = _config('polyphony_tiny')
  assert polyphony.data.length_unit == 'steps'
  with pytest.raises(UsageError, match='bounds no token length'):
    compilation.static_input_length(polyphony, tpu=True)
  assert compilation.use_jit_compile(polyphony, None) is False
  with pytest.raises(UsageError, match='with 2 replicas'):
    compilation.use_jit_compile(_config(), True, replicas=2)
  assert compilation.use_jit_compile(_config(), None, replicas=2) is False
  roll = _config('pianoroll_gan_tiny')
  assert compilation.static_input_length(roll, tpu=True) == 64   # its segment steps
