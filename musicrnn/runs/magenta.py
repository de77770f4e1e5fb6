"""Magenta's Performance RNN, Polyphony RNN and Pianoroll RNN-NADE weights as
musicrnn runs.

  run_dir = magenta.import_bundle('performance_with_dynamics.mag', '/tmp/pwd')
  run_dir = magenta.import_checkpoint('/tmp/magenta_train/model.ckpt-1000',
                                      'polyphony', '/tmp/poly')

A `.mag` file is note-seq's `GeneratorBundle` proto: the generator id (the
Magenta config name, which is also the musicrnn config name), one TF1 V1
checkpoint file and a metagraph (not read: nothing in a bundle is executed).
Only the checkpoint's tensors are read, by name, and they decide the model:
the layer sizes come from the kernels' shapes, and the first layer's input
width must equal the encoding's vocabulary plus the config's control inputs.

Magenta's event RNN graph (`events_rnn_graph`) keeps, per layer i,
  rnn/multi_rnn_cell/cell_i/basic_lstm_cell/kernel  [inputs + units, 4 units]
  rnn/multi_rnn_cell/cell_i/basic_lstm_cell/bias    [4 units]
(older bundles: `weights` / `biases`), gates in TF1's order i, j (the new
cell value), f, o, with a forget bias of 1.0 added when the cell runs; and
  fully_connected/weights [units, classes], fully_connected/biases [classes].
Its input is [control inputs in the config's order, event one-hot]; the
event LSTM's is [event one-hot, controls sorted by name]. The import reorders
both the gates (Keras: i, f, c, o; the forget bias folded into the bias) and
the input rows, so the Keras LSTM computes what TF1's BasicLSTMCell did.
Anything else in the checkpoint (attention, layer norm, cuDNN or LSTMBlock
weights) is an error naming the tensor; Adam slots, `global_step` and the
like of a training checkpoint are ignored.

Magenta's Pianoroll RNN-NADE (`rnn-nade`, `rnn-nade_attn`: its
`pianoroll_rnn_nade_graph`) runs its cell inside a seq2seq decoder and keeps
  decoder/multi_rnn_cell/cell_i/basic_lstm_cell/kernel, bias   (as above)
  decoder/dense/kernel [units, H + D], bias [H + D]   the NADE's biases
      from the top layer's output: b_enc (H) first, then b_dec (D)
  nade/w_enc [D, 1, H], nade/w_dec_t [D, H, 1]        the NADE's weights
(D = 88 keys, H the NADE's hidden units). With attention (`rnn-nade_attn`)
the first cell is wrapped, under decoder/multi_rnn_cell/cell_0/
attention_cell_wrapper/: `kernel`, `bias` (the input with the last
attention read -> the input's width), `basic_lstm_cell/...` (the LSTM),
`attention/attn_w` [1, 1, units, units], `attention/attn_v` [units],
`attention/kernel` [2 units, units] and `bias` (the query, from the cell's
new state c then h) and `attn_output_projection/kernel` [2 units, units] and
`bias` (the output, from the LSTM's output and the new attention read): the
weights of `models.recurrent.AttentionLSTMCell`. The attention window
(`attn_length`) is no tensor's shape: it is the config's (32 for
rnn-nade_attn; `hparams` sets another). Magenta scores a frame with each
key's probability floored (log(p + 1e-6)); the imported model's
log-likelihood is the exact one, with the same conditional probabilities.

The run is a run like any: config.json (the Magenta config with the
checkpoint's layer sizes), a checkpoint at step 0 with a fresh optimizer,
so musicrnn_generate and musicrnn_evaluate read it and musicrnn_train
fine-tunes it on a dataset of that config.
"""

import logging
import os
import re
import tempfile
import zipfile

import numpy as np
import tensorflow as tf

from musicrnn import configs
from musicrnn import encodings
from musicrnn import models
from musicrnn import tasks
from musicrnn.errors import UsageError
from musicrnn.runs import run_dir as run_dir_lib

