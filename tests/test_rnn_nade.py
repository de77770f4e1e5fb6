"""The Pianoroll RNN-NADE (family rnn_nade, task joint_frames): the NADE's
probabilities are exact (they sum to one over every frame, step by step as
in the full pass), frames are drawn key by key from them; the tiny configs
train on the committed fixtures (loss falls), evaluate in nats per frame
and Bay et al.'s frame accuracy, reload and generate MIDI; and Magenta's
weights, from a TF1 graph written here under Magenta's variable names (no
real RNN-NADE bundle can be downloaded), import with the same per-frame
log-likelihoods."""

import itertools
import os
import shutil

import keras
import note_seq
import numpy as np
import pytest
import tensorflow as tf

from musicrnn import configs
from musicrnn.errors import UsageError
from musicrnn.generation import sampler
from musicrnn.models.rnn_nade import RnnNade
from musicrnn.runs import generate
from musicrnn.runs import magenta
from musicrnn.runs import run_dir as run_dir_lib
from musicrnn.tasks import joint_frames
from musicrnn.tfrecords import input as input_lib
from musicrnn.training import trainer
import testing_lib

NAMES = ('rnn-nade_tiny', 'rnn-nade_attn_tiny')


def _model(frame_size, attn_length=0, seed=0, **kwargs):
  keras.utils.set_random_seed(seed)
  model = RnnNade(frame_size, rnn_layer_sizes=(7, 5), nade_hidden_units=6,
                  attn_length=attn_length, **kwargs)
  model(model.example_inputs([]))
  return model


def _numpy(x):
  return keras.ops.convert_to_numpy(x)


def _nade_loop(model, params, frame):
  """log p(frame) as the NADE's definition reads, one key at a time, in
  NumPy (float64)."""
  params = np.asarray(params, np.float64)
  hidden_units = model.nade_hidden_units
  b_enc, b_dec = params[:hidden_units], params[hidden_units:]
  w_enc, w_dec = (_numpy(w).astype(np.float64) for w in (model.w_enc, model.w_dec))
  a, log_p = b_enc.copy(), 0.0
  for d, bit in enumerate(frame):
    p = 1 / (1 + np.exp(-(b_dec[d] + (1 / (1 + np.exp(-a))) @ w_dec[d])))
    log_p += np.log(p if bit else 1 - p)
    a += bit * w_enc[d]
  return log_p


@pytest.mark.parametrize('attn_length', [0, 3])
def test_probabilities_are_exact_and_step_as_the_full_pass(attn_length):
  """Over 6 keys the probabilities of all 64 frames sum to one; each
  frame's is the key-by-key product; the cached step gives the full pass's
  log-probabilities (through the attention window too)."""
  keys = 6
  model = _model(keys, attn_length)
  rng = np.random.default_rng(0)
  inputs = (rng.random((3, 10, keys)) < 0.4).astype('float32')
  labels = (rng.random((3, 10, keys)) < 0.4).astype('float32')
  full = _numpy(model.log_prob({'pianoroll': inputs}, labels))
  assert full.shape == (3, 10) and (full < 0).all()
  states = model.initial_state(3)
  for t in range(10):
    params, states = model.step({'pianoroll': inputs[:, t]}, states)
    np.testing.assert_allclose(_numpy(model.frame_log_prob(params, labels[:, t])),
                               full[:, t], atol=1e-5)
  params = _numpy(model({'pianoroll': inputs}))
  every_frame = np.array(list(itertools.product([0, 1], repeat=keys)), 'float32')
  for b, t in [(0, 0), (1, 4), (2, 9)]:
    log_p = _numpy(model.frame_log_prob(np.tile(params[b, t], (64, 1)),
                                        every_frame))
    assert np.exp(log_p.astype(np.float64)).sum() == pytest.approx(1.0, abs=1e-5)
    for frame in every_frame[::7]:
      assert float(_numpy(model.frame_log_prob(params[b, t], frame))) == (
          pytest.approx(_nade_loop(model, params[b, t], frame), abs=1e-5))


