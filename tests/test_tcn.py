"""TCN (Bai et al. 2018) and the 2012 benchmark's configs: causal with the
receptive field its dilations say, weight-normalized, its queued steps equal
its full pass (beam search's reordering too), it round-trips and learns
real frames; `tcn`, `tcn_nottingham` and `frames_lstm` bind the benchmark's
frames and whole pieces. The last tests run it through the 'multi_label'
task (trainer, evaluator, sampler) on key_frames: one bit per key."""

import os

import keras
import note_seq
import numpy as np
import pytest
import tensorflow as tf

from musicrnn import configs
from musicrnn import encodings
from musicrnn import models
from musicrnn import tasks
from musicrnn.models import tcn as tcn_lib
from musicrnn.models.tcn import TCN
from musicrnn.pipelines import dataset
from musicrnn.runs import generate
from musicrnn.runs import run_dir as run_dir_lib
from musicrnn.training import trainer
import testing_lib


def _model(**kwargs):
  keras.utils.set_random_seed(5)
  settings = dict(frame_size=12, channels=6, levels=3, kernel_size=3,
                  dropout_rate=0.3)
  settings.update(kwargs)
  return TCN(**settings)


def _frames(seed, batch, time, size=12):
  rng = np.random.default_rng(seed)
  return (rng.random((batch, time, size)) < 0.3).astype('float32')


def _real_frames():
  """A pop song's key frames (tests/testdata/pop), a quarter note each."""
  codec = encodings.codec_from_config(configs.get_config('tcn'))
  sequence = note_seq.midi_file_to_note_sequence(
      testing_lib.testdata('pop', 'mr_blue_sky.mid'))
  return codec.encode(sequence).astype('float32')


# --- The model -------------------------------------------------------------

@pytest.mark.parametrize('kernel_size, levels, weight_norm, frame_size', [
    (3, 3, True, 12),     # the first block's 1x1 residual: 12 -> 6
    (2, 2, False, 6),     # widths equal: the identity residual
    (6, 2, True, 12),
])
def test_queued_steps_equal_the_full_pass(kernel_size, levels, weight_norm,
                                          frame_size):
  model = _model(kernel_size=kernel_size, levels=levels,
                 weight_norm=weight_norm, frame_size=frame_size)
  time = max(20, 2 * model.receptive_field)   # the queues wrap around
  frames = _frames(0, 3, time, frame_size)
  full = model({'pianoroll': frames}).numpy()
  assert full.shape == (3, time, frame_size)
  states = model.initial_state(3, time)
  for t in range(time):
    logits, states = model.step({'pianoroll': frames[:, t]}, states)
    assert logits.shape == (3, frame_size)
    np.testing.assert_allclose(logits.numpy(), full[:, t], atol=1e-4)


def test_reordered_states_step_as_the_reordered_full_pass():
  """Beam search's `reorder_states`, compiled as the sampler compiles its
  steps: the logits are the full pass over the reordered histories."""
  model = _model()
  frames = _frames(1, 3, 30)
  step = tf.function(lambda f, s: model.step({'pianoroll': f}, s))
  reorder = tf.function(model.reorder_states, jit_compile=True)
  reorders = {7: [2, 2, 0], 15: [1, 0, 1], 22: [0, 2, 1]}
  states = model.initial_state(3)
  history = frames[:, :0]
  for t in range(30):
    if t in reorders:
      states = reorder(states, tf.constant(reorders[t], tf.int32))
      history = history[reorders[t]]
    history = np.concatenate([history, frames[:, t:t + 1]], axis=1)
    logits, states = step(frames[:, t], states)
    if t in reorders or t == 29:
      full = model({'pianoroll': history}).numpy()[:, -1]
      np.testing.assert_allclose(logits.numpy(), full, atol=1e-4)


def test_causal_with_the_receptive_field_its_dilations_say():
  model = _model()
  assert model.dilations == [1, 2, 4]
  # Two convolutions of 3 taps per block: 1 + 2 * 2 * (1 + 2 + 4).
  assert model.receptive_field == 29
  frames = _frames(2, 1, 40)
  base = model({'pianoroll': frames}).numpy()[0]
  # The last output reads frames 40 - receptive_field .. 39.
  for start, changes in ((40 - model.receptive_field - 1, False),
                         (40 - model.receptive_field, True)):
    changed = frames.copy()
    changed[0, start] = 1 - changed[0, start]
    out = model({'pianoroll': changed}).numpy()[0]
    # Nothing before the change moves; the last frame only inside the field.
    np.testing.assert_allclose(out[:start], base[:start], atol=1e-6)
    assert (np.abs(out[-1] - base[-1]).max() > 1e-4) == changes, start


