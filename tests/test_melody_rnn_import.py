"""Magenta's Melody RNN and Drums RNN weights imported as runs.

Checkpoints written here by TensorFlow's own Savers under both generations
of Magenta's variable names (2017's `RNN/MultiRNNCell/Cell0/BasicLSTMCell/
Linear/Matrix`, attention around the whole stack; since 2018's
`rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel`, attention around the
first layer), random weights, imported: the model's class logits equal a
NumPy implementation of the graph Magenta runs (TF1's BasicLSTMCell and
contrib's AttentionCellWrapper) on note-seq's own encoder inputs.

With the development corpora (../shared/data), the real bundles and
training runs of magenta_real/ are imported and scored on held-out
Nottingham melodies against their own TF1 graphs, loaded from their
metagraphs: the NLL of the labels is Magenta's within 1e-3 nats/event.
"""

import functools
import glob
import os
import re

import keras
import note_seq
from note_seq.protobuf import generator_pb2
import numpy as np
import pytest
import tensorflow as tf

from musicrnn import configs
from musicrnn import encodings
from musicrnn.errors import UsageError
from musicrnn.pipelines import dataset
from musicrnn.runs import generate
from musicrnn.runs import magenta
from musicrnn.runs import run_dir as run_dir_lib
from musicrnn.training import trainer
import testing_lib

# The attention window of Magenta's configs (no tensor's shape).
ATTN_LENGTH = {'attention_rnn': 40, 'drum_kit': 32}


def reference_encoder_decoder(generator_id):
  """note-seq's encoder-decoder of a Magenta config, as Magenta's
  melody_rnn_model.py and drums_rnn_model.py build it."""
  return {
      'basic_rnn': lambda: note_seq.OneHotEventSequenceEncoderDecoder(
          note_seq.MelodyOneHotEncoding(48, 84)),
      'lookback_rnn': lambda: note_seq.LookbackEventSequenceEncoderDecoder(
          note_seq.MelodyOneHotEncoding(48, 84)),
      'attention_rnn': lambda: note_seq.KeyMelodyEncoderDecoder(48, 84),
      'drum_kit': lambda: note_seq.LookbackEventSequenceEncoderDecoder(
          note_seq.MultiDrumOneHotEncoding(), lookback_distances=[],
          binary_counter_bits=6),
  }[generator_id]()


def events_of(codec, ids):
  """The note-seq Melody or DrumTrack of event ids."""
  if hasattr(codec, 'melody'):
    return codec.melody(ids)
  return codec.drum_track(ids)


def reference_inputs_and_labels(generator_id, codec, ids):
  """(inputs [time, input_size], labels [time]) of note-seq's encoder."""
  reference = reference_encoder_decoder(generator_id)
  events = events_of(codec, ids)
  inputs = np.array(reference.get_inputs_batch([events], full_length=True)[0],
                    np.float32)
  labels = np.array([reference.events_to_label(events, i)
                     for i in range(len(events))])
  return inputs, labels


def log_softmax(logits):
  logits = np.asarray(logits, np.float64)
  logits = logits - logits.max(-1, keepdims=True)
  return logits - np.log(np.exp(logits).sum(-1, keepdims=True))


# ------------------------------------------------- Magenta's graph in NumPy


def _sigmoid(x):
  return 1 / (1 + np.exp(-x))


def basic_lstm(kernel, bias, x, state):
  """TF1's BasicLSTMCell (forget bias 1.0): (output, (c, h))."""
  c, h = state
  i, j, f, o = np.split(np.concatenate([x, h], 1) @ kernel + bias, 4, axis=1)
  c = c * _sigmoid(f + 1.0) + _sigmoid(i) * np.tanh(j)
  h = np.tanh(c) * _sigmoid(o)
  return h, (c, h)