def test_frames_are_drawn_key_by_key_from_the_conditionals():
  """Each drawn key is 1 exactly where its uniform is below its probability
  given the keys drawn below it (at the temperature); uniforms of 0.5 give
  the greedy frame; and over many draws the frames' frequencies are the
  model's probabilities."""
  keys = 6
  model = _model(keys)
  rng = np.random.default_rng(1)
  params = _numpy(model({'pianoroll': (rng.random((4, 5, keys)) < 0.5).astype(
      'float32')}))
  for temperature in (1.0, 0.5, 2.0):
    uniforms = rng.random((4, 5, keys)).astype('float32')
    frames = _numpy(model.sample_frame(params, uniforms, temperature))
    logits = _numpy(model.conditional_logits(params, frames))
    expected = uniforms < 1 / (1 + np.exp(-logits / temperature))
    np.testing.assert_array_equal(frames, expected.astype('float32'))
  greedy = _numpy(model.sample_frame(params, np.full((4, 5, keys), 0.5)))
  np.testing.assert_array_equal(
      greedy, (_numpy(model.conditional_logits(params, greedy)) > 0).astype('float32'))
  draws = 20000
  one = np.tile(params[0, 0], (draws, 1))
  frames = _numpy(model.sample_frame(one, rng.random((draws, keys))))
  every_frame = np.array(list(itertools.product([0, 1], repeat=keys)), 'float32')
  probability = np.exp(_numpy(model.frame_log_prob(np.tile(params[0, 0], (64, 1)),
                                                   every_frame)))
  code = 2 ** np.arange(keys)
  frequency = np.bincount((frames @ code).astype(int), minlength=64) / draws
  np.testing.assert_allclose(frequency[(every_frame @ code).astype(int)],
                             probability, atol=0.015)


@pytest.mark.parametrize('attn_length', [0, 4])
def test_config_round_trip_checkpoint_and_keras_reload(attn_length, tmp_path):
  model = _model(10, attn_length, dropout_rate=0.5)
  frames = (np.random.default_rng(2).random((2, 6, 10)) < 0.3).astype('float32')
  before = _numpy(model({'pianoroll': frames}))
  assert before.shape == (2, 6, 6 + 10)
  clone = RnnNade.from_config(model.get_config())
  assert clone.get_config() == model.get_config()
  path = tf.train.Checkpoint(model=model).save(str(tmp_path / 'ckpt'))
  saved = {name for name, _ in tf.train.list_variables(path)}
  assert len([n for n in saved if n.startswith('model/')]) == len(model.weights)
  other = _model(10, attn_length, seed=5, dropout_rate=0.5)
  tf.train.Checkpoint(model=other).restore(path).assert_consumed()
  np.testing.assert_allclose(_numpy(other({'pianoroll': frames})), before)
  model.save(str(tmp_path / 'm.keras'))
  reloaded = keras.saving.load_model(str(tmp_path / 'm.keras'))
  np.testing.assert_allclose(_numpy(reloaded({'pianoroll': frames})), before,
                             atol=1e-6)
  with pytest.raises(ValueError, match='attention wraps an LSTM'):
    RnnNade(10, cell='gru', attn_length=4)