# Magenta generator ids musicrnn runs (its configs of the same names).
EVENT_GENERATOR_IDS = (
    'performance', 'performance_with_dynamics',
    'density_conditioned_performance_with_dynamics',
    'pitch_conditioned_performance_with_dynamics',
    'multiconditioned_performance_with_dynamics', 'polyphony')
NADE_GENERATOR_IDS = ('rnn-nade', 'rnn-nade_attn')
GENERATOR_IDS = EVENT_GENERATOR_IDS + NADE_GENERATOR_IDS
# TF1's BasicLSTMCell adds this to the forget gate when it runs.
FORGET_BIAS = 1.0

_CELL = re.compile(r'^rnn/multi_rnn_cell/cell_(\d+)/basic_lstm_cell/'
                   r'(kernel|bias|weights|biases)$')
_OUTPUT = {'fully_connected/weights': 'kernel', 'fully_connected/biases': 'bias'}
# The RNN-NADE's tensors: (cell index or None, what it is), its name's
# parts that tell (TF 1.1-1.2 named a kernel `weights` and a bias `biases`).
_NADE_CELL = re.compile(
    r'^decoder/multi_rnn_cell/cell_(\d+)/(attention_cell_wrapper/)?'
    r'basic_lstm_cell/(kernel|bias|weights|biases)$')
_NADE_ATTENTION = re.compile(
    r'^decoder/multi_rnn_cell/cell_0/attention_cell_wrapper/'
    r'(attention/|attn_output_projection/)?(kernel|bias|weights|biases|'
    r'attn_w|attn_v)$')
# (part of the attention wrapper, kind) -> AttentionLSTMCell's weight.
_ATTENTION_WEIGHTS = {
    ('', 'kernel'): 'input_kernel', ('', 'bias'): 'input_bias',
    ('attention/', 'kernel'): 'query_kernel',
    ('attention/', 'bias'): 'query_bias',
    ('attention/', 'attn_w'): 'attn_w', ('attention/', 'attn_v'): 'attn_v',
    ('attn_output_projection/', 'kernel'): 'output_kernel',
    ('attn_output_projection/', 'bias'): 'output_bias'}
_NADE_OTHER = {'decoder/dense/kernel': 'projection_kernel',
               'decoder/dense/bias': 'projection_bias',
               'nade/w_enc': 'w_enc', 'nade/w_dec_t': 'w_dec_t'}
# Training bookkeeping a Magenta checkpoint may hold beside the weights.
_IGNORED = re.compile(r'(^global_step$|^beta[12]_power|/Adam(_\d+)?$|'
                      r'/Momentum$|/RMSProp(_\d+)?$|/Adagrad$)')


def read_bundle(path):
  """(generator id, path of its checkpoint written to a temporary folder)
  of a `.mag` file.

  Raises:
    UsageError: not a readable GeneratorBundle, or not one checkpoint file.
  """
  from note_seq.protobuf import generator_pb2  # pylint: disable=import-outside-toplevel
  from google.protobuf import message  # pylint: disable=import-outside-toplevel
  if not tf.io.gfile.exists(path):
    raise UsageError(f'--bundle_file={path} does not exist')
  if zipfile.is_zipfile(path):
    raise UsageError(f'{path} is a musicrnn model file (.mrnn), not a Magenta '
                     'bundle: generate from it with musicrnn_generate '
                     '--bundle_file, or fine-tune it with musicrnn_train '
                     '--init_from')
  with tf.io.gfile.GFile(path, 'rb') as f:
    data = f.read()
  bundle = generator_pb2.GeneratorBundle()
  try:
    bundle.ParseFromString(data)
  except message.DecodeError as e:
    raise UsageError(f'{path} is not a Magenta bundle (.mag): {e}') from e
  generator_id = bundle.generator_details.id
  if not generator_id or len(bundle.checkpoint_file) != 1:
    raise UsageError(f'{path} is not a Magenta bundle with one checkpoint '
                     f'(generator id {generator_id!r}, '
                     f'{len(bundle.checkpoint_file)} checkpoint files)')
  folder = tempfile.mkdtemp(prefix='musicrnn-mag-')
  checkpoint = os.path.join(folder, 'model.ckpt')
  with open(checkpoint, 'wb') as f:
    f.write(bundle.checkpoint_file[0])
  return generator_id, checkpoint


