"""Magenta's Performance RNN and Polyphony RNN weights imported as runs.

No real bundle can be downloaded here: the checkpoints below are written
by TensorFlow's own V1 Saver under Magenta's variable names and shapes
(random weights), and the imported model's logits and NLL are checked
against a NumPy implementation of the graph Magenta runs (TF1's
BasicLSTMCell stack, forget bias 1.0, then fully_connected) on the same
tokens and controls. With MUSICRNN_MAGENTA_BUNDLES naming a folder of real
.mag files, each is imported and generates."""

import os

import keras
import note_seq
import numpy as np
import pytest
import tensorflow as tf

from musicrnn import configs
from musicrnn.errors import UsageError
from musicrnn.pipelines import dataset
from musicrnn.runs import generate
from musicrnn.runs import magenta
from musicrnn.runs import run_dir as run_dir_lib
from musicrnn.training import trainer
import testing_lib

CELL = 'rnn/multi_rnn_cell/cell_{}/basic_lstm_cell/{}'


def magenta_weights(rng, inputs, units, classes):
  """Random weights of Magenta's graph: per layer (kernel, bias), then the
  output (weights, biases)."""
  layers = []
  for u in units:
    layers.append((rng.normal(0, 0.3, (inputs + u, 4 * u)).astype(np.float32),
                   rng.normal(0, 0.3, 4 * u).astype(np.float32)))
    inputs = u
  output = (rng.normal(0, 0.3, (units[-1], classes)).astype(np.float32),
            rng.normal(0, 0.3, classes).astype(np.float32))
  return layers, output


def write_checkpoint(folder, layers, output, old_names=False, extra=None):
  """A V1 checkpoint file of Magenta's variable names (and its metagraph),
  as TF1 wrote them; returns (checkpoint path, metagraph path)."""
  kernel, bias = ('weights', 'biases') if old_names else ('kernel', 'bias')
  values = {}
  for i, (k, b) in enumerate(layers):
    values[CELL.format(i, kernel)] = k
    values[CELL.format(i, bias)] = b
  values['fully_connected/weights'], values['fully_connected/biases'] = output
  values['global_step'] = np.int64(1000)
  values['rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel/Adam'] = np.zeros(1, np.float32)
  values.update(extra or {})
  graph = tf.Graph()
  with graph.as_default():
    for name, value in values.items():
      tf.compat.v1.get_variable(name, initializer=value)
    saver = tf.compat.v1.train.Saver(write_version=tf.compat.v1.train.SaverDef.V1)
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      path = saver.save(session, os.path.join(str(folder), 'model.ckpt'))
  return path, path + '.meta'


