"""Magenta's Performance RNN and Polyphony RNN weights as musicrnn runs.

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
GENERATOR_IDS = (
    'performance', 'performance_with_dynamics',
    'density_conditioned_performance_with_dynamics',
    'pitch_conditioned_performance_with_dynamics',
    'multiconditioned_performance_with_dynamics', 'polyphony')
# TF1's BasicLSTMCell adds this to the forget gate when it runs.
FORGET_BIAS = 1.0

_CELL = re.compile(r'^rnn/multi_rnn_cell/cell_(\d+)/basic_lstm_cell/'
                   r'(kernel|bias|weights|biases)$')
_OUTPUT = {'fully_connected/weights': 'kernel', 'fully_connected/biases': 'bias'}
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


def read_weights(checkpoint):
  """([(kernel, bias) per layer], (output kernel, output bias)) of a Magenta
  event RNN checkpoint, as numpy arrays.

  Raises:
    UsageError: unreadable, or a tensor this import does not map.
  """
  try:
    reader = tf.train.load_checkpoint(checkpoint)
  except (tf.errors.OpError, ValueError) as e:
    raise UsageError(f'{checkpoint} is not a readable TensorFlow checkpoint: '
                     f'{str(e).splitlines()[0]}') from e
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


def config_for(generator_id, layers, hparams=''):
  """The musicrnn config of a Magenta generator id with `hparams` (what
  fine-tuning will use: batch size, learning rate, ...), sized as `layers`."""
  if generator_id not in GENERATOR_IDS:
    raise UsageError(
        f'Magenta generator {generator_id!r} cannot be imported; musicrnn '
        f'imports {", ".join(GENERATOR_IDS)}')
  config = configs.get_config(generator_id)
  configs.apply_overrides(config, hparams=hparams)
  config.model.rnn_layer_sizes = tuple(int(k.shape[1]) // 4 for k, _ in layers)
  return config


def _keras_gates(matrix):
  """TF1 gate blocks (i, j, f, o) on the last axis -> Keras' (i, f, c, o)."""
  i, j, f, o = np.split(matrix, 4, axis=-1)
  return np.concatenate([i, f, j, o], axis=-1)


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
    keras_bias = _keras_gates(bias).copy()
    keras_bias[units:2 * units] += FORGET_BIAS
    rnn.cell.kernel.assign(_keras_gates(rows))
    rnn.cell.recurrent_kernel.assign(_keras_gates(kernel[inputs:]))
    rnn.cell.bias.assign(keras_bias)
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
      RNN graph.
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
  layers, output = read_weights(checkpoint)
  config = config_for(generator_id, layers, hparams)
  if tf.io.gfile.exists(os.path.join(run_dir, run_dir_lib.CONFIG_JSON)):
    raise UsageError(f'{run_dir} already holds a run; choose a new --run_dir')
  codec = encodings.codec_from_config(config)
  controls = encodings.controls_from_config(config)
  model = models.build_model(config, codec, controls)
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