def _reader(checkpoint):
  """A reader of the checkpoint's tensors.

  Raises:
    UsageError: unreadable.
  """
  try:
    return tf.train.load_checkpoint(checkpoint)
  except (tf.errors.OpError, ValueError) as e:
    raise UsageError(f'{checkpoint} is not a readable TensorFlow checkpoint: '
                     f'{str(e).splitlines()[0]}') from e


def read_weights(checkpoint):
  """([(kernel, bias) per layer], (output kernel, output bias)) of a Magenta
  event RNN checkpoint, as numpy arrays.

  Raises:
    UsageError: unreadable, or a tensor this import does not map.
  """
  reader = _reader(checkpoint)
  cells, output = {}, {}
  for name in sorted(reader.get_variable_to_shape_map()):
    match = _CELL.match(name)
    if match:
      kind = 'kernel' if match.group(2) in ('kernel', 'weights') else 'bias'
      cells.setdefault(int(match.group(1)), {})[kind] = reader.get_tensor(name)
    elif name in _OUTPUT:
      output[_OUTPUT[name]] = reader.get_tensor(name)
    elif not _IGNORED.search(name):
      raise UsageError(
          f'{checkpoint} holds {name}, which musicrnn cannot map: it imports '
          'the LSTM stack (rnn/multi_rnn_cell/cell_N/basic_lstm_cell) and '
          'fully_connected of Magenta\'s Performance RNN and Polyphony RNN, '
          'without attention, layer norm or cuDNN cells')
  if not cells or sorted(cells) != list(range(len(cells))) or any(
      set(c) != {'kernel', 'bias'} for c in cells.values()) or set(output) != {
          'kernel', 'bias'}:
    raise UsageError(f'{checkpoint} lacks the weights of a Magenta event RNN '
                     '(rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel, ..., '
                     'fully_connected/weights)')
  layers = [(cells[i]['kernel'], cells[i]['bias']) for i in range(len(cells))]
  return layers, (output['kernel'], output['bias'])