def test_configs_are_magentas_under_magentas_names():
  """Magenta's rnn-nade: 3x128 LSTM, NADE 128, dropout keep 0.5, batch 64,
  lr 1e-3, clip 5; rnn-nade_attn: 2x128, attention over 32, batch 48;
  PianorollEncoderDecoder's frames (88 keys from MIDI 21, 4 steps a
  quarter); the names keep their '-'."""
  nade, attn = configs.get_config('rnn-nade'), configs.get_config('rnn-nade_attn')
  for config, layers, attn_length, batch in ((nade, (128,) * 3, 0, 64),
                                             (attn, (128,) * 2, 32, 48)):
    assert config.family == 'rnn_nade'
    assert tuple(config.model.rnn_layer_sizes) == layers
    assert config.model.attn_length == attn_length
    assert (config.model.nade_hidden_units, config.model.dropout_rate) == (128, 0.5)
    assert (config.train.batch_size, config.train.learning_rate,
            config.train.clip_norm) == (batch, 1e-3, 5.0)
    assert config.encoding.name == 'key_frames'
    assert dict(config.encoding.settings) == {
        'steps_per_quarter': 4, 'min_pitch': 21, 'max_pitch': 108}
    assert tuple(config.data.transpositions) == tuple(range(-4, 5))
    assert config.data.min_events == 80 and not config.data.sustain
  for name in ('rnn-nade', 'rnn-nade_attn'):
    assert f'{name}_tiny' in configs.names()
  configs.apply_overrides(attn, hparams='attn_length=8,rnn_layer_sizes=[64,64]')
  assert attn.model.attn_length == 8
  with pytest.raises(UsageError, match="did you mean 'rnn-nade'"):
    configs.get_config('rnn_nade')


@pytest.fixture(scope='module')
def nade_runs(nade_frame_dataset, tmp_path_factory):
  """{config name: (run folder, TrainSummary)} after 60 steps."""

  def make(name):
    def train(folder):
      run_dir = os.path.join(folder, 'run')
      return run_dir, trainer.train(
          testing_lib.tiny_config(name), nade_frame_dataset, run_dir,
          num_steps=60, seed=1, log_every=10, eval_every=60,
          checkpoint_every=30, progress=False)
    return testing_lib.made_once(tmp_path_factory, f'run_{name}', train)[1]

  return {name: make(name) for name in NAMES}


def _by_hand(model, data):
  """(nats per frame, frame accuracy) over every real frame of the eval
  split, from log_prob and a greedy decoding written here: the sum over
  frames of -log p over the number of frames, and the sums of TP over
  the sums of TP + FP + FN."""
  nll = frames = hits = wrong = 0.0
  for features, labels, weights in input_lib.make_dataset(
      data, 'eval', 16, shuffle=False, repeat=False):
    params = _numpy(model(features))
    log_p = _numpy(model.log_prob(features, labels))
    weights = weights.numpy()
    nll -= (log_p * weights).sum()
    frames += weights.sum()
    # Greedy: key d set where p(x_d = 1 | the keys set below it) > 0.5.
    greedy = np.zeros(labels.shape, np.float32)
    for d in range(labels.shape[-1]):
      logits = _numpy(model.conditional_logits(params, greedy))
      greedy[..., d] = logits[..., d] > 0
    real = weights[..., None] > 0
    labels = labels.numpy()
    hits += (greedy * labels * real).sum()
    wrong += (np.abs(greedy - labels) * real).sum()
  return nll / frames, hits / max(hits + wrong, 1.0), int(frames)


@pytest.mark.parametrize('name', NAMES)
def test_tiny_config_trains_evaluates_and_reloads(name, nade_runs,
                                                  nade_frame_dataset):
  run_dir, summary = nade_runs[name]
  losses = [h['loss'] for h in summary.history]
  assert len(losses) == 6 and all(np.isfinite(losses))
  # Nats per frame of 88 keys: from about 88 log 2 towards the data's.
  assert losses[0] > 25 and losses[-1] < losses[0] - 10, losses
  metrics = summary.evals[-1]
  assert {'nll_per_frame', 'frame_accuracy', 'frames'} <= set(metrics)
  run = run_dir_lib.load_run(run_dir)
  assert run.step == 60 and type(run.model).__name__ == 'RnnNade'
  assert run.task.name == 'joint_frames'
  again = run.task.evaluation(run.model, run.config).evaluate(nade_frame_dataset, 4)
  assert again['nll_per_frame'] == pytest.approx(metrics['nll_per_frame'], rel=1e-4)
  nll, accuracy, frames = _by_hand(run.model, nade_frame_dataset)
  assert again['frames'] == frames
  assert again['nll_per_frame'] == pytest.approx(nll, rel=1e-4)
  assert again['frame_accuracy'] == pytest.approx(accuracy, abs=1e-6)
  assert 'nats/frame' in run.task.evaluation.describe(again)