def magenta_logits(layers, output, inputs):
  """TF1's MultiRNNCell of BasicLSTMCells, then fully_connected, in NumPy:
  inputs [batch, time, features] -> logits [batch, time, classes]."""
  def sigmoid(x):
    return 1 / (1 + np.exp(-x))
  batch, time, _ = inputs.shape
  states = [(np.zeros((batch, k.shape[1] // 4)), np.zeros((batch, k.shape[1] // 4)))
            for k, _ in layers]
  logits = []
  for t in range(time):
    x = inputs[:, t].astype(np.float64)
    for n, (kernel, bias) in enumerate(layers):
      c, h = states[n]
      gates = np.concatenate([x, h], axis=1) @ kernel + bias
      i, j, f, o = np.split(gates, 4, axis=1)
      c = c * sigmoid(f + 1.0) + sigmoid(i) * np.tanh(j)
      h = np.tanh(c) * sigmoid(o)
      states[n] = (c, h)
      x = h
    logits.append(x @ output[0] + output[1])
  return np.stack(logits, axis=1)


def nll(logits, labels):
  log_p = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(
      -1, keepdims=True)) - logits.max(-1, keepdims=True)
  return -np.take_along_axis(log_p, labels[..., None], -1).mean()


def test_performance_with_dynamics_logits_and_nll_equal_magentas(tmp_path):
  rng = np.random.default_rng(0)
  layers, output = magenta_weights(rng, 388, (12, 10), 388)
  checkpoint, _ = write_checkpoint(tmp_path, layers, output)
  run_dir = magenta.import_checkpoint(checkpoint, 'performance_with_dynamics',
                                      str(tmp_path / 'run'))
  run = run_dir_lib.load_run(run_dir)
  assert run.step == 0 and run.config.name == 'performance_with_dynamics'
  assert list(run.config.model.rnn_layer_sizes) == [12, 10]
  tokens = rng.integers(0, 388, (3, 20))
  ours = keras.ops.convert_to_numpy(run.model({'tokens': tokens}))
  theirs = magenta_logits(layers, output, np.eye(388)[tokens])
  np.testing.assert_allclose(ours, theirs, atol=2e-4)
  assert nll(ours[:, :-1], tokens[:, 1:]) == pytest.approx(
      nll(theirs[:, :-1], tokens[:, 1:]), rel=1e-5)
  # The step interface the sampler runs gives the same logits.
  states = run.model.initial_state(3)
  logits, _ = run.model.step({'tokens': tokens[:, 0]}, states)
  np.testing.assert_allclose(keras.ops.convert_to_numpy(logits), theirs[:, 0],
                             atol=2e-4)


@pytest.mark.parametrize('name, density, pitch', [
    ('density_conditioned_performance_with_dynamics', True, False),
    ('pitch_conditioned_performance_with_dynamics', False, True),
    ('multiconditioned_performance_with_dynamics', True, True)])
def test_controls_are_reordered_as_magenta_feeds_them(tmp_path, name, density,
                                                      pitch):
  """Magenta's input is [note density one-hot (8), pitch histogram (12),
  event (388)]; the event LSTM's is [event, note density, pitch histogram]."""
  rng = np.random.default_rng(1)
  width = 388 + 8 * density + 12 * pitch
  layers, output = magenta_weights(rng, width, (9,), 388)
  checkpoint, _ = write_checkpoint(tmp_path, layers, output, old_names=True)
  run = run_dir_lib.load_run(
      magenta.import_checkpoint(checkpoint, name, str(tmp_path / 'run')))
  tokens = rng.integers(0, 388, (2, 15))
  classes = rng.integers(0, 8, (2, 15))
  histogram = rng.random((2, 15, 12)).astype(np.float32)
  histogram /= histogram.sum(-1, keepdims=True)
  inputs, parts = {'tokens': tokens}, []
  if density:
    inputs['note_density'] = classes
    parts.append(np.eye(8)[classes])
  if pitch:
    inputs['pitch_histogram'] = histogram
    parts.append(histogram)
  ours = keras.ops.convert_to_numpy(run.model(inputs))
  theirs = magenta_logits(layers, output,
                          np.concatenate(parts + [np.eye(388)[tokens]], axis=-1))
  np.testing.assert_allclose(ours, theirs, atol=2e-4)


def test_modulo_bundle_reads_note_seqs_modulo_inputs(tmp_path):
  """performance_with_dynamics_and_modulo_encoding: its first layer reads
  note-seq's ModuloPerformanceEventSequenceEncoderDecoder inputs (16 per
  event); a one-hot checkpoint read as it is refused by name."""
  rng = np.random.default_rng(5)
  layers, output = magenta_weights(rng, 16, (11, 7), 388)
  checkpoint, metagraph = write_checkpoint(tmp_path, layers, output)
  name = 'performance_with_dynamics_and_modulo_encoding'
  bundle = str(tmp_path / 'modulo.mag')
  testing_lib.write_magenta_bundle(bundle, name, checkpoint, metagraph)
  run = run_dir_lib.load_run(magenta.import_bundle(bundle, str(tmp_path / 'run')))
  assert run.config.name == name and run.config.model.event_inputs == 'modulo'
  tokens = rng.integers(0, 388, (2, 18))
  encoder = note_seq.ModuloPerformanceEventSequenceEncoderDecoder(
      num_velocity_bins=32)
  one_hot = note_seq.PerformanceOneHotEncoding(num_velocity_bins=32)
  events = [[one_hot.decode_event(int(t)) for t in row] for row in tokens]
  magenta_inputs = np.array([[encoder.events_to_input(row, i)
                              for i in range(len(row))] for row in events])
  theirs = magenta_logits(layers, output, magenta_inputs)
  ours = keras.ops.convert_to_numpy(run.model({'tokens': tokens}))
  np.testing.assert_allclose(ours, theirs, atol=2e-4)
  assert nll(ours[:, :-1], tokens[:, 1:]) == pytest.approx(
      nll(theirs[:, :-1], tokens[:, 1:]), rel=1e-5)
  logits, _ = run.model.step({'tokens': tokens[:, 0]}, run.model.initial_state(2))
  np.testing.assert_allclose(keras.ops.convert_to_numpy(logits), theirs[:, 0],
                             atol=2e-4)
  layers, output = magenta_weights(rng, 388, (11,), 388)
  os.makedirs(tmp_path / 'plain')
  plain, _ = write_checkpoint(tmp_path / 'plain', layers, output)
  with pytest.raises(UsageError, match=r"takes 388 inputs, the config "
                     rf"'{name}' gives 16 inputs of its performance "
                     r"encoding \(modulo vectors\)"):
    magenta.import_checkpoint(plain, name, str(tmp_path / 'r2'))


def test_polyphony_bundle_imports_generates_and_fine_tunes(
    tmp_path, fixture_notesequences):
  rng = np.random.default_rng(2)
  layers, output = magenta_weights(rng, 259, (16, 16), 259)
  checkpoint, metagraph = write_checkpoint(tmp_path, layers, output)
  bundle = testing_lib.write_magenta_bundle(
      str(tmp_path / 'polyphony_rnn.mag'), 'polyphony', checkpoint, metagraph)
  run_dir = str(tmp_path / 'poly')
  result = testing_lib.run_program(
      'musicrnn.import_magenta', f'--bundle_file={bundle}', f'--run_dir={run_dir}',
      '--hparams=batch_size=4,learning_rate=1e-4')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'Magenta polyphony' in result.stderr and run_dir in result.stdout
  tokens = rng.integers(0, 259, (2, 12))
  run = run_dir_lib.load_run(run_dir)
  np.testing.assert_allclose(
      keras.ops.convert_to_numpy(run.model({'tokens': tokens})),
      magenta_logits(layers, output, np.eye(259)[tokens]), atol=2e-4)
  (path,) = generate.generate(run_dir, str(tmp_path / 'out'), num_steps=64,
                              primer_pitches=[60, 64, 67], seed=1)
  assert note_seq.midi_file_to_note_sequence(path).notes
  # Straight from the bundle, with the generation flags.
  result = testing_lib.run_program(
      'musicrnn.generate', f'--bundle_file={bundle}', f'--output_dir={tmp_path}/b',
      '--num_steps=32', '--seed=1', '--temperature=0.9')
  assert result.returncode == 0, result.stderr[-3000:]
  assert os.listdir(tmp_path / 'b') == ['polyphony_000.mid']
  # Fine-tuning on a dataset of Magenta's config, which Magenta's Polyphony
  # RNN never allowed: the run resumes at step 0 with a fresh optimizer.
  # (Shorter pieces than Magenta keeps: the fixtures are short. How long a
  # kept piece must be is no setting the run depends on.)
  data = str(tmp_path / 'data')
  built = configs.get_config('polyphony')
  configs.apply_overrides(built, hparams='min_events=8')
  dataset.create_dataset(built, fixture_notesequences, data, eval_ratio=0.0)
  config = configs.get_config('polyphony')
  configs.apply_overrides(
      config, hparams='rnn_layer_sizes=[16,16],batch_size=4,learning_rate=1e-4')
  summary = trainer.train(config, data, run_dir, num_steps=2, log_every=1,
                          progress=False)
  assert summary.resumed and summary.final_step == 2
  assert np.isfinite(summary.history[-1]['loss'])
  # musicrnn_evaluate scores it on data of its config.
  result = testing_lib.run_program('musicrnn.evaluate', f'--run_dir={run_dir}',
                                   f'--data={data}', '--split=train')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'nats/event' in result.stderr


def test_what_cannot_be_imported_is_named(tmp_path):
  rng = np.random.default_rng(3)
  layers, output = magenta_weights(rng, 356, (8,), 356)
  os.makedirs(tmp_path / 'a')
  plain, _ = write_checkpoint(tmp_path / 'a', layers, output)
  # Magenta's "356 vs 388": a performance checkpoint read as with dynamics.
  with pytest.raises(UsageError, match=r"takes 356 inputs, the config "
                     r"'performance_with_dynamics' gives 388 inputs of its "
                     r"performance encoding"):
    magenta.import_checkpoint(plain, 'performance_with_dynamics', str(tmp_path / 'r1'))
  run_dir = magenta.import_checkpoint(plain, 'performance', str(tmp_path / 'r2'))
  with pytest.raises(UsageError, match='already holds a run'):
    magenta.import_checkpoint(plain, 'performance', run_dir)
  with pytest.raises(UsageError, match="'melody_rnn' cannot be imported.*polyphony"):
    magenta.import_checkpoint(plain, 'melody_rnn', str(tmp_path / 'r3'))
  os.makedirs(tmp_path / 'b')
  attention = 'rnn/multi_rnn_cell/cell_0/attention_cell_wrapper/kernel'
  with_attention, _ = write_checkpoint(
      tmp_path / 'b', layers, output, extra={attention: np.zeros((2, 2), np.float32)})
  with pytest.raises(UsageError, match=attention):
    magenta.import_checkpoint(with_attention, 'performance', str(tmp_path / 'r4'))
  (tmp_path / 'junk.mag').write_bytes(b'\xff not a bundle')
  with pytest.raises(UsageError, match='not a Magenta bundle'):
    magenta.import_bundle(str(tmp_path / 'junk.mag'), str(tmp_path / 'r5'))
  result = testing_lib.run_program('musicrnn.import_magenta',
                                   f'--checkpoint={plain}', f'--run_dir={tmp_path}/r6')
  assert result.returncode == 2 and '--checkpoint needs --config' in result.stderr


BUNDLES = os.environ.get('MUSICRNN_MAGENTA_BUNDLES')


@pytest.mark.skipif(not BUNDLES, reason='MUSICRNN_MAGENTA_BUNDLES names no '
                    'folder of real Magenta .mag files')
def test_real_bundles_import_and_generate(tmp_path):
  names = sorted(n for n in os.listdir(BUNDLES) if n.endswith('.mag'))
  assert names, f'no .mag file in {BUNDLES}'
  for name in names:
    run_dir = magenta.import_bundle(os.path.join(BUNDLES, name),
                                    str(tmp_path / name))
    (path,) = generate.generate(run_dir, str(tmp_path / f'{name}_out'),
                                num_steps=200, seed=1)
    assert note_seq.midi_file_to_note_sequence(path).notes, name