def read_nade_weights(checkpoint):
  """The weights of a Magenta Pianoroll RNN-NADE checkpoint, as numpy
  arrays: {'layers': [(kernel, bias) per LSTM], 'attention': {an
  AttentionLSTMCell weight's name: value} (empty without attention),
  'projection_kernel', 'projection_bias', 'w_enc' [D, 1, H], 'w_dec_t'
  [D, H, 1]}.

  Raises:
    UsageError: unreadable, a tensor this import does not map, or one
      missing.
  """
  reader = _reader(checkpoint)
  cells, attention, weights = {}, {}, {}
  wrapped = False   # the first LSTM is inside the attention wrapper
  for name in sorted(reader.get_variable_to_shape_map()):
    cell, wrapper = _NADE_CELL.match(name), _NADE_ATTENTION.match(name)
    # Attention wraps the first cell only.
    if cell and not (cell.group(2) and cell.group(1) != '0'):
      kind = 'kernel' if cell.group(3) in ('kernel', 'weights') else 'bias'
      cells.setdefault(int(cell.group(1)), {})[kind] = reader.get_tensor(name)
      wrapped = wrapped or bool(cell.group(2))
      continue
    if wrapper:
      kind = {'weights': 'kernel', 'biases': 'bias'}.get(wrapper.group(2),
                                                         wrapper.group(2))
      part = _ATTENTION_WEIGHTS.get((wrapper.group(1) or '', kind))
      if part:
        attention[part] = reader.get_tensor(name)
        continue
    if name in _NADE_OTHER:
      weights[_NADE_OTHER[name]] = reader.get_tensor(name)
      continue
    if not _IGNORED.search(name):
      raise UsageError(
          f'{checkpoint} holds {name}, which musicrnn cannot map: it imports '
          'Magenta\'s Pianoroll RNN-NADE (decoder/multi_rnn_cell/cell_N/'
          'basic_lstm_cell, the first cell\'s attention_cell_wrapper, '
          'decoder/dense, nade/w_enc, nade/w_dec_t)')
  missing = sorted(set(_NADE_OTHER.values()) - set(weights))
  if (attention or wrapped) and len(attention) != len(_ATTENTION_WEIGHTS):
    missing += sorted(set(_ATTENTION_WEIGHTS.values()) - set(attention))
  if attention and not wrapped:
    missing.append('cell_0/attention_cell_wrapper/basic_lstm_cell')
  if (not cells or sorted(cells) != list(range(len(cells))) or any(
      set(c) != {'kernel', 'bias'} for c in cells.values()) or missing):
    raise UsageError(
        f'{checkpoint} lacks weights of a Magenta Pianoroll RNN-NADE '
        '(decoder/multi_rnn_cell/cell_0/basic_lstm_cell/kernel, ..., '
        'decoder/dense/kernel, nade/w_enc, nade/w_dec_t)'
        + (f': no {", ".join(missing)}' if missing else ''))
  weights['layers'] = [(cells[i]['kernel'], cells[i]['bias'])
                       for i in range(len(cells))]
  weights['attention'] = attention
  return weights


def _check_generator(generator_id):
  if generator_id not in GENERATOR_IDS:
    raise UsageError(
        f'Magenta generator {generator_id!r} cannot be imported; musicrnn '
        f'imports {", ".join(GENERATOR_IDS)}')