def attention_wrapper(weights, cells, x, state):
  """contrib's AttentionCellWrapper around `cells` ([(kernel, bias)]: one
  BasicLSTMCell, or a MultiRNNCell of them): (output, state); the state is
  (the cells' (c, h), the last attention read, the window [batch, length,
  units] oldest first)."""
  cell_states, attention, window = state
  x = np.concatenate([x, attention], 1) @ weights['kernel'] + weights['bias']
  new_states = []
  for (kernel, bias), cell_state in zip(cells, cell_states):
    x, cell_state = basic_lstm(kernel, bias, x, cell_state)
    new_states.append(cell_state)
  query = np.concatenate([t for s in new_states for t in s], 1)
  hidden = window @ weights['attn_w'].reshape(weights['attn_w'].shape[-2:])
  y = query @ weights['query_kernel'] + weights['query_bias']
  scores = (weights['attn_v'] * np.tanh(hidden + y[:, None])).sum(-1)
  a = np.exp(scores - scores.max(-1, keepdims=True))
  a /= a.sum(-1, keepdims=True)
  attention = (a[..., None] * window).sum(1)
  output = (np.concatenate([x, attention], 1) @ weights['output_kernel']
            + weights['output_bias'])
  window = np.concatenate([window[:, 1:], output[:, None]], 1)
  return output, (new_states, attention, window)


def magenta_logits(weights, place, attn_length, inputs):
  """Magenta's events_rnn_graph in NumPy: inputs [batch, time, features] ->
  logits [batch, time, classes]. `place`: None, 'first_layer' (the first
  cell wrapped) or 'stack' (the MultiRNNCell wrapped)."""
  batch, time, _ = inputs.shape
  layers = weights['layers']

  def zeros(units):
    return np.zeros((batch, units))

  def lstm_state(kernel):
    units = kernel.shape[1] // 4
    return (zeros(units), zeros(units))

  def wrapper_state(cells):
    units = cells[-1][0].shape[1] // 4
    return ([lstm_state(k) for k, _ in cells], zeros(units),
            np.zeros((batch, attn_length, units)))

  if place == 'stack':
    groups = [layers]
  elif place == 'first_layer':
    groups = [layers[:1]] + [[layer] for layer in layers[1:]]
  else:
    groups = [[layer] for layer in layers]
  states = [wrapper_state(g) if place and i == 0 else lstm_state(g[0][0])
            for i, g in enumerate(groups)]
  logits = []
  for t in range(time):
    x = inputs[:, t].astype(np.float64)
    for i, group in enumerate(groups):
      if place and i == 0:
        x, states[i] = attention_wrapper(weights['attention'], group, x,
                                         states[i])
      else:
        x, states[i] = basic_lstm(*group[0], x, states[i])
    logits.append(x @ weights['output'][0] + weights['output'][1])
  return np.stack(logits, 1)


# ----------------------------------------- checkpoints of Magenta's names


def magenta_weights(rng, inputs, units, classes, place):
  """Random weights of Magenta's graph: {'layers': [(kernel, bias)],
  'attention': {AttentionLSTMCell weight: value}, 'output'}."""
  def normal(*shape):
    return rng.normal(0, 0.3, shape).astype(np.float32)
  layers, width = [], inputs
  for u in units:
    layers.append((normal(width + u, 4 * u), normal(4 * u)))
    width = u
  attention = {}
  if place:
    size = units[-1] if place == 'stack' else units[0]
    wrapped = units if place == 'stack' else units[:1]
    attention = {
        'kernel': normal(inputs + size, inputs), 'bias': normal(inputs),
        'attn_w': normal(1, 1, size, size), 'attn_v': normal(size),
        'query_kernel': normal(2 * sum(wrapped), size),
        'query_bias': normal(size),
        'output_kernel': normal(2 * size, size), 'output_bias': normal(size)}
  return {'layers': layers, 'attention': attention,
          'output': (normal(units[-1], classes), normal(classes))}


# (2019 name, 2017 name) of each weight of the attention wrapper.
WRAPPER_NAMES = {
    'kernel': ('kernel', 'Linear/Matrix'), 'bias': ('bias', 'Linear/Bias'),
    'attn_w': ('attention/attn_w', 'Attention/AttnW'),
    'attn_v': ('attention/attn_v', 'Attention/AttnV'),
    'query_kernel': ('attention/kernel', 'Attention/Linear/Matrix'),
    'query_bias': ('attention/bias', 'Attention/Linear/Bias'),
    'output_kernel': ('attn_output_projection/kernel',
                      'AttnOutputProjection/Linear/Matrix'),
    'output_bias': ('attn_output_projection/bias',
                    'AttnOutputProjection/Linear/Bias')}