def test_compiled_loop_draws_as_the_step_and_generates_midi(nade_runs, tmp_path):
  """The compiled loop (XLA) with threshold draws equals a Python loop over
  the step and `sample_frame`; generation writes MIDI that decodes, its
  primer first, the same for a seed."""
  run = run_dir_lib.load_run(nade_runs['rnn-nade_attn_tiny'][0])
  primer = np.zeros((2, 3, 88), np.float32)
  primer[:, 1:, [39, 43, 46]] = 1
  fast = sampler.sample_joint_frames(run.model, primer, 12, binarize='threshold',
                                     threshold=0.3)
  frames, states = primer, run.model.initial_state(2)
  params = None
  for t in range(3 + 12 - 1):
    params, states = run.model.step({'pianoroll': frames[:, t]}, states)
    if t + 1 >= 3:
      drawn = _numpy(run.model.sample_frame(params, np.full((2, 88), 0.3)))
      frames = np.concatenate([frames, drawn[:, None]], axis=1)
  np.testing.assert_array_equal(fast, frames.astype(np.uint8))
  paths = generate.generate(nade_runs['rnn-nade_tiny'][0], str(tmp_path),
                            num_outputs=2, num_steps=48,
                            primer_pitches=[60, 64, 67], seed=3)
  assert len(paths) == 2
  for path in paths:
    sequence = note_seq.midi_file_to_note_sequence(path)
    first = sorted((n.start_time, n.pitch) for n in sequence.notes)[:3]
    assert [p for _, p in first] == [60, 64, 67]
  again = generate.generate(nade_runs['rnn-nade_tiny'][0], str(tmp_path / 'b'),
                            num_outputs=2, num_steps=48,
                            primer_pitches=[60, 64, 67], seed=3)
  assert open(again[0], 'rb').read() == open(paths[0], 'rb').read()
  with pytest.raises(UsageError, match='--threshold'):
    generate.generate(nade_runs['rnn-nade_tiny'][0], str(tmp_path / 'c'),
                      num_steps=4, binarize='threshold', threshold=1.5)


def test_cli_resumes_training_by_its_dashed_name(nade_runs, nade_frame_dataset,
                                                 tmp_path):
  run_dir = str(tmp_path / 'run')
  shutil.copytree(nade_runs['rnn-nade_tiny'][0], run_dir)
  result = testing_lib.run_program(
      'musicrnn.train', '--config=rnn-nade_tiny',
      f'--train_data={nade_frame_dataset}', f'--run_dir={run_dir}',
      '--num_steps=62', '--log_every=1', '--eval_every=100',
      '--hparams=learning_rate=1e-2')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'steps 60 -> 62 (resumed)' in result.stdout
  assert 'nats/frame' in result.stderr
  result = testing_lib.run_program('musicrnn.evaluate', f'--run_dir={run_dir}')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'frame accuracy' in result.stderr


# Magenta's graph (pianoroll_rnn_nade_graph with events_rnn_graph's cell),
# written here in TF1 ops under its variable names: the ground truth of the
# import.