def test_weight_norm_is_salimans_and_kingmas():
  """w = g v / ||v|| per filter, g starting at ||v|| (so w starts as v); the
  output does not change when v is scaled, and g is trained."""
  model = _model(levels=1)
  frames = _frames(3, 2, 9)
  before = model({'pianoroll': frames}).numpy()
  conv = model.conv_0_0
  v = conv.kernel.numpy()
  np.testing.assert_allclose(conv.g.numpy(),
                             np.sqrt((v ** 2).sum(axis=(0, 1))), rtol=1e-6)
  np.testing.assert_allclose(conv.effective_kernel().numpy(), v, atol=1e-6)
  conv.kernel.assign(3.0 * v)
  np.testing.assert_allclose(model({'pianoroll': frames}).numpy(), before,
                             atol=1e-5)
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(model({'pianoroll': frames}))
  grads = tape.gradient(loss, [conv.g, conv.kernel])
  assert all(g is not None and np.abs(g.numpy()).max() > 0 for g in grads)
  plain = _model(levels=1, weight_norm=False)
  plain(plain.example_inputs([]))
  assert not hasattr(plain.conv_0_0, 'g')
  # Two convolutions (kernel, g, bias), the 1x1 residual and the logits.
  assert len(model.weights) == 2 * 3 + 2 + 2 and len(plain.weights) == 8


def test_config_round_trip_saved_model_and_checkpoint(tmp_path):
  model = _model(weight_norm=True)
  model(model.example_inputs([]))
  assert model.get_config()['weight_norm'] is True
  assert keras.saving.get_registered_object('musicrnn>TCN') is TCN
  assert keras.saving.get_registered_object(
      'musicrnn>CausalConv1D') is tcn_lib.CausalConv1D
  testing_lib.check_model_round_trips(
      model, _model, {'pianoroll': _frames(4, 2, 9)}, tmp_path)


def test_bad_arguments_are_errors():
  with pytest.raises(ValueError, match='kernel_size'):
    TCN(88, kernel_size=1)
  with pytest.raises(ValueError, match='levels'):
    TCN(88, levels=0)
  with pytest.raises(ValueError, match='no control signals'):
    TCN.data_arguments(None, encodings.controls_from_config(
        configs.get_config('density_conditioned_performance_with_dynamics')))


def test_learns_real_frames():
  """A few dozen Adam steps of binary cross-entropy on a pop song's frames
  (plain Keras and TensorFlow, no trainer): the loss falls well below where
  it starts, in training mode with dropout."""
  frames = _real_frames()[None, :256]
  inputs, labels = frames[:, :-1], frames[:, 1:]
  keras.utils.set_random_seed(0)
  model = TCN(frame_size=88, channels=32, levels=2, kernel_size=3,
              dropout_rate=0.1)
  optimizer = keras.optimizers.Adam(1e-2)

  @tf.function
  def train_step():
    with tf.GradientTape() as tape:
      logits = model({'pianoroll': inputs}, training=True)
      loss = tf.reduce_mean(keras.losses.binary_crossentropy(
          labels, logits, from_logits=True))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss

  model({'pianoroll': inputs})
  losses = [float(train_step()) for _ in range(40)]
  assert np.isfinite(losses).all()
  # From about log 2 (0.69) to below the keys' base rates' entropy (~0.18).
  assert losses[0] > 0.4 and losses[-1] < 0.15, losses


# --- The configs -----------------------------------------------------------

def test_configs_are_bai_et_als_on_the_benchmarks_frames():
  for name in ('tcn', 'tcn_nottingham', 'frames_lstm'):
    assert name in configs.names() and f'{name}_tiny' in configs.names()
  jsb, nottingham = configs.get_config('tcn'), configs.get_config('tcn_nottingham')
  for config, (kernel, levels, dropout, steps) in (
      (jsb, (3, 2, 0.5, 1)), (nottingham, (6, 4, 0.2, 2))):
    assert config.family == 'tcn'
    assert dict(config.model) == {'channels': 150, 'levels': levels,
                                  'kernel_size': kernel, 'dropout_rate': dropout,
                                  'weight_norm': True}
    assert (config.train.loss, config.train.learning_rate) == ('bce', 2e-3)
    settings = config.encoding.settings
    assert config.encoding.name == 'key_frames'
    assert (settings.steps_per_quarter, settings.min_pitch,
            settings.max_pitch) == (steps, 21, 108)
  lstm = configs.get_config('frames_lstm')
  assert lstm.family == 'pianoroll_lstm' and lstm.train.loss == 'bce'
  assert (lstm.model.cell, tuple(lstm.model.rnn_layer_sizes),
          lstm.model.dropout_rate, lstm.train.learning_rate) == (
              'lstm', (200,), 0.3, 1e-3)
  assert lstm.encoding.to_dict() == jsb.encoding.to_dict()
  for config in (jsb, nottingham, lstm):
    data = config.data
    assert (data.max_events, data.min_events, data.chunk_seconds) == (0, 2, 0.0)
    assert tuple(data.stretch_factors) == (1.0,)
    assert tuple(data.transpositions) == (0,)