def magenta_names(weights, place, old_names):
  """{variable name: value} as Magenta's graph names them: since 2018
  (`old_names` False) or in 2017's TF 1.0."""
  values = {}
  for i, (kernel, bias) in enumerate(weights['layers']):
    if old_names:
      wrapper = 'AttentionCellWrapper/' if place == 'stack' else ''
      cell = f'RNN/{wrapper}MultiRNNCell/Cell{i}/BasicLSTMCell/Linear/'
      values[cell + 'Matrix'], values[cell + 'Bias'] = kernel, bias
    else:
      wrapper = ('attention_cell_wrapper/' if place == 'first_layer' and i == 0
                 else '')
      cell = f'rnn/multi_rnn_cell/cell_{i}/{wrapper}basic_lstm_cell/'
      values[cell + 'kernel'], values[cell + 'bias'] = kernel, bias
  prefix = ('RNN/AttentionCellWrapper/' if old_names else
            'rnn/multi_rnn_cell/cell_0/attention_cell_wrapper/')
  for name, value in weights['attention'].items():
    values[prefix + WRAPPER_NAMES[name][old_names]] = value
  (values['fully_connected/weights'],
   values['fully_connected/biases']) = weights['output']
  return values


def write_checkpoint(folder, values, training=False):
  """A checkpoint of `values` as TF1's Saver writes it: a V1 file (a
  bundle's), or a V2 training checkpoint with Adam slots and a global step;
  returns (checkpoint path, metagraph path)."""
  os.makedirs(folder, exist_ok=True)
  graph = tf.Graph()
  with graph.as_default():
    for name, value in values.items():
      tf.compat.v1.get_variable(name, initializer=value)
    if training:
      tf.compat.v1.train.get_or_create_global_step()
      tf.compat.v1.get_variable('beta1_power', initializer=np.float32(0.9))
      name = sorted(values)[0]
      tf.compat.v1.get_variable(f'{name}/Adam',
                                initializer=np.zeros_like(values[name]))
    saver = tf.compat.v1.train.Saver(write_version=(
        tf.compat.v1.train.SaverDef.V2 if training
        else tf.compat.v1.train.SaverDef.V1))
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      path = saver.save(session, os.path.join(str(folder), 'model.ckpt'),
                        global_step=1000 if training else None)
  return path, path + '.meta'




# (generator id, layer sizes, attention's place, 2017's names, a training
# checkpoint rather than a bundle, --hparams at import)
CASES = [
    ('lookback_rnn', (12, 10), None, False, False, ''),
    ('lookback_rnn', (12, 10), None, True, True, ''),
    ('basic_rnn', (9,), None, True, False, ''),
    ('attention_rnn', (12, 10), 'first_layer', False, False, ''),
    ('attention_rnn', (12, 10), 'stack', True, True, 'attn_length=6'),
    ('drum_kit', (10, 9, 8), 'first_layer', False, True, 'attn_length=7'),
    ('drum_kit', (10, 8), 'stack', True, False, ''),
]


@pytest.mark.parametrize('generator_id, units, place, old_names, training, '
                         'hparams', CASES)
def test_imported_logits_are_magentas(tmp_path, generator_id, units, place,
                                      old_names, training, hparams):
  codec = encodings.magenta_codec(generator_id)
  reference = reference_encoder_decoder(generator_id)
  rng = np.random.default_rng(len(units) + 10 * bool(place) + old_names)
  weights = magenta_weights(rng, reference.input_size, units,
                            reference.num_classes, place)
  checkpoint, metagraph = write_checkpoint(
      tmp_path / 'magenta', magenta_names(weights, place, old_names), training)
  run_dir = str(tmp_path / 'run')
  if training:
    magenta.import_checkpoint(checkpoint, generator_id, run_dir,
                              hparams=hparams)
  else:
    bundle = testing_lib.write_magenta_bundle(
        str(tmp_path / 'model.mag'), generator_id, checkpoint, metagraph)
    magenta.import_bundle(bundle, run_dir, hparams=hparams)
  run = run_dir_lib.load_run(run_dir)
  model = run.config.model
  attn_length = model.attn_length
  assert tuple(model.rnn_layer_sizes) == units
  if place:
    assert model.attention == place
    assert attn_length == (int(hparams.split('=')[1]) if hparams
                           else ATTN_LENGTH[generator_id])
  else:
    assert attn_length == 0
  # Longer than the window: the oldest outputs leave it.
  ids = np.stack([rng.integers(0, codec.vocab_size, 50) for _ in range(2)])
  inputs = np.stack([reference_inputs_and_labels(generator_id, codec, row)[0]
                     for row in ids])
  theirs = magenta_logits(weights, place, attn_length, inputs)
  ours = keras.ops.convert_to_numpy(run.model.class_logits({'tokens': ids}))
  np.testing.assert_allclose(ours, theirs, atol=1e-4)
  if generator_id == 'drum_kit' and not training:
    # Without a primer, from Magenta's: one bass drum hit.
    (path,) = generate.generate(run_dir, str(tmp_path / 'out'), num_steps=16,
                                seed=1)
    notes = note_seq.midi_file_to_note_sequence(path).notes
    assert notes[0].pitch == 36 and all(n.is_drum for n in notes)


