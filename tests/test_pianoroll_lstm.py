"""The piano-roll LSTM on the shared pipeline, trainer, evaluator and
generator: frames in, a sigmoid per bit out, binary cross-entropy or focal
loss; it trains (loss falls), steps as its full pass, reloads, evaluates and
generates MIDI that note-seq reads back."""

import json
import os

import keras
import note_seq
import numpy as np
import pytest
import tensorflow as tf

from musicrnn import configs
from musicrnn import encodings
from musicrnn.errors import UsageError
from musicrnn.generation import sampler
from musicrnn.models.pianoroll_lstm import PianorollLSTM
from musicrnn.runs import generate
from musicrnn.runs import run_dir as run_dir_lib
from musicrnn.tasks import multi_label
from musicrnn.tfrecords import input as input_lib
from musicrnn.training import trainer
import testing_lib

NAMES = ('pianoroll_lstm_tiny', 'pianoroll_lstm_focal_tiny')


@pytest.fixture(scope='module')
def frame_runs(frame_dataset, tmp_path_factory):
  """{config name: (run folder, TrainSummary)} after 60 steps, the same
  seed and data for both losses."""

  def make(name):
    def train(folder):
      run_dir = os.path.join(folder, 'run')
      return run_dir, trainer.train(
          testing_lib.tiny_config(name), frame_dataset, run_dir, num_steps=60,
          seed=1, log_every=10, eval_every=60, checkpoint_every=30,
          progress=False)
    return testing_lib.made_once(tmp_path_factory, f'run_{name}', train)[1]

  return {name: make(name) for name in NAMES}


def test_configs_are_listed_with_their_tiny_variants():
  for name in ('pianoroll_lstm', 'pianoroll_lstm_focal'):
    assert name in configs.names() and f'{name}_tiny' in configs.names()
  focal = configs.get_config('pianoroll_lstm_focal')
  assert (focal.train.loss, focal.train.focal_alpha, focal.train.focal_gamma) == (
      'focal', 0.5, 2.0)
  assert configs.get_config('pianoroll_lstm').train.loss == 'bce'
  assert focal.model.rnn_layer_sizes == (512, 512) and focal.model.dropout_rate > 0


def test_batches_shift_frames_by_one(frame_dataset):
  features, labels, weights = next(iter(input_lib.make_dataset(
      frame_dataset, 'train', 4, shuffle=False, repeat=False)))
  frames = features['pianoroll']
  assert frames.dtype == tf.float32 and frames.shape[-1] == 176
  assert labels.shape == frames.shape and weights.shape == frames.shape[:2]
  np.testing.assert_array_equal(frames[:, 1:][weights[:, 1:] > 0],
                                labels[:, :-1][weights[:, 1:] > 0])


def test_focal_loss_is_lin_et_als():
  """α-balanced focal loss per bit, averaged over a frame's bits; γ = 0
  and α = 0.5 is half the binary cross-entropy."""
  rng = np.random.default_rng(0)
  labels = (rng.random((2, 3, 8)) < 0.3).astype('float32')
  logits = rng.normal(size=(2, 3, 8)).astype('float32')
  p = 1 / (1 + np.exp(-logits))
  p_t = np.where(labels == 1, p, 1 - p)
  alpha_t = np.where(labels == 1, 0.25, 0.75)
  expected = (-alpha_t * (1 - p_t) ** 2 * np.log(p_t)).mean(-1)
  train = configs.get_config('pianoroll_lstm_focal').train
  train.focal_alpha = 0.25
  np.testing.assert_allclose(
      multi_label.frame_loss(labels, logits, train), expected, rtol=1e-4)
  train.focal_alpha, train.focal_gamma = 0.5, 0.0
  bce = -(labels * np.log(p) + (1 - labels) * np.log(1 - p)).mean(-1)
  np.testing.assert_allclose(
      multi_label.frame_loss(labels, logits, train), 0.5 * bce, rtol=1e-4)
  train.loss = 'hinge'
  with pytest.raises(UsageError, match="train.loss must be one of bce, focal, got 'hinge'"):
    multi_label.frame_loss(labels, logits, train)