class _BasicLSTM:
  """TF1's BasicLSTMCell: gates i, j, f, o of [x, h] @ kernel + bias, forget
  bias 1; state (c, h)."""

  def __init__(self, variable, inputs, units):
    v1 = tf.compat.v1
    with v1.variable_scope('basic_lstm_cell'):
      self.kernel = variable('kernel', [inputs + units, 4 * units])
      self.bias = variable('bias', [4 * units])
    self.units = units

  def zero_state(self, batch):
    return (tf.zeros([batch, self.units]), tf.zeros([batch, self.units]))

  def __call__(self, x, state):
    c, h = state
    i, j, f, o = tf.split(tf.matmul(tf.concat([x, h], 1), self.kernel)
                          + self.bias, 4, axis=1)
    c = c * tf.sigmoid(f + 1.0) + tf.sigmoid(i) * tf.tanh(j)
    h = tf.tanh(c) * tf.sigmoid(o)
    return h, (c, h)


class _AttentionWrapper:
  """TF1 contrib's AttentionCellWrapper around a BasicLSTMCell, as Magenta
  makes it (state_is_tuple, attn_size = attn_vec_size = the cell's units):
  the input projection, the 1x1-convolution attention over the window,
  the output projection."""

  def __init__(self, variable, inputs, units, length):
    v1 = tf.compat.v1
    self.units, self.length = units, length
    self.input_kernel = variable('kernel', [inputs + units, inputs])
    self.input_bias = variable('bias', [inputs])
    self.lstm = _BasicLSTM(variable, inputs, units)
    with v1.variable_scope('attention'):
      self.attn_w = variable('attn_w', [1, 1, units, units])
      self.attn_v = variable('attn_v', [units])
      self.query_kernel = variable('kernel', [2 * units, units])
      self.query_bias = variable('bias', [units])
    with v1.variable_scope('attn_output_projection'):
      self.output_kernel = variable('kernel', [2 * units, units])
      self.output_bias = variable('bias', [units])

  def zero_state(self, batch):
    return (self.lstm.zero_state(batch), tf.zeros([batch, self.units]),
            tf.zeros([batch, self.units * self.length]))

  def __call__(self, x, state):
    lstm_state, attns, attn_states = state
    attn_states = tf.reshape(attn_states, [-1, self.length, self.units])
    x = tf.matmul(tf.concat([x, attns], 1), self.input_kernel) + self.input_bias
    out, lstm_state = self.lstm(x, lstm_state)
    query = tf.concat(list(lstm_state), 1)   # an LSTMStateTuple: c, then h
    hidden = tf.reshape(attn_states, [-1, self.length, 1, self.units])
    features = tf.nn.conv2d(hidden, self.attn_w, [1, 1, 1, 1], 'SAME')
    y = tf.reshape(tf.matmul(query, self.query_kernel) + self.query_bias,
                   [-1, 1, 1, self.units])
    a = tf.nn.softmax(tf.reduce_sum(self.attn_v * tf.tanh(features + y), [2, 3]))
    attns = tf.reshape(tf.reduce_sum(tf.reshape(a, [-1, self.length, 1, 1])
                                     * hidden, [1, 2]), [-1, self.units])
    output = (tf.matmul(tf.concat([out, attns], 1), self.output_kernel)
              + self.output_bias)
    attn_states = tf.concat([attn_states[:, 1:], output[:, None]], 1)
    return output, (lstm_state, attns,
                    tf.reshape(attn_states, [-1, self.length * self.units]))


def _magenta_nade(labels, b_enc, b_dec, w_enc, w_dec_t):
  """Magenta's Nade.log_prob, key by key: (its log-probability, each key's
  probability floored at 1e-6 as `_safe_log` does; the exact one; the
  conditional probabilities [frames, keys])."""
  a, floored, exact, conditionals = b_enc, 0.0, 0.0, []
  for i in range(labels.shape[1]):
    v = labels[:, i:i + 1]
    logit = b_dec[:, i:i + 1] + tf.matmul(tf.sigmoid(a), w_dec_t[i])
    p = tf.sigmoid(logit)
    floored += v * tf.math.log(1e-6 + p) + (1 - v) * tf.math.log(1e-6 + 1 - p)
    exact += v * tf.math.log_sigmoid(logit) + (1 - v) * tf.math.log_sigmoid(-logit)
    conditionals.append(p)
    a += tf.matmul(v, w_enc[i])
  return floored[:, 0], exact[:, 0], tf.concat(conditionals, 1)


