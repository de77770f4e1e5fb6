"""Magenta's MusicVAE checkpoints imported as runs.

Checkpoints written here by TensorFlow's own Saver under Magenta's variable
names (random weights; a flat decoder, two stacked bidirectional encoder
layers, drums, and the hierarchical decoder's conductor), imported: the
model's posterior and reconstruction logits equal a NumPy version of the
graph Magenta runs (contrib's LSTMBlockCell, checked here against
TensorFlow's own LSTMBlockCell kernel), and the imported run generates
MIDI.

With the development corpora (../shared/data): the real training graphs of
magenta_real/musicvae_partial/ (their `.meta`, without the weights) are
loaded with `import_meta_graph`, given random weights of the real names and
shapes, saved as a TF1 checkpoint, imported, and both run on the same
sequences and the same noise: the reconstruction logits agree within 1e-4.
Those two graphs are GrooVAE's (Magenta's groovae_* configs, the Groove
MIDI Dataset: 27 = 9 drums x hit, velocity, offset per step, and its
decoder's outputs split into sigmoid and tanh parts after the projection),
the network of cat-mel_2bar_small (one 512-unit bidirectional layer, 2x256
decoder, z of 256) over 27-wide rows. musicrnn has no GrooVAE encoding:
the graphs are fed one-hot rows, a point of their input space, where they
compute what a 27-id categorical MusicVAE computes, and the checkpoint is
imported as cat-mel_2bar_small with a 27-id melody encoding. And the index
of Google's own cat-mel_2bar_big checkpoint (its data is not here) names
every tensor the import needs, in the shape it needs.
"""

import os
import re
import shutil

import keras
import note_seq
import numpy as np
import pytest
import tensorflow as tf

from musicrnn import configs
from musicrnn import encodings
from musicrnn import models
from musicrnn.errors import UsageError
from musicrnn.runs import generate
from musicrnn.runs import magenta
from musicrnn.runs import run_dir as run_dir_lib
import testing_lib

# ------------------------------------------------- Magenta's graph in NumPy


def _sigmoid(x):
  return 1 / (1 + np.exp(-x))


def lstm_block_cell(kernel, bias, x, state):
  """contrib's LSTMBlockCell (forget bias 1.0, no peepholes, no clipping):
  gates i, j (the new cell value), f, o; returns (h, (c, h))."""
  c, h = state
  i, j, f, o = np.split(np.concatenate([x, h], 1) @ kernel + bias, 4, axis=1)
  c = c * _sigmoid(f + 1.0) + _sigmoid(i) * np.tanh(j)
  h = np.tanh(c) * _sigmoid(o)
  return h, (c, h)


def run_stack(layers, inputs, states):
  """A MultiRNNCell of LSTMBlockCells over inputs [batch, time, width]:
  (outputs [batch, time, units], final states)."""
  outputs = []
  for t in range(inputs.shape[1]):
    x = inputs[:, t]
    for n, (kernel, bias) in enumerate(layers):
      x, states[n] = lstm_block_cell(kernel, bias, x, states[n])
    outputs.append(x)
  return np.stack(outputs, 1), states