def config_for(generator_id, layers, hparams=''):
  """The musicrnn config of a Magenta generator id with `hparams` (what
  fine-tuning will use: batch size, learning rate, ...), sized as `layers`."""
  _check_generator(generator_id)
  config = configs.get_config(generator_id)
  configs.apply_overrides(config, hparams=hparams)
  config.model.rnn_layer_sizes = tuple(int(k.shape[1]) // 4 for k, _ in layers)
  return config


def nade_config_for(generator_id, weights, hparams=''):
  """The musicrnn config of a Magenta RNN-NADE id with `hparams`, sized as
  its `weights` (`read_nade_weights`): layer sizes and the NADE's hidden
  units; the attention window is the config's.

  Raises:
    UsageError: attention weights in a checkpoint of `rnn-nade`, or none in
      one of a config with attention.
  """
  _check_generator(generator_id)
  config = configs.get_config(generator_id)
  configs.apply_overrides(config, hparams=hparams)
  config.model.rnn_layer_sizes = tuple(int(k.shape[1]) // 4
                                       for k, _ in weights['layers'])
  config.model.nade_hidden_units = int(weights['w_enc'].shape[-1])
  if bool(weights['attention']) != bool(config.model.attn_length):
    raise UsageError(
        f'the checkpoint {"has" if weights["attention"] else "lacks"} the '
        f'attention weights of rnn-nade_attn, and config {generator_id!r} '
        f'{"has no" if not config.model.attn_length else "has"} attention: '
        'import it as '
        + ('rnn-nade_attn' if weights['attention'] else 'rnn-nade'))
  return config


def _keras_gates(matrix):
  """TF1 gate blocks (i, j, f, o) on the last axis -> Keras' (i, f, c, o)."""
  i, j, f, o = np.split(matrix, 4, axis=-1)
  return np.concatenate([i, f, j, o], axis=-1)


def _set_lstm(cell, input_rows, recurrent_rows, bias):
  """A Keras LSTM cell computing what TF1's BasicLSTMCell of these weights
  did: gates reordered, the forget bias folded into the bias."""
  units = bias.shape[0] // 4
  keras_bias = _keras_gates(bias).copy()
  keras_bias[units:2 * units] += FORGET_BIAS
  cell.kernel.assign(_keras_gates(input_rows))
  cell.recurrent_kernel.assign(_keras_gates(recurrent_rows))
  cell.bias.assign(keras_bias)


def _check_shape(name, value, shape, why):
  if tuple(value.shape) != tuple(shape):
    raise UsageError(f'{name} is {list(value.shape)}, the model needs '
                     f'{list(shape)}: {why}')


def set_nade_weights(model, weights):
  """Puts a Magenta RNN-NADE's weights (`read_nade_weights`) into an
  `RnnNade` built with its sizes (see the module docstring).

  Raises:
    UsageError: a shape that does not fit the model.
  """
  keys, hidden = model.frame_size, model.nade_hidden_units
  attention = weights['attention']
  previous = keys
  for i, ((kernel, bias), rnn) in enumerate(zip(weights['layers'],
                                                model.rnn_layers)):
    units = kernel.shape[1] // 4
    inputs = kernel.shape[0] - units
    if inputs != previous or bias.shape != (4 * units,):
      raise UsageError(
          f'cell_{i} of the checkpoint takes {inputs} inputs, the model gives '
          + (f'{keys} keys' if i == 0 else f'the {previous} units of layer '
             f'{i - 1}') + ': the checkpoint is of another encoding')
    cell = rnn.cell.lstm if i == 0 and attention else rnn.cell
    _set_lstm(cell, kernel[:inputs], kernel[inputs:], bias)
    previous = units
  if attention:
    cell = model.rnn_layers[0].cell
    for name, value in attention.items():
      variable = getattr(cell, name)
      if name == 'attn_w':
        value = value.reshape(value.shape[-2:])
      _check_shape(f'attention weight {name}', value, variable.shape,
                   'the checkpoint is of other sizes')
      variable.assign(value)
  why = 'the checkpoint is of another encoding or other sizes'
  _check_shape('decoder/dense/kernel', weights['projection_kernel'],
               (previous, hidden + keys), why)
  _check_shape('decoder/dense/bias', weights['projection_bias'],
               (hidden + keys,), why)
  _check_shape('nade/w_enc', weights['w_enc'], (keys, 1, hidden), why)
  _check_shape('nade/w_dec_t', weights['w_dec_t'], (keys, hidden, 1), why)
  model.logits.kernel.assign(weights['projection_kernel'])
  model.logits.bias.assign(weights['projection_bias'])
  model.w_enc.assign(weights['w_enc'][:, 0, :])
  model.w_dec.assign(weights['w_dec_t'][:, :, 0])


def set_weights(model, layers, output, control_sizes):
  """Puts Magenta's weights into an event LSTM (see the module docstring).

  Args:
    model: a built EventLSTM with one-hot inputs and LSTM cells.
    layers, output: from `read_weights`.
    control_sizes: [(name, size)] of the controls in Magenta's input order.

  Raises:
    UsageError: a shape that does not fit the model.
  """
  vocab = model.vocab_size
  controls = sum(size for _, size in control_sizes)
  previous = vocab + controls
  for i, ((kernel, bias), rnn) in enumerate(zip(layers, model.rnn_layers)):
    units = kernel.shape[1] // 4
    inputs = kernel.shape[0] - units
    if inputs != previous or bias.shape != (4 * units,):
      what = (f'{vocab} event classes + {controls} control inputs' if i == 0
              else f'the {previous} units of layer {i - 1}')
      raise UsageError(
          f'cell_{i} of the checkpoint takes {inputs} inputs, the config '
          f'{model.name!r} gives {what}: the checkpoint is of another '
          'encoding or other controls (Magenta\'s "356 vs 388" error)')
    rows = kernel[:inputs]
    if i == 0 and controls:
      # Magenta: [controls in its order, event]; ours: [event, sorted controls].
      parts, start = {}, 0
      for name, size in control_sizes:
        parts[name] = rows[start:start + size]
        start += size
      rows = np.concatenate([rows[controls:]] + [parts[name]
                                                 for name in sorted(parts)])
    _set_lstm(rnn.cell, rows, kernel[inputs:], bias)
    previous = units
  weights, biases = output
  if weights.shape != (previous, vocab):
    raise UsageError(f'fully_connected/weights is {list(weights.shape)}, the '
                     f'model needs [{previous}, {vocab}]: the checkpoint is of '
                     'another encoding')
  model.logits.kernel.assign(weights)
  model.logits.bias.assign(biases)


def import_checkpoint(checkpoint, generator_id, run_dir, source=None, hparams=''):
  """Writes a musicrnn run of a Magenta checkpoint; returns `run_dir`.

  Args:
    checkpoint: a TF1 checkpoint (V1 file or V2 prefix) of Magenta's event
      RNN graph or Pianoroll RNN-NADE graph.
    generator_id: the Magenta config it was trained with.
    run_dir: the new run's folder (must not hold a run yet).
    source: what to record as its origin (default: `checkpoint`).
    hparams: overrides of the config for fine-tuning (`musicrnn_train` on the
      run takes the same config and overrides); the layer sizes are the
      checkpoint's whatever they say.

  Raises:
    UsageError: an unknown config, weights that do not fit it, or a
      `run_dir` that already holds a run.
  """
  _check_generator(generator_id)
  nade = generator_id in NADE_GENERATOR_IDS
  if nade:
    weights = read_nade_weights(checkpoint)
    config = nade_config_for(generator_id, weights, hparams)
    layers = weights['layers']
  else:
    layers, output = read_weights(checkpoint)
    config = config_for(generator_id, layers, hparams)
  if tf.io.gfile.exists(os.path.join(run_dir, run_dir_lib.CONFIG_JSON)):
    raise UsageError(f'{run_dir} already holds a run; choose a new --run_dir')
  codec = encodings.codec_from_config(config)
  controls = encodings.controls_from_config(config)
  model = models.build_model(config, codec, controls)
  if nade:
    set_nade_weights(model, weights)
  else:
    # Magenta's control order is its config's: note density, then pitch.
    set_weights(model, layers, output,
                [(name, control.size) for name, control in controls])
  step = tf.Variable(0, dtype=tf.int64, name='step', trainable=False)
  objective = tasks.for_config(config).objective(
      model, config, tf.distribute.get_strategy())
  run_dir_lib.prepare(run_dir, config, codec.spec(),
                      {'config_name': generator_id,
                       'input': f'magenta:{source or checkpoint}'})
  checkpoint_ = tf.train.Checkpoint(model=model, step=step, **objective.optimizers)
  tf.train.CheckpointManager(checkpoint_, run_dir_lib.checkpoint_dir(run_dir),
                             max_to_keep=5).save(checkpoint_number=0)
  logging.info('musicrnn import: Magenta %s (%s) -> %s: layers %s, %d inputs',
               generator_id, source or checkpoint, run_dir,
               list(config.model.rnn_layer_sizes), int(layers[0][0].shape[0]
                                                       - layers[0][0].shape[1] // 4))
  return run_dir


def import_bundle(bundle_file, run_dir, hparams=''):
  """Writes a musicrnn run of a Magenta `.mag` bundle; returns `run_dir`;
  `hparams` as `import_checkpoint`."""
  generator_id, checkpoint = read_bundle(bundle_file)
  try:
    return import_checkpoint(checkpoint, generator_id, run_dir,
                             source=bundle_file, hparams=hparams)
  finally:
    tf.io.gfile.rmtree(os.path.dirname(checkpoint))