def magenta_rnn_nade(folder, frames, units, hidden, attn_length=0, seed=0,
                     training_checkpoint=False):
  """Magenta's RNN-NADE graph (eval mode: no dropout) with random weights,
  run on `frames` [batch, time, 88] as its log_prob runs a batch (the
  inputs are the frames shifted by one, a silent frame first), and saved.

  Returns:
    (checkpoint path, metagraph path, {'floored', 'exact': [batch, time]
    log-probabilities, 'conditionals': [batch, time, 88]}).
  """
  v1 = tf.compat.v1
  rng = np.random.default_rng(seed)
  batch, time, keys = frames.shape

  def variable(name, shape):
    return v1.get_variable(
        name, initializer=rng.normal(0, 0.3, shape).astype(np.float32))

  graph = tf.Graph()
  with graph.as_default():
    sequences = v1.placeholder(tf.float32, [batch, time, keys])
    inputs = tf.pad(sequences[:, :-1], [[0, 0], [1, 0], [0, 0]])
    with v1.variable_scope('nade'):
      w_enc = variable('w_enc', [keys, 1, hidden])
      w_dec_t = variable('w_dec_t', [keys, hidden, 1])
    cells, width = [], keys
    with v1.variable_scope('decoder'):
      with v1.variable_scope('multi_rnn_cell'):
        for i, size in enumerate(units):
          with v1.variable_scope(f'cell_{i}'):
            if i == 0 and attn_length:
              with v1.variable_scope('attention_cell_wrapper'):
                cells.append(_AttentionWrapper(variable, width, size, attn_length))
            else:
              cells.append(_BasicLSTM(variable, width, size))
          width = size
      with v1.variable_scope('dense'):
        kernel = variable('kernel', [width, hidden + keys])
        bias = variable('bias', [hidden + keys])
    states = [cell.zero_state(batch) for cell in cells]
    outputs = []
    for t in range(time):
      x = inputs[:, t]
      for i, cell in enumerate(cells):
        x, states[i] = cell(x, states[i])
      outputs.append(tf.matmul(x, kernel) + bias)
    flat = tf.reshape(tf.stack(outputs, 1), [batch * time, hidden + keys])
    b_enc, b_dec = tf.split(flat, [hidden, keys], axis=1)
    results = _magenta_nade(tf.reshape(sequences, [batch * time, keys]),
                            b_enc, b_dec, w_enc, w_dec_t)
    if training_checkpoint:
      # What a training run's checkpoint holds beside the weights.
      v1.train.get_or_create_global_step()
      v1.get_variable('decoder/dense/kernel/Adam',
                      initializer=np.zeros((width, hidden + keys), np.float32))
      v1.get_variable('beta1_power', initializer=np.float32(0.9))
    saver = v1.train.Saver(write_version=(
        v1.train.SaverDef.V2 if training_checkpoint else v1.train.SaverDef.V1))
    with v1.Session() as session:
      session.run(v1.global_variables_initializer())
      floored, exact, conditionals = session.run(results, {sequences: frames})
      path = saver.save(session, os.path.join(str(folder), 'model.ckpt'),
                        global_step=100 if training_checkpoint else None)
  return path, path + '.meta', {
      'floored': floored.reshape(batch, time),
      'exact': exact.reshape(batch, time),
      'conditionals': conditionals.reshape(batch, time, keys)}


def _frames(seed, batch=2, time=14):
  return (np.random.default_rng(seed).random((batch, time, 88)) < 0.12).astype(
      np.float32)