def test_a_training_folder_names_its_checkpoint_with_another_machines_paths(
    tmp_path):
  """Colab's and Windows' `checkpoint` files hold absolute paths of the
  machine that trained: the folder's own checkpoint of that name is read."""
  rng = np.random.default_rng(7)
  weights = magenta_weights(rng, 121, (8,), 40, None)
  checkpoint, _ = write_checkpoint(tmp_path / 'train',
                                   magenta_names(weights, None, False),
                                   training=True)
  folder = os.path.dirname(checkpoint)
  ids = rng.integers(0, 38, (1, 20))
  expected = None
  for i, written in enumerate(['/content/logdir/run1/train/model.ckpt-1000',
                               'C:\\\\Users\\\\me\\\\logdir\\\\model.ckpt-1000',
                               'C:/Users/me/logdir/model.ckpt-1000']):
    with open(os.path.join(folder, 'checkpoint'), 'w') as f:
      f.write(f'model_checkpoint_path: "{written}"\n'
              f'all_model_checkpoint_paths: "{written}"\n')
    run_dir = magenta.import_checkpoint(folder, 'lookback_rnn',
                                        str(tmp_path / f'run{i}'))
    logits = keras.ops.convert_to_numpy(run_dir_lib.load_run(
        run_dir).model.class_logits({'tokens': ids}))
    if expected is None:
      expected = logits
    np.testing.assert_array_equal(logits, expected)
  # The V2 checkpoint's files name it too.
  magenta.import_checkpoint(checkpoint + '.index', 'lookback_rnn',
                            str(tmp_path / 'run_index'))
  with open(os.path.join(folder, 'checkpoint'), 'w') as f:
    f.write('model_checkpoint_path: "/content/train/model.ckpt-5"\n')
  with pytest.raises(UsageError, match='model.ckpt-5 is not in'):
    magenta.import_checkpoint(folder, 'lookback_rnn', str(tmp_path / 'r1'))
  os.remove(os.path.join(folder, 'checkpoint'))
  with pytest.raises(UsageError, match='without a `checkpoint` file'):
    magenta.import_checkpoint(folder, 'lookback_rnn', str(tmp_path / 'r2'))