@pytest.mark.parametrize('name, params', [('tcn', 269_938),
                                          ('tcn_nottingham', 1_053_238),
                                          ('frames_lstm', 248_888)])
def test_configs_build_models_of_the_papers_sizes(name, params):
  """About 300K parameters for JSB, 1M for Nottingham (Bai et al.)."""
  config = configs.get_config(name)
  codec = encodings.codec_from_config(config)
  model = models.build_model(config, codec, [])
  assert model.frame_size == codec.vocab_size == 88
  assert model.count_params() == params
  tiny = configs.get_config(f'{name}_tiny')
  assert tiny.encoding.to_dict() == config.encoding.to_dict()
  assert models.build_model(tiny, codec, []).count_params() < 20_000


@pytest.mark.parametrize('cell, layer', [('gru', keras.layers.GRU),
                                         ('rnn', keras.layers.SimpleRNN)])
def test_frames_lstm_switches_its_cell(cell, layer):
  config = configs.get_config('frames_lstm')
  configs.apply_overrides(config, hparams=f'cell={cell}')
  model = models.build_model(config, encodings.codec_from_config(config), [])
  assert [type(rnn) for rnn in model.rnn_layers] == [layer]


def test_whole_pieces_are_kept_whole():
  """max_events=0 cuts nothing: a 300-quarter-note piece is one example of
  300 frames, with no transposed or stretched copies."""
  sequence = testing_lib.make_sequence([60 + i % 12 for i in range(300)],
                                       qpm=120.0, seconds_per_note=0.5)
  config = configs.get_config('tcn')
  maker = dataset.ExampleMaker(configs.to_json(config))
  (example,) = maker.make_features(sequence, 'train', lambda *_: None)
  assert example['pianoroll'].shape == (300, 88)
  assert (example['transposition'], example['stretch']) == (0, 1.0)


# --- Through the 'multi_label' task ----------------------------------------
# These need the task's generation and evaluation to follow the codec's
# `onset_bits` (key_frames has none: one bit per key).

@pytest.fixture(scope='module')
def tcn_run(key_frame_dataset, tmp_path_factory):
  """(run folder, TrainSummary) of tcn_tiny after 60 steps."""

  def train(folder):
    run_dir = os.path.join(folder, 'run')
    return run_dir, trainer.train(
        testing_lib.tiny_config('tcn_tiny'), key_frame_dataset, run_dir,
        num_steps=60, seed=1, log_every=10, eval_every=60, checkpoint_every=30,
        progress=False)

  return testing_lib.made_once(tmp_path_factory, 'run_tcn_tiny', train)[1]


def test_tiny_config_trains_evaluates_and_reloads(tcn_run, key_frame_dataset):
  run_dir, summary = tcn_run
  losses = [h['loss'] for h in summary.history]
  assert len(losses) == 6 and losses[-1] < losses[0]
  (metrics,) = summary.evals
  assert metrics['frames'] > 0 and metrics['loss'] == pytest.approx(metrics['bce'])
  run = run_dir_lib.load_run(run_dir)
  assert run.step == 60 and isinstance(run.model, TCN)
  again = run.task.evaluation(run.model, run.config).evaluate(
      key_frame_dataset, run.config.train.batch_size)
  assert again['loss'] == pytest.approx(metrics['loss'], rel=1e-5)


def test_generates_midi_note_seq_reads(tcn_run, tmp_path):
  run_dir, _ = tcn_run
  paths = generate.generate(run_dir, str(tmp_path), num_outputs=2, num_steps=24,
                            primer_pitches=[60, 64, 67], seed=4)
  assert len(paths) == 2
  for path in paths:
    sequence = note_seq.midi_file_to_note_sequence(path)
    assert {60, 64, 67} <= {n.pitch for n in sequence.notes if n.start_time == 0}


def test_sampled_key_frames_set_any_key(tmp_path):
  """key_frames has one bit per key, no onset and held halves: a model
  that wants every bit set gets every key sounding from the first frame it
  draws to the end, the upper half of the keyboard as the lower."""
  config = configs.get_config('tcn_tiny')
  codec = encodings.codec_from_config(config)
  keras.utils.set_random_seed(0)
  model = models.build_model(config, codec, [])
  model.logits.bias.assign(np.full(88, 20.0, 'float32'))
  model.logits.kernel.assign(np.zeros_like(model.logits.kernel.numpy()))
  task = tasks.for_config(config)
  run = run_dir_lib.LoadedRun(config, codec, [], model, task, 0)
  (path,) = task.generate(run, str(tmp_path), num_steps=3, seed=1)
  notes = note_seq.midi_file_to_note_sequence(path).notes
  # A silent primer frame, then three frames of every key: one note each.
  assert sorted(n.pitch for n in notes) == list(range(21, 109))
  seconds_per_frame = 60.0 / codec.settings.qpm
  assert all(n.start_time == pytest.approx(seconds_per_frame) and
             n.end_time == pytest.approx(4 * seconds_per_frame) for n in notes)