def _check_equal(run, frames, magenta_results):
  """The imported model's log-likelihoods of `frames` (inputs shifted by
  one, a silent frame first, as Magenta's log_prob) are the TF1 graph's."""
  inputs = np.pad(frames[:, :-1], [(0, 0), (1, 0), (0, 0)])
  params = run.model({'pianoroll': inputs})
  ours = _numpy(run.model.log_prob({'pianoroll': inputs}, frames))
  np.testing.assert_allclose(ours, magenta_results['exact'], atol=1e-4)
  conditionals = 1 / (1 + np.exp(-_numpy(run.model.conditional_logits(params, frames))))
  np.testing.assert_allclose(conditionals, magenta_results['conditionals'],
                             atol=1e-5)
  # Magenta's own figure floors each key's probability at 1e-6: a little
  # above the exact log-likelihood, by at most 88 * 1e-6 / p for the
  # least likely key.
  gap = magenta_results['floored'] - ours
  chosen = np.where(frames > 0, conditionals, 1 - conditionals)
  assert (gap > -1e-4).all() and (gap < 88e-6 / chosen.min() + 1e-4).all()


def test_magenta_rnn_nade_bundle_imports_with_its_log_likelihoods(tmp_path):
  frames = _frames(0)
  checkpoint, metagraph, results = magenta_rnn_nade(
      tmp_path, frames, units=(10, 9, 8), hidden=7, seed=1)
  bundle = testing_lib.write_magenta_bundle(
      str(tmp_path / 'pianoroll_rnn_nade.mag'), 'rnn-nade', checkpoint, metagraph)
  run_dir = magenta.import_bundle(bundle, str(tmp_path / 'run'),
                                  hparams='batch_size=4')
  run = run_dir_lib.load_run(run_dir)
  assert run.config.name == 'rnn-nade' and run.step == 0
  assert tuple(run.config.model.rnn_layer_sizes) == (10, 9, 8)
  assert run.config.model.nade_hidden_units == 7
  assert run.config.train.batch_size == 4
  _check_equal(run, frames, results)
  (path,) = generate.generate(run_dir, str(tmp_path / 'out'), num_steps=16,
                              binarize='threshold', seed=1)
  note_seq.midi_file_to_note_sequence(path)


def test_magenta_rnn_nade_attn_training_checkpoint_imports_by_cli(tmp_path):
  """A V2 training checkpoint (Adam slots, global step) of rnn-nade_attn,
  its window of 5 given at import as --hparams (it is no tensor's shape),
  over more frames than the window holds."""
  frames = _frames(1, time=13)
  checkpoint, _, results = magenta_rnn_nade(
      tmp_path, frames, units=(9, 8), hidden=6, attn_length=5, seed=2,
      training_checkpoint=True)
  run_dir = str(tmp_path / 'run')
  result = testing_lib.run_program(
      'musicrnn.import_magenta', f'--checkpoint={checkpoint}',
      '--config=rnn-nade_attn', f'--run_dir={run_dir}',
      '--hparams=attn_length=5,batch_size=4')
  assert result.returncode == 0, result.stderr[-3000:]
  run = run_dir_lib.load_run(run_dir)
  assert run.config.model.attn_length == 5
  _check_equal(run, frames, results)


def _tensors(folder, values):
  """A V1 checkpoint of `values` {name: array}; returns its path."""
  os.makedirs(folder)
  graph = tf.Graph()
  with graph.as_default():
    for name, value in values.items():
      tf.compat.v1.get_variable(name, initializer=value)
    saver = tf.compat.v1.train.Saver(write_version=tf.compat.v1.train.SaverDef.V1)
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      return saver.save(session, os.path.join(str(folder), 'model.ckpt'))