def zero_states(layers, batch):
  return [(np.zeros((batch, k.shape[1] // 4)),) * 2 for k, _ in layers]


def state_from_embedding(dense, layers, embedding):
  """Magenta's initial_cell_state_from_embedding: tanh(dense(embedding))
  split as the MultiRNNCell's state flattens, (c, h) per layer."""
  flat = np.tanh(embedding @ dense[0] + dense[1])
  states, start = [], 0
  for kernel, _ in layers:
    units = kernel.shape[1] // 4
    states.append((flat[:, start:start + units],
                   flat[:, start + units:start + 2 * units]))
    start += 2 * units
  return states


def encoder_inputs(tokens, vocab, roll):
  """Magenta's encoder rows: a one-hot (OneHotMelodyConverter), or for
  drums (DrumsConverter, roll_input=True) the drum set's bits (drum class
  k is bit k of its one-hot index) and a final bit where none is struck."""
  if not roll:
    return np.eye(vocab)[tokens]
  bits = (tokens[..., None] >> np.arange(int(np.log2(vocab)))) & 1
  return np.concatenate([bits, (tokens == 0)[..., None]], -1).astype(float)


def magenta_posterior(weights, inputs):
  """stack_bidirectional_dynamic_rnn over full-length rows, then
  encoder/mu and encoder/sigma (softplus): (mu, sigma)."""
  x = inputs
  for layer in weights['encoder']:
    forward, fw_states = run_stack([layer['fw']], x,
                                   zero_states([layer['fw']], len(x)))
    backward, bw_states = run_stack([layer['bw']], x[:, ::-1],
                                    zero_states([layer['bw']], len(x)))
    x = np.concatenate([forward, backward[:, ::-1]], -1)
  encoding = np.concatenate([fw_states[-1][1], bw_states[-1][1]], -1)
  mu = encoding @ weights['mu'][0] + weights['mu'][1]
  sigma = np.log1p(np.exp(encoding @ weights['sigma'][0] + weights['sigma'][1]))
  return mu, sigma


def magenta_core_decoder(weights, conditioning, tokens, previous):
  """The CategoricalLstmDecoder teacher forced: initial states from the
  conditioning (z, or a bar's conductor output), each step reading
  [one-hot of the token before (`previous` for the first step, -1: zeros),
  conditioning]; logits [batch, time, vocab]."""
  vocab = weights['output_projection'][1].shape[0]
  before = np.concatenate([previous[:, None], tokens[:, :-1]], 1)
  one_hot = np.where(before[..., None] >= 0, np.eye(vocab)[before], 0.0)
  repeated = np.repeat(conditioning[:, None], tokens.shape[1], 1)
  states = state_from_embedding(weights['z_to_initial_state'],
                                weights['decoder'], conditioning)
  outputs, _ = run_stack(weights['decoder'],
                         np.concatenate([one_hot, repeated], -1), states)
  kernel, bias = weights['output_projection']
  return outputs @ kernel + bias


def magenta_logits(weights, z, tokens, bar_steps=None):
  """Reconstruction logits of tokens [batch, time] given z: the flat
  decoder, or (bar_steps) the hierarchical one with
  disable_autoregression: the conductor, its states from
  decoder/hierarchical_level_0/initial_state, steps once per bar on a zero
  input; each bar's core decoder starts from that output, the token before
  its first step the previous bar's last."""
  batch = len(tokens)
  if not bar_steps:
    return magenta_core_decoder(weights, z, tokens, np.full(batch, -1))
  states = state_from_embedding(weights['conductor_initial_state'],
                                weights['conductor'], z)
  bars = tokens.shape[1] // bar_steps
  outputs, _ = run_stack(weights['conductor'], np.zeros((batch, bars, 1)),
                         states)
  logits = []
  for bar in range(bars):
    span = tokens[:, bar * bar_steps:(bar + 1) * bar_steps]
    previous = tokens[:, bar * bar_steps - 1] if bar else np.full(batch, -1)
    logits.append(magenta_core_decoder(weights, outputs[:, bar], span,
                                       previous))
  return np.concatenate(logits, 1)


# -------------------------------------------- checkpoints of Magenta's names


def magenta_weights(rng, width, vocab, z_size, enc, dec, hierarchical):
  """Random weights of Magenta's MusicVAE, as `read_music_vae_weights`
  returns them (encoder rows `width` wide, `vocab` output classes)."""
  def normal(*shape):
    return rng.normal(0, 0.3, shape).astype(np.float32)

  def lstm(inputs, units):
    return normal(inputs + units, 4 * units), normal(4 * units)

  encoder, below = [], width
  for units in enc:
    encoder.append({'fw': lstm(below, units), 'bw': lstm(below, units)})
    below = 2 * units
  conditioning = dec[-1] if hierarchical else z_size
  decoder, below = [], vocab + conditioning
  for units in dec:
    decoder.append(lstm(below, units))
    below = units
  weights = {
      'encoder': encoder, 'decoder': decoder,
      'mu': (normal(2 * enc[-1], z_size), normal(z_size)),
      'sigma': (normal(2 * enc[-1], z_size), normal(z_size)),
      'z_to_initial_state': (normal(conditioning, 2 * sum(dec)),
                             normal(2 * sum(dec))),
      'output_projection': (normal(dec[-1], vocab), normal(vocab)),
      'conductor': [], 'conductor_initial_state': None}
  if hierarchical:
    weights['conductor'] = [lstm(1, dec[0])] + [
        lstm(a, b) for a, b in zip(dec, dec[1:])]
    weights['conductor_initial_state'] = (normal(z_size, 2 * sum(dec)),
                                          normal(2 * sum(dec)))
  return weights


def magenta_names(weights):
  """{variable name: value} as Magenta's MusicVAE graph names them (its
  names spelled out here, not the importer's)."""
  core = 'core_decoder/' if weights['conductor'] else ''
  values = {}

  def put(scope, pair):
    values[scope + '/kernel'], values[scope + '/bias'] = pair

  for i, layer in enumerate(weights['encoder']):
    for direction in ('fw', 'bw'):
      put(f'encoder/cell_{i}/bidirectional_rnn/{direction}/multi_rnn_cell/'
          'cell_0/lstm_cell', layer[direction])
  put('encoder/mu', weights['mu'])
  put('encoder/sigma', weights['sigma'])
  for i, layer in enumerate(weights['decoder']):
    put(f'{core}decoder/multi_rnn_cell/cell_{i}/lstm_cell', layer)
  put(f'{core}decoder/z_to_initial_state', weights['z_to_initial_state'])
  put(f'{core}decoder/output_projection', weights['output_projection'])
  for i, layer in enumerate(weights['conductor']):
    put(f'decoder/hierarchical_level_0/cell_{i}/lstm_cell', layer)
  if weights['conductor']:
    put('decoder/hierarchical_level_0/initial_state',
        weights['conductor_initial_state'])
  return values


def write_checkpoint(folder, values, training=True):
  """A checkpoint of `values` as TF1's Saver writes it: a V2 training
  checkpoint with Adam slots, beta powers and a global step (how Magenta
  published MusicVAE), or a V1 file; returns its path."""
  os.makedirs(folder, exist_ok=True)
  graph = tf.Graph()
  with graph.as_default():
    for name, value in values.items():
      tf.compat.v1.get_variable(name, initializer=value)
      if training:
        for slot in ('Adam', 'Adam_1'):
          tf.compat.v1.get_variable(f'{name}/{slot}',
                                    initializer=np.zeros_like(value))
    if training:
      tf.compat.v1.train.get_or_create_global_step()
      tf.compat.v1.get_variable('beta1_power', initializer=np.float32(0.9))
      tf.compat.v1.get_variable('beta2_power', initializer=np.float32(0.999))
    saver = tf.compat.v1.train.Saver(write_version=(
        tf.compat.v1.train.SaverDef.V2 if training
        else tf.compat.v1.train.SaverDef.V1))
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      return saver.save(session, os.path.join(str(folder), 'model.ckpt'),
                        global_step=2000 if training else None,
                        write_meta_graph=False)


def test_the_reference_cell_is_tensorflows_lstm_block_cell():
  """The NumPy cell above is the kernel Magenta's graphs run
  (LSTMBlockCell, forget bias 1.0, cell_clip -1, no peepholes)."""
  rng = np.random.default_rng(0)
  kernel = rng.normal(0, 0.5, (5 + 3, 12)).astype(np.float32)
  bias = rng.normal(0, 0.5, 12).astype(np.float32)
  x = rng.normal(size=(2, 5)).astype(np.float32)
  c, h = (rng.normal(size=(2, 3)).astype(np.float32) for _ in range(2))
  zeros = np.zeros(3, np.float32)
  result = tf.raw_ops.LSTMBlockCell(
      x=x, cs_prev=c, h_prev=h, w=kernel, wci=zeros, wcf=zeros, wco=zeros,
      b=bias, forget_bias=1.0, cell_clip=-1.0, use_peephole=False)
  theirs, (c_new, _) = lstm_block_cell(kernel, bias, x, (c, h))
  np.testing.assert_allclose(result.h.numpy(), theirs, atol=1e-6)
  np.testing.assert_allclose(result.cs.numpy(), c_new, atol=1e-6)


# (config, encoder layers, decoder layers, z, a V2 training checkpoint)
CASES = [
    ('cat-mel_2bar_small', (6, 5), (7, 4), 5, True),
    ('cat-drums_2bar_small', (6,), (5, 5), 4, False),
    ('hierdec-mel_16bar', (5, 4), (6, 5), 3, True),
]


@pytest.mark.parametrize('generator_id, enc, dec, z_size, training', CASES)
def test_imported_posterior_and_logits_are_magentas(
    tmp_path, generator_id, enc, dec, z_size, training):
  config = configs.get_config(generator_id)
  codec = encodings.codec_from_config(config)
  vocab = codec.vocab_size
  roll = config.model.encoder_input == 'drum_roll'
  width = int(np.log2(vocab)) + 1 if roll else vocab
  hierarchical = config.model.decoder == 'hierarchical'
  rng = np.random.default_rng(len(enc) + 10 * len(dec) + z_size)
  weights = magenta_weights(rng, width, vocab, z_size, enc, dec, hierarchical)
  checkpoint = write_checkpoint(tmp_path / 'magenta', magenta_names(weights),
                                training)
  run_dir = magenta.import_checkpoint(checkpoint, generator_id,
                                      str(tmp_path / 'run'))
  run = run_dir_lib.load_run(run_dir)
  model = run.config.model
  assert run.step == 0 and run.config.name == generator_id
  assert (model.z_size, tuple(model.enc_rnn_size),
          tuple(model.dec_rnn_size)) == (z_size, enc, dec)
  steps = model.max_seq_len
  tokens = rng.integers(0, vocab, (2, steps))
  tokens[1, :3] = 0   # drums: a step without a hit
  mu, sigma = (keras.ops.convert_to_numpy(t)
               for t in run.model.encode({'tokens': tokens}))
  their_mu, their_sigma = magenta_posterior(
      weights, encoder_inputs(tokens, vocab, roll))
  np.testing.assert_allclose(mu, their_mu, atol=1e-4)
  np.testing.assert_allclose(sigma, their_sigma, atol=1e-4)
  z = their_mu + their_sigma * rng.standard_normal(their_mu.shape)
  ours = keras.ops.convert_to_numpy(
      run.model.decode(z.astype(np.float32), {'tokens': tokens}))
  theirs = magenta_logits(weights, z, tokens,
                          model.level_lengths[1] if hierarchical else None)
  assert ours.shape == theirs.shape == (2, steps, vocab)
  np.testing.assert_allclose(ours, theirs, atol=1e-4)
  if generator_id == 'cat-mel_2bar_small':
    return   # a flat melody run generates in test_cat_mel_2bar_imports_by_cli
  # The converted run generates: samples of the prior, decoded to MIDI.
  (path,) = generate.generate(run_dir, str(tmp_path / 'out'), seed=1,
                              num_steps=32, temperature=0.8)
  sequence = note_seq.midi_file_to_note_sequence(path)
  assert sequence.notes
  assert all(n.is_drum for n in sequence.notes) == roll


def test_cat_mel_2bar_imports_by_cli_and_generates(tmp_path):
  """musicrnn_import_magenta --checkpoint=<a training folder>
  --config=cat-mel_2bar_big, then musicrnn_generate on the run."""
  rng = np.random.default_rng(4)
  weights = magenta_weights(rng, 90, 90, 6, (5,), (4, 4, 4), False)
  checkpoint = write_checkpoint(tmp_path / 'train', magenta_names(weights))
  run_dir = str(tmp_path / 'run')
  result = testing_lib.run_program(
      'musicrnn.import_magenta', f'--checkpoint={os.path.dirname(checkpoint)}',
      '--config=cat-mel_2bar_big', f'--run_dir={run_dir}',
      '--hparams=batch_size=8,learning_rate=1e-4')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'Magenta cat-mel_2bar_big' in result.stderr
  assert run_dir in result.stdout
  run = run_dir_lib.load_run(run_dir)
  assert (run.config.train.batch_size, run.config.model.z_size,
          tuple(run.config.model.dec_rnn_size)) == (8, 6, (4, 4, 4))
  result = testing_lib.run_program(
      'musicrnn.generate', f'--run_dir={run_dir}',
      f'--output_dir={tmp_path}/out', '--num_outputs=2', '--seed=3')
  assert result.returncode == 0, result.stderr[-3000:]
  names = sorted(os.listdir(tmp_path / 'out'))
  assert names == ['cat-mel_2bar_big_000.mid', 'cat-mel_2bar_big_001.mid']
  for name in names:
    assert note_seq.midi_file_to_note_sequence(
        os.path.join(tmp_path, 'out', name)).notes


def test_what_cannot_be_imported_is_named(tmp_path):
  rng = np.random.default_rng(6)

  def checkpoint(name, weights, drop=None, extra=None):
    values = {k: v for k, v in magenta_names(weights).items() if k != drop}
    values.update(extra or {})
    return write_checkpoint(tmp_path / name, values, training=False)

  drums = checkpoint('drums', magenta_weights(rng, 10, 512, 4, (6,), (5, 5),
                                              False))
  with pytest.raises(UsageError, match=re.escape(
      'encoder/cell_0/bidirectional_rnn/fw/multi_rnn_cell/cell_0/lstm_cell/'
      'kernel is [16, 24]: 10 inputs of 6 units; the model gives 90 (the '
      "one-hot of its melody encoding's 90 ids, config 'cat-mel_2bar_small')")):
    magenta.import_checkpoint(drums, 'cat-mel_2bar_small', str(tmp_path / 'r1'))
  hierarchical = magenta_weights(rng, 90, 90, 3, (5,), (4, 4), True)
  hier = checkpoint('hier', hierarchical)
  with pytest.raises(UsageError, match='holds a hierarchical decoder .*import '
                     'it as one of hierdec-mel_16bar'):
    magenta.import_checkpoint(hier, 'cat-mel_2bar_small', str(tmp_path / 'r2'))
  flat = magenta_weights(rng, 90, 90, 3, (5,), (4, 4), False)
  with pytest.raises(UsageError, match='holds a flat decoder .*import it as '
                     'one of cat-mel_2bar_small, cat-mel_2bar_big, '
                     'cat-drums_2bar_small'):
    magenta.import_checkpoint(checkpoint('flat', flat), 'hierdec-mel_16bar',
                              str(tmp_path / 'r3'))
  missing = checkpoint('missing', hierarchical,
                       drop='decoder/hierarchical_level_0/initial_state/bias')
  with pytest.raises(UsageError, match=re.escape(
      "lacks tensors of Magenta's MusicVAE with a hierarchical decoder: "
      'decoder/hierarchical_level_0/initial_state/bias')):
    magenta.import_checkpoint(missing, 'hierdec-mel_16bar',
                              str(tmp_path / 'r4'))
  no_bw = checkpoint('no_bw', flat, drop='encoder/cell_0/bidirectional_rnn/bw/'
                     'multi_rnn_cell/cell_0/lstm_cell/kernel')
  with pytest.raises(UsageError, match='lacks .*: encoder/cell_0/'
                     'bidirectional_rnn/bw/multi_rnn_cell/cell_0/lstm_cell/'
                     'kernel'):
    magenta.import_checkpoint(no_bw, 'cat-mel_2bar_small', str(tmp_path / 'r5'))
  residual = checkpoint('residual', flat, extra={
      'decoder/multi_rnn_cell/cell_0/input_projection_wrapper/kernel':
          np.zeros((2, 2), np.float32)})
  with pytest.raises(UsageError, match='holds decoder/multi_rnn_cell/cell_0/'
                     'input_projection_wrapper/kernel, which musicrnn cannot '
                     'map: it imports Magenta\'s MusicVAE'):
    magenta.import_checkpoint(residual, 'cat-mel_2bar_small',
                              str(tmp_path / 'r6'))
  # A Melody RNN checkpoint named as a MusicVAE config.
  melody = write_checkpoint(tmp_path / 'melody', {
      'rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel':
          np.zeros((10, 8), np.float32)}, training=False)
  with pytest.raises(UsageError, match='holds rnn/multi_rnn_cell/cell_0/'
                     'basic_lstm_cell/kernel, which musicrnn cannot map'):
    magenta.import_checkpoint(melody, 'cat-mel_2bar_big', str(tmp_path / 'r7'))


# ------------------------------------------ Magenta's own graphs and index

REAL = os.path.join(testing_lib.SHARED_DATA, 'magenta_real')
PARTIAL = ('cyan9212_musicvae_train', 'RedRabbit0314_musicvae_train')
# Dropout inside the loops of a TF 2.x training graph (x * 1/keep, kept
# where uniform >= 1 - keep), in the graph and in its loop functions: the
# constants, and the values that turn it off.
_DROPOUT = re.compile(r'(^|/)dropout/(Const|GreaterEqual/y)$')


def _without_dropout(metagraph):
  """The training graph with every dropout off (GrooVAE trains with a keep
  probability of 0.3): it computes what the weights do at evaluation."""
  changed = 0
  for nodes in [metagraph.graph_def.node] + [
      f.node_def for f in metagraph.graph_def.library.function]:
    for node in nodes:
      match = _DROPOUT.search(node.name)
      if node.op == 'Const' and match:
        value = 1.0 if match.group(2) == 'Const' else 0.0
        node.attr['value'].CopyFrom(tf.compat.v1.AttrValue(
            tensor=tf.make_tensor_proto(np.float32(value))))
        changed += 1
  assert changed, 'no dropout found in the training graph'
  return metagraph


@pytest.fixture
def no_orthogonal_init(monkeypatch):
  """Keras LSTMs built without their orthogonal initialisation (QR
  decompositions: for cat-mel_2bar_big's 8192 x 2048 recurrent kernels,
  most of a minute on one core), where every weight is overwritten."""
  monkeypatch.setattr(keras.initializers.OrthogonalInitializer, '__call__',
                      lambda self, shape, dtype=None: keras.ops.zeros(
                          shape, dtype=dtype))


def _one(tensors, what):
  assert len(tensors) == 1, f'{len(tensors)} tensors of {what}: {tensors}'
  return tensors[0]


@testing_lib.requires_shared_data
@pytest.mark.usefixtures('no_orthogonal_init')
@pytest.mark.parametrize('folder', PARTIAL)
def test_real_training_graph_gives_the_imported_models_logits(folder,
                                                              tmp_path):
  """The real MusicVAE training graph (its `.meta`), random weights of its
  own names and shapes saved by its own Saver, fed batches of one-hot
  sequences in place of its input iterator and a fixed draw of the
  posterior's noise: its encoder/mu, encoder/sigma and reconstruction
  logits (the decoder's rnn_output, after decoder/output_projection) are
  the imported model's within 1e-4, and the NumPy graph's above (float64).

  The LSTM weights are drawn small (sd 0.05), the dense layers' larger
  (0.3: logits of several nats): LSTMs of 512 units with sd 0.1 run
  chaotic, and float32 rounding, the TF1 graph's as ours, grows over 32
  steps to 1e-4 from the float64 result."""
  path = os.path.join(REAL, 'musicvae_partial', folder)
  (meta,) = [n for n in os.listdir(path) if n.endswith('.meta')]
  with open(os.path.join(path, meta), 'rb') as f:
    metagraph = _without_dropout(tf.compat.v1.MetaGraphDef.FromString(f.read()))
  rng = np.random.default_rng(11)
  graph = tf.Graph()
  with graph.as_default():
    saver = tf.compat.v1.train.import_meta_graph(metagraph)
    session = tf.compat.v1.Session(graph=graph)
    variables = graph.get_collection('variables')
    session.run(tf.compat.v1.variables_initializer(variables))
    for variable in variables:
      if variable.dtype.base_dtype == tf.float32:
        scale = 0.05 if '/lstm_cell/' in variable.name else 0.3
        variable.load(rng.normal(0, scale, variable.shape.as_list()).astype(
            np.float32), session)
    checkpoint = saver.save(session, str(tmp_path / 'train' / 'model.ckpt'),
                            global_step=100, write_meta_graph=False)
    sequences, targets, controls, lengths = graph.get_operation_by_name(
        'IteratorGetNext').outputs
    noise = _one([op.outputs[0] for op in graph.get_operations()
                  if op.type == 'RandomStandardNormal'
                  and 'Initializer' not in op.name], 'the posterior\'s noise')
    mu = graph.get_tensor_by_name('encoder/mu/BiasAdd:0')
    sigma = graph.get_tensor_by_name('encoder/sigma/Softplus:0')
    # z = mu + sigma * noise, the noise laid out as the graph's TF version
    # drew it (TF 1.x's MultivariateNormalDiag transposes its draw).
    z = graph.get_operation_by_name(
        'decoder/z_to_initial_state/MatMul').inputs[0]
  batch, _, classes = sequences.shape.as_list()
  # GrooVAE's decoder (GrooveLstmDecoder): the projection's 27 outputs
  # split into hits (sigmoid), velocities (sigmoid) and offsets (tanh).
  assert [graph.get_operation_by_name(n).inputs[0].op.name
          for n in ('Sigmoid', 'Sigmoid_1', 'Tanh')] == ['split_2'] * 3
  logits = _one([op.outputs[0] for op in graph.get_operations()
                 if op.name.startswith('decoder/transpose')
                 and op.outputs[0].shape.rank == 3
                 and op.outputs[0].shape[-1] == classes],
                'the reconstruction logits')
  # The run: cat-mel_2bar_small's network over a melody encoding of as many
  # ids as the graph's rows are wide (min_note 48 to max_note 73: 27).
  run_dir = magenta.import_checkpoint(
      os.path.dirname(checkpoint), 'cat-mel_2bar_small', str(tmp_path / 'run'),
      hparams='min_note=48,max_note=73')
  run = run_dir_lib.load_run(run_dir)
  assert run.codec.vocab_size == classes == 27
  assert (run.config.model.z_size, tuple(run.config.model.enc_rnn_size),
          tuple(run.config.model.dec_rnn_size)) == (256, (512,), (256, 256))
  steps = 32
  tokens = rng.integers(0, classes, (batch, steps))
  one_hot = np.eye(classes, dtype=np.float32)[tokens]
  eps = rng.standard_normal(noise.shape.as_list()).astype(np.float32)
  feed = {sequences: one_hot, targets: one_hot,
          controls: np.zeros((batch, steps, 0), bool),
          lengths: np.full(batch, steps, np.int32), noise: eps}
  theirs = session.run({'mu': mu, 'sigma': sigma, 'z': z, 'logits': logits},
                       feed)
  again = session.run(logits, feed)
  np.testing.assert_array_equal(again, theirs['logits'])   # no dropout
  session.close()
  our_mu, our_sigma = (keras.ops.convert_to_numpy(t)
                       for t in run.model.encode({'tokens': tokens}))
  # The graph's z is its mu + sigma * its noise: what the model decodes.
  noise_drawn = (theirs['z'] - theirs['mu']) / theirs['sigma']
  np.testing.assert_allclose(np.sort(noise_drawn.ravel()), np.sort(eps.ravel()),
                             atol=1e-3)
  ours = keras.ops.convert_to_numpy(run.model.decode(theirs['z'],
                                                     {'tokens': tokens}))
  differences = {name: float(np.abs(value - theirs[name]).max())
                 for name, value in (('mu', our_mu), ('sigma', our_sigma),
                                     ('logits', ours))}
  # And the NumPy graph in float64, on the first rows (it is slow).
  rows = 64
  weights = magenta.read_music_vae_weights(checkpoint)
  exact_mu, exact_sigma = magenta_posterior(weights,
                                            one_hot[:rows].astype(float))
  exact = magenta_logits(
      weights, exact_mu + exact_sigma * noise_drawn[:rows], tokens[:rows])
  drift = float(np.abs(theirs['logits'][:rows] - exact).max())
  print(f'{folder}: max |musicrnn - TF1 graph| mu {differences["mu"]:.2e}, '
        f'sigma {differences["sigma"]:.2e}, reconstruction logits '
        f'{differences["logits"]:.2e} (|logits| up to '
        f'{np.abs(theirs["logits"]).max():.2f}; batch {batch}, {steps} '
        f'steps); |TF1 graph - float64 NumPy| logits {drift:.2e} (first '
        f'{rows} rows)')
  assert max(differences.values()) < 1e-4
  assert drift < 1e-4


class IndexOnly:
  """The names and shapes of a V2 checkpoint's index without its data;
  every tensor reads as zeros of its shape (a view: no memory)."""

  def __init__(self, index, folder):
    prefix = os.path.join(str(folder), 'model.ckpt')
    shutil.copy(index, prefix + '.index')
    self._shapes = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()

  def get_variable_to_shape_map(self):
    return dict(self._shapes)

  def get_tensor(self, name):
    return np.broadcast_to(np.float32(0), self._shapes[name])


@testing_lib.requires_shared_data
@pytest.mark.usefixtures('no_orthogonal_init')
def test_googles_cat_mel_2bar_big_index_names_every_tensor_the_import_needs(
    tmp_path):
  """Google's published cat-mel_2bar_big checkpoint (its index: every
  tensor's name and shape): the import finds every tensor it maps, sizes
  the config as Magenta's, and every tensor fits the built model; what it
  leaves is the optimizer's (Adam slots, beta powers) and global_step."""

  index = os.path.join(REAL, 'google', 'cat-mel_2bar_big.ckpt.index')
  reader = IndexOnly(index, tmp_path)
  weights = magenta.read_music_vae_weights(index, reader)
  config = magenta.music_vae_config_for('cat-mel_2bar_big', weights)
  magentas = configs.get_config('cat-mel_2bar_big').model
  for key in ('z_size', 'enc_rnn_size', 'dec_rnn_size', 'decoder'):
    assert config.model[key] == magentas[key], key
  assert (config.model.z_size, tuple(config.model.enc_rnn_size),
          tuple(config.model.dec_rnn_size)) == (512, (2048,), (2048,) * 3)
  codec = encodings.codec_from_config(config)
  model = models.build_model(config, codec, [])
  magenta.set_music_vae_weights(model, weights, config)
  used = len(reader.get_variable_to_shape_map()) - len(weights['ignored'])
  assert all(re.search(r'(/Adam(_1)?|^beta[12]_power|^global_step)$', name)
             for name in weights['ignored']), weights['ignored']
  slots = [n for n in weights['ignored'] if '/Adam' in n]
  print(f'cat-mel_2bar_big index: {used} tensors imported; left: '
        f'{len(slots)} Adam slots, '
        + ', '.join(n for n in weights['ignored'] if '/Adam' not in n))
  assert used == 18 and len(slots) == 36
  assert len(weights['ignored']) == 39