@pytest.mark.parametrize('pitch_window', [0, 3])
def test_step_by_step_logits_equal_the_full_pass_and_it_reloads(tmp_path,
                                                                pitch_window):
  keras.utils.set_random_seed(3)
  model = PianorollLSTM(frame_size=12, rnn_layer_sizes=(8, 6), dropout_rate=0.2,
                        pitch_window=pitch_window, head_units=5)
  frames = (np.random.default_rng(1).random((2, 7, 12)) < 0.3).astype('float32')
  full = keras.ops.convert_to_numpy(model({'pianoroll': frames}))
  assert full.shape == (2, 7, 12)
  states = model.initial_state(2)
  for t in range(7):
    logits, states = model.step({'pianoroll': frames[:, t]}, states)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(logits), full[:, t],
                               atol=1e-5)
  path = str(tmp_path / 'm.keras')
  model.save(path)
  reloaded = keras.saving.load_model(path)
  np.testing.assert_allclose(
      keras.ops.convert_to_numpy(reloaded({'pianoroll': frames})), full, atol=1e-6)
  assert reloaded.pitch_window == pitch_window


def test_the_pitch_window_network_is_shared_by_every_key():
  """With the dense output and the stack's context silenced, a key's logit
  depends only on the input frame around it and its pitch class: a frame
  moved up an octave moves its logits up an octave."""
  keras.utils.set_random_seed(4)
  model = PianorollLSTM(frame_size=48, rnn_layer_sizes=(4,), pitch_window=2,
                        head_units=6)
  frames = np.zeros((1, 1, 48), np.float32)
  frames[0, 0, [10, 13]] = 1
  model({'pianoroll': frames})
  model.logits.set_weights([np.zeros_like(w) for w in model.logits.get_weights()])
  model.head_context.set_weights(
      [np.zeros_like(w) for w in model.head_context.get_weights()])
  moved = np.roll(frames, 12, axis=-1)
  low = keras.ops.convert_to_numpy(model({'pianoroll': frames}))[0, 0]
  high = keras.ops.convert_to_numpy(model({'pianoroll': moved}))[0, 0]
  np.testing.assert_allclose(high[14:26], low[2:14], atol=1e-6)
  assert not np.allclose(low[8:16], low[8])   # the window matters
  with pytest.raises(ValueError, match='pitch_window must be'):
    PianorollLSTM(frame_size=12, pitch_window=-1)


def test_frame_models_take_no_controls():
  with pytest.raises(ValueError, match='no control signals'):
    PianorollLSTM.data_arguments(None, encodings.controls_from_config(
        configs.get_config('density_conditioned_performance_with_dynamics')))


@pytest.mark.parametrize('name', NAMES)
def test_tiny_config_trains_evaluates_and_reloads(name, frame_runs):
  run_dir, summary = frame_runs[name]
  losses = [h['loss'] for h in summary.history]
  assert len(losses) == 6 and losses[-1] < losses[0]
  assert all(np.isfinite(h['bce']) and 0 <= h['onset_f1'] <= 1
             for h in summary.history)
  (metrics,) = summary.evals
  assert metrics['loss_kind'] == configs.get_config(name).train.loss
  assert metrics['frames'] > 0 and 0 <= metrics['onset_f1'] <= 1
  # Most frames of piano music have a key sounding; a frame with no onset
  # and no held key is silence.
  assert 0 <= metrics['silent_frames_data'] < 0.5
  saved = json.load(open(os.path.join(run_dir, 'eval_metrics.json')))
  assert saved['loss'] == pytest.approx(metrics['loss'])
  run = run_dir_lib.load_run(run_dir)
  assert run.step == 60 and isinstance(run.model, PianorollLSTM)
  again = run.task.evaluation(run.model, run.config).evaluate(
      run_dir_lib.dataset_dir(run_dir), run.config.train.batch_size)
  assert again['loss'] == pytest.approx(metrics['loss'], rel=1e-5)


def test_focal_loss_weighs_what_bce_ignores(frame_runs):
  """On the same batches, the focal run's own loss is far below its BCE
  (bits predicted well count for little), the BCE run's loss is its BCE."""
  bce_eval = frame_runs['pianoroll_lstm_tiny'][1].evals[-1]
  focal_eval = frame_runs['pianoroll_lstm_focal_tiny'][1].evals[-1]
  assert bce_eval['loss'] == pytest.approx(bce_eval['bce'], rel=1e-5)
  assert focal_eval['loss'] < 0.5 * focal_eval['bce']