def test_what_cannot_be_imported_is_named(tmp_path):
  rng = np.random.default_rng(3)

  def weights(keys=88, attention=False):
    def normal(*shape):
      return rng.normal(0, 0.3, shape).astype(np.float32)
    cell = 'decoder/multi_rnn_cell/cell_0/'
    values = {cell + 'basic_lstm_cell/kernel': normal(keys + 4, 16),
              cell + 'basic_lstm_cell/bias': normal(16),
              'decoder/dense/kernel': normal(4, 3 + keys),
              'decoder/dense/bias': normal(3 + keys),
              'nade/w_enc': normal(keys, 1, 3), 'nade/w_dec_t': normal(keys, 3, 1)}
    if attention:
      wrapper = cell + 'attention_cell_wrapper/'
      values = {k.replace(cell, wrapper) if 'basic_lstm' in k else k: v
                for k, v in values.items()}
      values.update({wrapper + 'kernel': normal(keys + 4, keys),
                     wrapper + 'bias': normal(keys),
                     wrapper + 'attention/attn_w': normal(1, 1, 4, 4),
                     wrapper + 'attention/attn_v': normal(4),
                     wrapper + 'attention/kernel': normal(8, 4),
                     wrapper + 'attention/bias': normal(4),
                     wrapper + 'attn_output_projection/kernel': normal(8, 4),
                     wrapper + 'attn_output_projection/bias': normal(4)})
    return values

  norm = 'decoder/multi_rnn_cell/cell_0/basic_lstm_cell/layer_norm/gamma'
  odd = _tensors(tmp_path / 'a', {**weights(), norm: np.ones(4, np.float32)})
  with pytest.raises(UsageError, match=norm):
    magenta.import_checkpoint(odd, 'rnn-nade', str(tmp_path / 'r1'))
  attention = _tensors(tmp_path / 'b', weights(attention=True))
  with pytest.raises(UsageError, match='import it as rnn-nade_attn'):
    magenta.import_checkpoint(attention, 'rnn-nade', str(tmp_path / 'r2'))
  run = run_dir_lib.load_run(magenta.import_checkpoint(
      attention, 'rnn-nade_attn', str(tmp_path / 'r3')))
  assert run.config.model.attn_length == 32
  plain = _tensors(tmp_path / 'c', weights())
  with pytest.raises(UsageError, match='import it as rnn-nade$'):
    magenta.import_checkpoint(plain, 'rnn-nade_attn', str(tmp_path / 'r4'))
  with pytest.raises(UsageError, match='decoder/dense/bias, which musicrnn cannot map'):
    magenta.import_checkpoint(plain, 'polyphony', str(tmp_path / 'r5'))
  narrow = _tensors(tmp_path / 'd', weights(keys=60))
  with pytest.raises(UsageError, match='takes 60 inputs, the model gives 88 keys'):
    magenta.import_checkpoint(narrow, 'rnn-nade', str(tmp_path / 'r6'))
  partial = _tensors(tmp_path / 'e', {k: v for k, v in weights().items()
                                      if k != 'nade/w_dec_t'})
  with pytest.raises(UsageError, match='no w_dec_t'):
    magenta.import_checkpoint(partial, 'rnn-nade', str(tmp_path / 'r7'))
  no_window = _tensors(tmp_path / 'f', {k: v for k, v in weights(
      attention=True).items() if not k.endswith('attn_v')})
  with pytest.raises(UsageError, match='no attn_v'):
    magenta.import_checkpoint(no_window, 'rnn-nade_attn', str(tmp_path / 'r8'))


def test_the_task_scores_only_real_frames():
  """Padding (weight 0) adds nothing: the loss is the NLL of the real
  frames, per frame."""
  model = _model(8)
  rng = np.random.default_rng(4)
  inputs = (rng.random((2, 5, 8)) < 0.3).astype('float32')
  labels = (rng.random((2, 5, 8)) < 0.3).astype('float32')
  weights = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], np.float32)
  nll, frames = joint_frames.frame_nll(model, {'pianoroll': inputs}, labels, weights)
  log_p = _numpy(model.log_prob({'pianoroll': inputs}, labels))
  assert float(frames) == 8
  assert float(nll) == pytest.approx(-(log_p * weights).sum(), rel=1e-6)