def test_what_cannot_be_imported_is_named(tmp_path):
  rng = np.random.default_rng(8)

  def checkpoint(name, inputs, place=None, old_names=False, drop=None):
    weights = magenta_weights(rng, inputs, (8, 8), 40, place)
    values = magenta_names(weights, place, old_names)
    values = {k: v for k, v in values.items() if not drop or drop not in k}
    return write_checkpoint(tmp_path / name, values)[0]

  # A lookback_rnn checkpoint read as attention_rnn: 121 inputs, not 74.
  lookback = checkpoint('lookback', 121)
  with pytest.raises(UsageError, match=r"takes 121 inputs, the config "
                     r"'attention_rnn' gives 74 inputs of its melody encoding"):
    magenta.import_checkpoint(lookback, 'attention_rnn', str(tmp_path / 'r1'))
  # Attention in a config without a window: its length is no tensor's shape.
  attention = checkpoint('attention', 121, 'first_layer')
  with pytest.raises(UsageError, match='--hparams=attn_length=N'):
    magenta.import_checkpoint(attention, 'lookback_rnn', str(tmp_path / 'r2'))
  run = run_dir_lib.load_run(magenta.import_checkpoint(
      attention, 'lookback_rnn', str(tmp_path / 'r3'),
      hparams='attn_length=16'))
  assert run.config.model.attn_length == 16
  with pytest.raises(UsageError, match='performance model has not'):
    magenta.import_checkpoint(attention, 'performance', str(tmp_path / 'r4'))
  partial = checkpoint('partial', 74, 'stack', old_names=True, drop='AttnV')
  with pytest.raises(UsageError, match=r'RNN/AttentionCellWrapper/.* but not '
                     r'the whole of Magenta\'s attention wrapper: no attn_v'):
    magenta.import_checkpoint(partial, 'attention_rnn', str(tmp_path / 'r5'))
  # Drums RNN's id is drum_kit; musicrnn's config drum_kit_rnn.
  with pytest.raises(UsageError, match="'drum_kit_rnn' cannot be imported; "
                     'musicrnn imports .*basic_rnn, mono_rnn, lookback_rnn, '
                     'attention_rnn, drum_kit, rnn-nade'):
    magenta.import_checkpoint(lookback, 'drum_kit_rnn', str(tmp_path / 'r6'))


def test_lookback_bundle_imports_by_cli_generates_and_fine_tunes(
    tmp_path, fixture_notesequences):
  rng = np.random.default_rng(9)
  weights = magenta_weights(rng, 121, (16, 16), 40, None)
  checkpoint, metagraph = write_checkpoint(tmp_path / 'magenta',
                                           magenta_names(weights, None, False))
  bundle = testing_lib.write_magenta_bundle(
      str(tmp_path / 'lookback_rnn.mag'), 'lookback_rnn', checkpoint, metagraph)
  run_dir = str(tmp_path / 'run')
  result = testing_lib.run_program(
      'musicrnn.import_magenta', f'--bundle_file={bundle}',
      f'--run_dir={run_dir}', '--hparams=batch_size=4')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'Magenta lookback_rnn' in result.stderr and run_dir in result.stdout
  result = testing_lib.run_program(
      'musicrnn.generate', f'--bundle_file={bundle}',
      f'--output_dir={tmp_path}/out', '--num_steps=32', '--seed=1')
  assert result.returncode == 0, result.stderr[-3000:]
  (name,) = os.listdir(tmp_path / 'out')
  assert note_seq.midi_file_to_note_sequence(
      os.path.join(tmp_path, 'out', name)).notes
  # Fine-tuning on melodies of the fixtures (shorter ones than Magenta
  # keeps: the fixtures are short), the run's config and overrides.
  data = str(tmp_path / 'data')
  built = configs.get_config('lookback_rnn')
  configs.apply_overrides(built, hparams='min_bars=2')
  dataset.create_dataset(built, fixture_notesequences, data, eval_ratio=0.0)
  config = configs.get_config('lookback_rnn')
  configs.apply_overrides(config,
                          hparams='rnn_layer_sizes=[16,16],batch_size=4')
  summary = trainer.train(config, data, run_dir, num_steps=5, log_every=1,
                          progress=False)
  assert summary.resumed and summary.final_step == 5
  assert np.isfinite(summary.history[-1]['loss'])


# ------------------------------------------ real bundles and training runs

REAL = os.path.join(testing_lib.SHARED_DATA, 'magenta_real')
REAL_BUNDLES = ('lookback_rnn__musicolorai_modelHappyLookback_rnn.mag',
                'lookback_rnn__tohoilam_lookback_128x128_happiness_full.mag',
                'attention_rnn__tohoilam_attention_128x128_happiness_full.mag',
                'attention_rnn__funkyb_ai3_attention_rnn.mag')
REAL_RUNS = (('attention_rnn__alexandrejup_run1', 'attention_rnn'),
             ('lookback_rnn__musicolorai_tmpHAPPY_run1', 'lookback_rnn'))
# Nottingham tunes scored: one in this many, the first melodies they give.
NOTTINGHAM_STRIDE = 50
HELD_OUT_MELODIES = 4