def test_generates_midi_note_seq_reads(frame_runs, tmp_path):
  run_dir, _ = frame_runs['pianoroll_lstm_focal_tiny']
  paths = generate.generate(run_dir, str(tmp_path), num_outputs=2, num_steps=48,
                            primer_pitches=[60, 64, 67], seed=4, render_png=True)
  assert len(paths) == 2 and os.path.exists(paths[0][:-4] + '.png')
  for path in paths:
    sequence = note_seq.midi_file_to_note_sequence(path)
    # A quarter-note primer (4 frames) then 48 frames of 8 a second.
    assert sequence.total_time <= (4 + 48) / 8 + 1e-6
    assert {60, 64, 67} <= {n.pitch for n in sequence.notes if n.start_time == 0}
  again = generate.generate(run_dir, str(tmp_path / 'again'), num_outputs=2,
                            num_steps=48, primer_pitches=[60, 64, 67], seed=4)
  assert open(again[1], 'rb').read() == open(paths[1], 'rb').read()
  (threshold,) = generate.generate(run_dir, str(tmp_path / 't'), binarize='threshold',
                                   threshold=0.9, duration_seconds=3.0, seed=1)
  assert note_seq.midi_file_to_note_sequence(threshold).total_time <= 3.0
  # A primer that changes tempo primes with its part before the change.
  primer = note_seq.NoteSequence(ticks_per_quarter=220)
  primer.tempos.add(time=0.0, qpm=120.0)
  primer.tempos.add(time=1.0, qpm=90.0)
  for i, pitch in enumerate((60, 62, 64, 65, 67)):
    primer.notes.add(pitch=pitch, velocity=80, start_time=0.5 * i,
                     end_time=0.5 * i + 0.5)
  primer.total_time = 2.5
  note_seq.sequence_proto_to_midi_file(primer, str(tmp_path / 'primer.mid'))
  (primed,) = generate.generate(run_dir, str(tmp_path / 'p'), num_steps=8,
                                primer_midi=str(tmp_path / 'primer.mid'), seed=1)
  starts = sorted((n.start_time, n.pitch)
                  for n in note_seq.midi_file_to_note_sequence(primed).notes)
  assert starts[:2] == [(0.0, 60), (0.5, 62)]
  with pytest.raises(UsageError, match='--beam_size'):
    generate.generate(run_dir, str(tmp_path), beam_size=2)
  # Frames are steps of a metric grid: --num_bars is bars of them (16
  # frames a 4/4 bar), Magenta's melody primer at --qpm primes them.
  (bars,) = generate.generate(run_dir, str(tmp_path / 'bars'), num_bars=2,
                              primer_melody=[60, -2, 64, -2], qpm=60.0, seed=1)
  bars = note_seq.midi_file_to_note_sequence(bars)
  assert bars.tempos[0].qpm == pytest.approx(60.0)
  # 4 primer frames and 32 more, of 4 a second at 60 qpm.
  assert bars.total_time <= (4 + 32) / 4 + 1e-6
  assert sorted((n.start_time, n.pitch) for n in bars.notes)[:2] == [
      (0.0, 60), (0.5, 64)]
  with pytest.raises(UsageError, match='not --num_steps with --num_bars'):
    generate.generate(run_dir, str(tmp_path), num_steps=8, num_bars=4)


def test_sampled_frames_hold_a_key_only_after_it_sounded():
  """A model that wants every bit set: onsets everywhere, no held bit
  without one before it (held wins nothing over an onset)."""
  keras.utils.set_random_seed(0)
  model = PianorollLSTM(frame_size=8, rnn_layer_sizes=(4,))
  model(model.example_inputs([]))
  model.logits.bias.assign(np.full(8, 20.0, 'float32'))
  model.logits.kernel.assign(np.zeros_like(model.logits.kernel.numpy()))
  primer = np.zeros((1, 1, 8), np.uint8)
  primer[0, 0, 0] = 1     # key 0 struck in the primer
  frames = sampler.sample_frames(model, primer, 3, seed=1)
  assert frames.shape == (1, 4, 8)
  # Every key is struck again each frame: onsets win over held.
  assert frames[0, 1:, :4].all() and not frames[0, 1:, 4:].any()
  model.logits.bias.assign(np.array([-20] * 4 + [20] * 4, 'float32'))
  frames = sampler.sample_frames(model, primer, 3, seed=1)
  # Only key 0, which sounded, is held; the others never start.
  assert frames[0, 1:, 4].all() and not frames[0, 1:, 5:].any()
  assert not frames[0, 1:, :4].any()


def test_cli_generates_and_evaluates(frame_runs, tmp_path):
  run_dir, _ = frame_runs['pianoroll_lstm_tiny']
  out = tmp_path / 'out'
  result = testing_lib.run_program(
      'musicrnn.generate', f'--run_dir={run_dir}', f'--output_dir={out}',
      '--num_steps=32', '--seed=2', '--temperature=0.8')
  assert result.returncode == 0, result.stderr[-3000:]
  assert len(list(out.glob('*.mid'))) == 1
  metrics_json = tmp_path / 'metrics.json'
  result = testing_lib.run_program(
      'musicrnn.evaluate', f'--run_dir={run_dir}', f'--output_json={metrics_json}')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'onset F1' in result.stderr
  assert json.load(open(metrics_json))['loss_kind'] == 'bce'