@functools.lru_cache(maxsize=None)
def held_out_melodies(generator_id):
  """Event ids of Nottingham melodies (no model here was trained on them)
  as Magenta's melody pipeline extracts them for the config."""
  config = configs.get_config(magenta.config_name(generator_id))
  codec = encodings.codec_from_config(config)
  settings = dataset.extraction_settings(config)
  melodies = []
  paths = sorted(glob.glob(os.path.join(testing_lib.SHARED_DATA, 'nottingham',
                                        'MIDI', '*.mid')))
  for path in paths[::NOTTINGHAM_STRIDE]:
    sequence = note_seq.midi_file_to_note_sequence(path)
    for piece in note_seq.sequences_lib.split_note_sequence_on_time_changes(
        sequence):
      try:
        extraction = codec.extract(piece, settings)
      except encodings.codec.EncodingError:
        continue
      melodies += [np.asarray(f['tokens']) for f, _ in extraction.examples]
    if len(melodies) >= HELD_OUT_MELODIES:
      return codec, melodies[:HELD_OUT_MELODIES]
  raise AssertionError(f'{len(melodies)} Nottingham melodies, not '
                       f'{HELD_OUT_MELODIES}')


def _padded(generator_id, codec, melodies, batch):
  """note-seq's inputs and labels of the melodies, padded at the end to
  the longest and to rows of `batch`: inputs [rows, time, input_size],
  labels [rows, time], lengths [rows]."""
  rows = -(-len(melodies) // batch) * batch
  time = max(len(m) for m in melodies)
  encoded = [reference_inputs_and_labels(generator_id, codec, m)
             for m in melodies]
  inputs = np.zeros((rows, time, encoded[0][0].shape[1]), np.float32)
  labels = np.zeros((rows, time), np.int64)
  lengths = np.zeros(rows, np.int64)
  for row, (x, y) in enumerate(encoded):
    inputs[row, :len(x)], labels[row, :len(y)], lengths[row] = x, y, len(x)
  return inputs, labels, lengths


def musicrnn_nll(run, melodies, labels):
  """(label NLL, event NLL), nats per event, of the run's model on the
  melodies (each step predicting the next), and the class logits."""
  time = max(len(m) for m in melodies)
  tokens = np.zeros((len(melodies), time), np.int64)
  for row, ids in enumerate(melodies):
    tokens[row, :len(ids)] = ids
  class_logits = keras.ops.convert_to_numpy(
      run.model.class_logits({'tokens': tokens}))
  event_log_probs = keras.ops.convert_to_numpy(run.model({'tokens': tokens}))
  label_nll = event_nll = 0.0
  for row, ids in enumerate(melodies):
    steps = np.arange(len(ids) - 1)
    label_nll -= log_softmax(class_logits[row, :-1])[
        steps, labels[row, 1:len(ids)]].sum()
    event_nll -= event_log_probs[row, steps, ids[1:]].astype(np.float64).sum()
  events = sum(len(m) - 1 for m in melodies)
  return label_nll / events, event_nll / events, class_logits


def _session(metagraph, checkpoint):
  """A TF1 session over Magenta's own graph (`import_meta_graph`), its
  weights restored from the checkpoint."""
  graph = tf.Graph()
  with graph.as_default():
    saver = tf.compat.v1.train.import_meta_graph(metagraph)
    session = tf.compat.v1.Session(graph=graph)
    saver.restore(session, checkpoint)
  return graph, session


# Magenta's dropout inside the RNN loop of a training graph, as TF 1.x
# (keep = 1 - rate; floor(keep + uniform) keeps) and TF 2.x (x * scale,
# kept where uniform >= rate) wrote it: its constants and the value that
# turns it off.
_DROPOUT_CONSTANTS = ((re.compile(r'.*/dropout/rate'), 0.0),
                      (re.compile(r'.*/dropout/GreaterEqual/y'), 0.0),
                      (re.compile(r'.*/dropout/Const'), 1.0))


def _without_dropout(metagraph):
  """The training graph's MetaGraphDef with every dropout's rate 0: it
  computes what Magenta's eval of those weights without dropout does."""
  changed = 0
  for node in metagraph.graph_def.node:
    for pattern, value in _DROPOUT_CONSTANTS:
      if node.op == 'Const' and pattern.fullmatch(node.name):
        node.attr['value'].CopyFrom(tf.compat.v1.AttrValue(
            tensor=tf.make_tensor_proto(np.float32(value))))
        changed += 1
  assert changed, 'no dropout found in the training graph'
  return metagraph


def _report(name, ours, theirs, event_nll, events):
  print(f'{name}: label NLL musicrnn {ours:.6f}, Magenta {theirs:.6f} '
        f'(|difference| {abs(ours - theirs):.1e}), event NLL {event_nll:.6f} '
        f'nats/event over {events} events')
  assert abs(ours - theirs) < 1e-3
  assert event_nll <= ours + 1e-6


@testing_lib.requires_shared_data
@pytest.mark.parametrize('name', REAL_BUNDLES)
def test_real_bundle_nll_equals_its_tf1_graphs(name, tmp_path):
  """The bundle's generate graph (batch fixed, often 1; collections inputs,
  temperature, softmax) on note-seq's inputs: -log softmax[label]."""
  path = os.path.join(REAL, 'bundles', name)
  bundle = generator_pb2.GeneratorBundle.FromString(open(path, 'rb').read())
  generator_id = bundle.generator_details.id
  run = run_dir_lib.load_run(magenta.import_bundle(path, str(tmp_path / 'run')))
  if name.startswith('attention_rnn__funkyb'):   # 2017's names
    assert run.config.model.attention == 'stack'
  codec, melodies = held_out_melodies(generator_id)
  metagraph = tf.compat.v1.MetaGraphDef.FromString(bundle.metagraph_file)
  checkpoint = str(tmp_path / 'model.ckpt')
  with open(checkpoint, 'wb') as f:
    f.write(bundle.checkpoint_file[0])
  graph, session = _session(metagraph, checkpoint)
  (inputs,) = graph.get_collection('inputs')
  (softmax,) = graph.get_collection('softmax')
  (temperature,) = graph.get_collection('temperature')
  batch = int(inputs.shape[0])
  x, labels, lengths = _padded(generator_id, codec, melodies, batch)
  probabilities = np.concatenate([
      session.run(softmax, {inputs: x[i:i + batch], temperature: 1.0})
      for i in range(0, len(x), batch)])
  theirs = 0.0
  for row, length in enumerate(lengths[:len(melodies)]):
    theirs -= np.log(probabilities[row, np.arange(length - 1),
                                   labels[row, 1:length]].astype(np.float64)).sum()
  events = int((lengths[:len(melodies)] - 1).sum())
  ours, event_nll, _ = musicrnn_nll(run, melodies, labels)
  _report(name, ours, theirs / events, event_nll, events)


@testing_lib.requires_shared_data
@pytest.mark.parametrize('folder, generator_id', REAL_RUNS)
def test_real_training_run_nll_equals_its_tf1_graphs(folder, generator_id,
                                                     tmp_path):
  """The run's training graph (its .meta beside the checkpoint) fed a
  batch of Magenta's training pairs (inputs[:-1], labels[1:]) in place of
  its input queue, dropout off (`_without_dropout`): its `loss`,
  Magenta's mean NLL of the labels."""
  path = os.path.join(REAL, 'train_checkpoints', folder)
  run = run_dir_lib.load_run(magenta.import_checkpoint(
      path, generator_id, str(tmp_path / 'run')))
  codec, melodies = held_out_melodies(generator_id)
  checkpoint = magenta.checkpoint_path(path)
  with open(checkpoint + '.meta', 'rb') as f:
    metagraph = tf.compat.v1.MetaGraphDef.FromString(f.read())
  graph, session = _session(_without_dropout(metagraph), checkpoint)
  (loss,) = graph.get_collection('loss')
  batch_inputs, batch_labels, batch_lengths = (
      graph.get_tensor_by_name(f'batch:{i}') for i in range(3))
  x, labels, lengths = _padded(generator_id, codec, melodies,
                               int(batch_inputs.shape[0]))
  assert len(x) == int(batch_inputs.shape[0]), 'one batch holds them all'
  feed = {batch_inputs: x[:, :-1], batch_labels: labels[:, 1:],
          batch_lengths: np.maximum(lengths - 1, 0)}
  theirs = session.run(loss, feed)
  assert session.run(loss, feed) == theirs   # no dropout
  ours, event_nll, _ = musicrnn_nll(run, melodies, labels)
  _report(folder, ours, float(theirs), event_nll,
          int((lengths[:len(melodies)] - 1).sum()))
