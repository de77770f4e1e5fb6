"""Magenta's Performance RNN, Polyphony RNN, Melody RNN, Drums RNN,
Pianoroll RNN-NADE and MusicVAE weights as musicrnn runs.

  run_dir = magenta.import_bundle('performance_with_dynamics.mag', '/tmp/pwd')
  run_dir = magenta.import_checkpoint('/tmp/magenta_train/model.ckpt-1000',
                                      'polyphony', '/tmp/poly')
  run_dir = magenta.import_checkpoint('/content/logdir/run1/train',
                                      'attention_rnn', '/tmp/attention')
  run_dir = magenta.import_checkpoint('cat-mel_2bar_big.ckpt',
                                      'cat-mel_2bar_big', '/tmp/mel_2bar')

A `.mag` file is note-seq's `GeneratorBundle` proto: the generator id (the
Magenta config name, which is also the musicrnn config name, but for Drums
RNN's `drum_kit`: `drum_kit_rnn`), one TF1 V1 checkpoint file and a
metagraph (not read: nothing in a bundle is executed). Only the
checkpoint's tensors are read, by name, and they decide the model: the
layer sizes come from the kernels' shapes, whether and where attention
sits from the names, and the first layer's input width must equal the
model's (the encoding's vocabulary plus the config's control inputs; a
Melody or Drums RNN encoder's input size).

Magenta's event RNN graph (`events_rnn_graph`: Performance, Polyphony,
Melody and Drums RNN) keeps, per layer i,
  rnn/multi_rnn_cell/cell_i/basic_lstm_cell/kernel  [inputs + units, 4 units]
  rnn/multi_rnn_cell/cell_i/basic_lstm_cell/bias    [4 units]
(TF 1.1-1.2: `weights` / `biases`; TF 1.0, 2017: RNN/MultiRNNCell/CellI/
BasicLSTMCell/Linear/Matrix and Bias; names are read in the later spelling,
`_canonical`), gates in TF1's order i, j (the new cell value), f, o, with a
forget bias of 1.0 added when the cell runs; and
  fully_connected/weights [units, classes], fully_connected/biases [classes].
The event LSTM's input is [event one-hot, controls sorted by name], Magenta's
[control inputs in the config's order, event one-hot]; a Melody or Drums
RNN's is its encoder's vector (`models.event_sequence_rnn.Inputs`), as
Magenta's. The import reorders the gates (Keras: i, f, c, o; the forget
bias folded into the bias) and the control rows, so the Keras LSTM computes
what TF1's BasicLSTMCell did.

With attention (attention_rnn, drum_kit, any config trained with
attn_length), contrib's `AttentionCellWrapper` wraps the first layer
(since 2018: rnn/multi_rnn_cell/cell_0/attention_cell_wrapper/, its LSTM
under basic_lstm_cell/) or the whole stack (2017: RNN/AttentionCellWrapper/,
the layers under MultiRNNCell/CellI/; the run's config says
attention='stack'). The wrapper's weights are those of
`models.recurrent.AttentionLSTMCell`: `kernel`, `bias` (2017:
Linear/Matrix, Bias; the input with the last attention read -> the input's
width), `attention/attn_w` [1, 1, units, units], `attention/attn_v`
[units], `attention/kernel` [2 units per wrapped layer, units] and `bias`
(2017: Attention/Linear/...; the query, from the new states c then h of
each wrapped layer) and `attn_output_projection/kernel` [2 units, units]
and `bias` (the output, from the LSTM's output and the new attention
read). The attention window (`attn_length`) is no tensor's shape: it is the
config's (Magenta's: attention_rnn 40, drum_kit 32, rnn-nade_attn 32;
`hparams` sets another). Anything else in the checkpoint (layer norm, cuDNN
or LSTMBlock weights) is an error naming the tensor; Adam slots,
`global_step` and the like of a training checkpoint are ignored.

Magenta's Pianoroll RNN-NADE (`rnn-nade`, `rnn-nade_attn`: its
`pianoroll_rnn_nade_graph`) runs the same stack (attention on the first
layer) inside a seq2seq decoder and keeps
  decoder/multi_rnn_cell/cell_i/...                   (as above)
  decoder/dense/kernel [units, H + D], bias [H + D]   the NADE's biases
      from the top layer's output: b_enc (H) first, then b_dec (D)
  nade/w_enc [D, 1, H], nade/w_dec_t [D, H, 1]        the NADE's weights
(D = 88 keys, H the NADE's hidden units). Magenta scores a frame with each
key's probability floored (log(p + 1e-6)); the imported model's
log-likelihood is the exact one, with the same conditional probabilities.

Magenta's MusicVAE (`VAE_GENERATOR_IDS`: cat-mel_2bar_small,
cat-mel_2bar_big, cat-drums_2bar_small, hierdec-mel_16bar, musicrnn's
`music_vae` configs by the same names; published as checkpoints, not
bundles) keeps (music_vae/base_model.py, lstm_models.py, lstm_utils.py)
  encoder/cell_L/bidirectional_rnn/{fw,bw}/multi_rnn_cell/cell_0/lstm_cell/
      kernel [inputs + units, 4 units], bias [4 units]
                    layer L of the stacked bidirectional encoder; layer 0
                    reads the encoding (melodies: the one-hot of 90 ids;
                    drums: 9 drum bits and a "no drum" bit), layer L > 0
                    both directions of layer L - 1
  encoder/mu, encoder/sigma   kernel [2 units, z], bias [z] (sigma through
                    softplus), from the top layer's last forward and
                    backward outputs
  decoder/z_to_initial_state  kernel [z, 2 sum(units)], bias: tanh, split
                    as the MultiRNNCell flattens its state, (c, h) per layer
  decoder/multi_rnn_cell/cell_i/lstm_cell/kernel, bias
                    the decoder; its first layer reads [one-hot of the
                    previous token (zeros at the first step), z]
  decoder/output_projection   kernel [units, classes], bias [classes]
and for the hierarchical decoder (hierdec-mel_16bar, Magenta's
disable_autoregression=True) those three decoder parts under
core_decoder/ (their z a bar's conductor output), and its conductor:
  decoder/hierarchical_level_0/initial_state   kernel [z, 2 sum(units)]
  decoder/hierarchical_level_0/cell_i/lstm_cell/kernel, bias
                    (called with that scope: no multi_rnn_cell/; the first
                    layer reads a zero, [1 + units, 4 units])
The cells are contrib's LSTMBlockCell: the gates and forget bias of the
BasicLSTMCell above (no peepholes, no cell clipping), reordered as for the
event RNN. z_size and every layer's size come from the tensors; the bars
and steps of the hierarchical decoder (level_lengths, 16 x 16) are no
tensor's shape and stay the config's. The first encoder and decoder
kernels must read the config's encoding, or the import names both widths.
Residual or cuDNN cells, a hierarchical encoder, control preprocessing,
chord conditioning and multi-track decoders are not musicrnn's model: a
tensor of theirs is an error naming it, as is a tensor missing. Checked
against Magenta's own training graphs (tests/test_music_vae_import.py).

A training checkpoint is a V2 prefix (or one of its files) or the run's
folder (`checkpoint_path`), whose `checkpoint` file may hold the absolute
paths of the machine that trained. The run is a run like any: config.json
(the Magenta config with the checkpoint's layer sizes and attention), a
checkpoint at step 0 with a fresh optimizer, so musicrnn_generate and
musicrnn_evaluate read it and musicrnn_train fine-tunes it on a dataset of
that config.
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
from musicrnn.models import recurrent
from musicrnn.runs import run_dir as run_dir_lib

# Magenta generator ids musicrnn runs, and the musicrnn config of each
# (its own name but for Drums RNN's `drum_kit`).
EVENT_GENERATOR_IDS = (
    'performance', 'performance_with_dynamics',
    'performance_with_dynamics_and_modulo_encoding',
    'density_conditioned_performance_with_dynamics',
    'pitch_conditioned_performance_with_dynamics',
    'multiconditioned_performance_with_dynamics', 'polyphony',
    'basic_rnn', 'mono_rnn', 'lookback_rnn', 'attention_rnn', 'drum_kit')
NADE_GENERATOR_IDS = ('rnn-nade', 'rnn-nade_attn')
# Magenta's MusicVAE configs (music_vae/configs.py), musicrnn's by the same
# names; Magenta published their checkpoints, not bundles.
VAE_GENERATOR_IDS = ('cat-mel_2bar_small', 'cat-mel_2bar_big',
                     'cat-drums_2bar_small', 'hierdec-mel_16bar')
GENERATOR_IDS = EVENT_GENERATOR_IDS + NADE_GENERATOR_IDS + VAE_GENERATOR_IDS
_CONFIG_NAMES = {'drum_kit': 'drum_kit_rnn'}
# TF1's BasicLSTMCell adds this to the forget gate when it runs.
FORGET_BIAS = 1.0
# Where Magenta's attention wrapper sits (models.event_sequence_rnn's names).
FIRST_LAYER = 'first_layer'
STACK = 'stack'

# TF 1.0's (2017) spelling of a name's parts -> the later one's; `Linear`
# (the scope of TF 1.0's `_linear`) has no counterpart and is dropped, and
# TF 1.1-1.2's `weights` / `biases` are `kernel` / `bias`.
_OLD_PARTS = {
    'RNN': 'rnn', 'MultiRNNCell': 'multi_rnn_cell',
    'BasicLSTMCell': 'basic_lstm_cell',
    'AttentionCellWrapper': 'attention_cell_wrapper',
    'Attention': 'attention', 'AttnOutputProjection': 'attn_output_projection',
    'AttnV': 'attn_v', 'AttnW': 'attn_w', 'Matrix': 'kernel', 'Bias': 'bias',
    'weights': 'kernel', 'biases': 'bias'}
_OLD_CELL = re.compile(r'^Cell(\d+)$')


def _canonical(name):
  """A checkpoint tensor's name as Magenta's graphs since 2018 spell it:
  `RNN/MultiRNNCell/Cell0/BasicLSTMCell/Linear/Matrix` (TF 1.0, 2017) ->
  `rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel`."""
  parts = []
  for part in name.split('/'):
    if part == 'Linear':
      continue
    cell = _OLD_CELL.match(part)
    parts.append(f'cell_{cell.group(1)}' if cell else _OLD_PARTS.get(part, part))
  return '/'.join(parts)


def _stack_patterns(scope):
  """(LSTM, attention wrapper) patterns of canonical names under `scope`.

  LSTM groups: the stack's wrapper (2017: every layer inside it), the
  layer's index, the first layer's wrapper (since 2018), kernel or bias.
  Wrapper groups: where the wrapper is, its part, the weight's kind.
  """
  lstm = re.compile(
      rf'^{scope}/(attention_cell_wrapper/)?multi_rnn_cell/cell_(\d+)/'
      r'(attention_cell_wrapper/)?basic_lstm_cell/(kernel|bias)$')
  wrapper = re.compile(
      rf'^{scope}/(attention_cell_wrapper|multi_rnn_cell/cell_0/'
      r'attention_cell_wrapper)/(attention/|attn_output_projection/)?'
      r'(kernel|bias|attn_w|attn_v)$')
  return lstm, wrapper

_OUTPUT = {'fully_connected/kernel': 'kernel', 'fully_connected/bias': 'bias'}
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


def checkpoint_path(path):
  """The checkpoint `path` names, as `tf.train.load_checkpoint` reads it.

  A V1 checkpoint file or a V2 prefix (`model.ckpt-1000`) is itself; a V2
  checkpoint's `.index`, `.meta` or `.data-*` file names its prefix; a
  training run's folder names the checkpoint its `checkpoint` file lists
  last, looked for in that folder: that file often holds absolute paths of
  the machine that trained (`/content/...`, `C:/...`), which TensorFlow
  would look for there and not find.

  Raises:
    UsageError: a folder without a `checkpoint` file, or whose checkpoint
      is not in it.
  """
  if tf.io.gfile.isdir(path):
    try:
      state = tf.train.get_checkpoint_state(path)
    except (tf.errors.OpError, ValueError) as e:   # a garbled `checkpoint`
      raise UsageError(f'{path}/checkpoint is not readable: {e}') from e
    if not state or not state.model_checkpoint_path:
      raise UsageError(f'{path} is a folder without a `checkpoint` file: give '
                       'the checkpoint itself, e.g. --checkpoint='
                       f'{os.path.join(path, "model.ckpt-1000")}')
    name = re.split(r'[\\/]', state.model_checkpoint_path)[-1]
    prefix = os.path.join(path, name)
    if not tf.io.gfile.glob(prefix + '*'):
      raise UsageError(f'{path}/checkpoint names {state.model_checkpoint_path}'
                       f', and {name} is not in {path}: give the checkpoint '
                       'itself, e.g. --checkpoint=' + os.path.join(
                           path, 'model.ckpt-1000'))
    return prefix
  suffix = re.match(r'^(.*)\.(index|meta|data-\d+-of-\d+)$', path)
  if suffix and tf.io.gfile.exists(suffix.group(1) + '.index'):
    return suffix.group(1)
  return path


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


def _read_stack(reader, scope):
  """Magenta's LSTM stack under `scope` ('rnn' or 'decoder') in either
  generation of names, and the checkpoint's other tensors.

  Returns:
    ({'layers': {index: {'kernel', 'bias'}}, 'wrapped': {index: place} of
    the LSTMs inside an attention wrapper, 'attention': {AttentionLSTMCell
    weight: value}, 'places': {place: [tensor names]} of the wrapper's own
    weights}, {canonical name: name} of every other tensor).
  """
  lstm, wrapper = _stack_patterns(scope)
  stack = {'layers': {}, 'wrapped': {}, 'attention': {}, 'places': {}}
  others = {}
  for name in sorted(reader.get_variable_to_shape_map()):
    canonical = _canonical(name)
    cell, part = lstm.match(canonical), wrapper.match(canonical)
    weight = part and _ATTENTION_WEIGHTS.get((part.group(2) or '',
                                              part.group(3)))
    # One wrapper at most: the stack's, or the first layer's.
    if cell and not (cell.group(3) and (cell.group(1) or cell.group(2) != '0')):
      index = int(cell.group(2))
      stack['layers'].setdefault(index, {})[cell.group(4)] = reader.get_tensor(
          name)
      if cell.group(1) or cell.group(3):
        stack['wrapped'][index] = STACK if cell.group(1) else FIRST_LAYER
    elif weight:
      stack['attention'][weight] = reader.get_tensor(name)
      place = STACK if part.group(1) == 'attention_cell_wrapper' else FIRST_LAYER
      stack['places'].setdefault(place, []).append(name)
    else:
      others[canonical] = name
  return stack, others


def _check_stack(stack, checkpoint, scope, what):
  """[(kernel, bias) per layer], the attention weights and their place
  (None, FIRST_LAYER or STACK) of `_read_stack`'s stack.

  Raises:
    UsageError: layers missing or without a kernel or bias (naming `what`
      the checkpoint should be), or an attention wrapper missing weights or
      not around the layers it wraps.
  """
  layers = stack['layers']
  if not layers or sorted(layers) != list(range(len(layers))) or any(
      set(c) != {'kernel', 'bias'} for c in layers.values()):
    raise UsageError(f'{checkpoint} lacks the weights of {what} '
                     f'({scope}/multi_rnn_cell/cell_0/basic_lstm_cell/kernel, '
                     '...)')
  places = set(stack['places']) | set(stack['wrapped'].values())
  if len(places) > 1:
    raise UsageError(f'{checkpoint} holds attention around the first layer '
                     'and around the whole stack: not a graph Magenta made')
  place = places.pop() if places else None
  if place:
    missing = sorted(set(_ATTENTION_WEIGHTS.values())
                     - set(stack['attention']))
    wraps = {i for i, p in stack['wrapped'].items() if p == place}
    needs = set(layers) if place == STACK else {0}
    if wraps != needs:
      missing.append(
          f'{scope}/attention_cell_wrapper/multi_rnn_cell/cell_N/'
          'basic_lstm_cell for every layer' if place == STACK else
          f'{scope}/multi_rnn_cell/cell_0/attention_cell_wrapper/'
          'basic_lstm_cell')
    if missing:
      found = (stack['places'].get(place) or ['an LSTM inside it'])[0]
      raise UsageError(f'{checkpoint} holds {found} but not the whole of '
                       f'Magenta\'s attention wrapper: no {", ".join(missing)}')
  return ([(layers[i]['kernel'], layers[i]['bias'])
           for i in range(len(layers))], stack['attention'], place)


def _read_others(reader, others, mapping, checkpoint, imports):
  """{mapping[name]: tensor} of the tensors beside the LSTM stack
  (`others`: {canonical name: name in the checkpoint}) that `mapping`
  names; training bookkeeping is skipped.

  Raises:
    UsageError: a tensor neither mapped nor bookkeeping, naming what the
      import takes (`imports`).
  """
  found = {}
  for canonical, name in sorted(others.items(), key=lambda item: item[1]):
    if canonical in mapping:
      found[mapping[canonical]] = reader.get_tensor(name)
    elif not _IGNORED.search(name):
      raise UsageError(f'{checkpoint} holds {name}, which musicrnn cannot '
                       f'map: it imports {imports}')
  return found


def read_weights(checkpoint):
  """The weights of a Magenta event RNN checkpoint (Performance, Polyphony,
  Melody or Drums RNN: `events_rnn_graph`), as numpy arrays: {'layers':
  [(kernel, bias) per LSTM], 'attention': {AttentionLSTMCell weight:
  value} (empty without attention), 'attention_place': None, FIRST_LAYER or
  STACK, 'attention_names': the wrapper's tensors' names, 'output':
  (kernel, bias)}.

  Raises:
    UsageError: unreadable, a tensor this import does not map, or one
      missing.
  """
  reader = _reader(checkpoint)
  stack, others = _read_stack(reader, 'rnn')
  output = _read_others(
      reader, others, _OUTPUT, checkpoint,
      'the LSTM stack (rnn/multi_rnn_cell/cell_N/basic_lstm_cell, in 2017 '
      'RNN/MultiRNNCell/CellN/BasicLSTMCell), its attention wrapper and '
      'fully_connected of Magenta\'s Performance, Polyphony, Melody and Drums '
      'RNN, without layer norm or cuDNN cells')
  layers, attention, place = _check_stack(stack, checkpoint, 'rnn',
                                          'a Magenta event RNN')
  if set(output) != {'kernel', 'bias'}:
    raise UsageError(f'{checkpoint} lacks the output layer of a Magenta event '
                     'RNN (fully_connected/weights and biases)')
  return {'layers': layers, 'attention': attention, 'attention_place': place,
          'attention_names': [n for names in stack['places'].values()
                              for n in names],
          'output': (output['kernel'], output['bias'])}


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
  stack, others = _read_stack(reader, 'decoder')
  weights = _read_others(
      reader, others, _NADE_OTHER, checkpoint,
      'Magenta\'s Pianoroll RNN-NADE (decoder/multi_rnn_cell/cell_N/'
      'basic_lstm_cell, the first cell\'s attention_cell_wrapper, '
      'decoder/dense, nade/w_enc, nade/w_dec_t)')
  layers, attention, place = _check_stack(
      stack, checkpoint, 'decoder', 'a Magenta Pianoroll RNN-NADE')
  if place == STACK:
    raise UsageError(f'{checkpoint} wraps the whole stack in attention; '
                     'Magenta\'s RNN-NADE wraps the first layer')
  missing = sorted(set(_NADE_OTHER.values()) - set(weights))
  if missing:
    raise UsageError(
        f'{checkpoint} lacks weights of a Magenta Pianoroll RNN-NADE '
        '(decoder/dense/kernel, nade/w_enc, nade/w_dec_t): no '
        + ', '.join(missing))
  weights['layers'] = layers
  weights['attention'] = attention
  return weights


def _check_generator(generator_id):
  if generator_id not in GENERATOR_IDS:
    raise UsageError(
        f'Magenta generator {generator_id!r} cannot be imported; musicrnn '
        f'imports {", ".join(GENERATOR_IDS)}')


def config_name(generator_id):
  """The musicrnn config of a Magenta generator id (its own name, but
  `drum_kit_rnn` for Drums RNN's `drum_kit`).

  Raises:
    UsageError: an id musicrnn does not import.
  """
  _check_generator(generator_id)
  return _CONFIG_NAMES.get(generator_id, generator_id)


def config_for(generator_id, weights, hparams=''):
  """The musicrnn config of a Magenta generator id with `hparams` (what
  fine-tuning will use: batch size, learning rate, ...), made as its
  `weights` (`read_weights`): the layer sizes, and whether and where the
  attention wrapper sits; its window (`attn_length`, no tensor's shape) is
  the config's (Magenta's: attention_rnn 40, drum_kit 32) or `hparams`'.

  Raises:
    UsageError: attention weights for a config without attention, or
      without a window.
  """
  name = config_name(generator_id)
  config = configs.get_config(name)
  configs.apply_overrides(config, hparams=hparams)
  config.model.rnn_layer_sizes = tuple(int(k.shape[1]) // 4
                                       for k, _ in weights['layers'])
  place = weights['attention_place']
  if 'attn_length' not in config.model:
    if place:
      raise UsageError(
          f'the checkpoint holds {weights["attention_names"][0]}: Magenta\'s '
          f'attention, which musicrnn\'s {name} model has not')
    return config
  if not place:
    config.model.attn_length = 0   # trained with Magenta's attn_length=0
  elif not config.model.attn_length:
    raise UsageError(
        f'the checkpoint holds Magenta\'s attention, and config {name!r} has '
        'no attention window; its length is no tensor\'s shape: give the one '
        'it was trained with, --hparams=attn_length=N (Magenta\'s '
        'attention_rnn used 40, drum_kit 32)')
  else:
    config.model.attention = place
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


def _lstm_cells(model):
  """The model's Keras LSTM cells, lowest first: its layers' cells, or the
  cells inside an `AttentionLSTMCell` (`lstms`: the first layer's, or the
  whole stack's)."""
  return [lstm for rnn in model.rnn_layers
          for lstm in (rnn.cell.lstms if isinstance(
              rnn.cell, recurrent.AttentionLSTMCell) else [rnn.cell])]


def _set_stack(model, weights, gives, first_rows=None):
  """Puts Magenta's LSTM stack and attention wrapper (`weights`' 'layers'
  and 'attention') into the model's recurrent layers, a model built with
  its sizes and attention; returns the top layer's units.

  Checkpoint layer i goes to `_lstm_cells(model)[i]`; the wrapper's own
  weights to the first layer's `AttentionLSTMCell`.

  Args:
    gives: what the model's first layer reads, for the error when the
      checkpoint's first layer reads another width ('the model gives 88
      keys: ...').
    first_rows: a function from the first layer's input rows in Magenta's
      order to the model's (None: the same).

  Raises:
    UsageError: a shape that does not fit the model.
  """
  cells = _lstm_cells(model)
  units = None
  for i, ((kernel, bias), cell) in enumerate(zip(weights['layers'], cells)):
    units = kernel.shape[1] // 4
    inputs = kernel.shape[0] - units
    width = int(cell.kernel.shape[0])
    if inputs != width or bias.shape != (4 * units,):
      raise UsageError(
          f'cell_{i} of the checkpoint takes {inputs} inputs, '
          + (gives if i == 0 else f'the model gives the {width} units of '
             f'layer {i - 1}: the checkpoint is of other sizes'))
    rows = kernel[:inputs]
    if i == 0 and first_rows:
      rows = first_rows(rows)
    _set_lstm(cell, rows, kernel[inputs:], bias)
  if weights['attention']:
    cell = model.rnn_layers[0].cell
    for name, value in sorted(weights['attention'].items()):
      variable = getattr(cell, name)
      if name == 'attn_w':
        value = value.reshape(value.shape[-2:])
      _check_shape(f'attention weight {name}', value, variable.shape,
                   'the checkpoint is of other sizes')
      variable.assign(value)
  return units


def set_nade_weights(model, weights):
  """Puts a Magenta RNN-NADE's weights (`read_nade_weights`) into an
  `RnnNade` built with its sizes (see the module docstring).

  Raises:
    UsageError: a shape that does not fit the model.
  """
  keys, hidden = model.frame_size, model.nade_hidden_units
  previous = _set_stack(model, weights, f'the model gives {keys} keys: the '
                        'checkpoint is of another encoding')
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


def set_weights(model, weights, config, control_sizes=()):
  """Puts a Magenta event RNN's weights (`read_weights`) into the model of
  `config` built with their sizes and attention: an EventLSTM
  (Performance, Polyphony RNN) or an EventSequenceRNN (Melody, Drums RNN).

  Args:
    control_sizes: [(name, size)] of the controls in Magenta's input order
      (the event LSTM's).

  Raises:
    UsageError: a shape that does not fit the model.
  """
  width = int(_lstm_cells(model)[0].kernel.shape[0])
  controls = sum(size for _, size in control_sizes)
  # What the config's encoding gives the first layer, in the checkpoint's
  # terms (the first kernel's input rows).
  encoding = f'{config.encoding.name} encoding'
  if config.model.get('event_inputs', 'one_hot') != 'one_hot':
    encoding += f' ({config.model.event_inputs} vectors)'
  gives = (f'the config {config.name!r} gives {width} inputs'
           + (f' ({width - controls} of its {encoding}, {controls} '
              f'of control signals)' if controls else f' of its {encoding}')
           + ': the checkpoint is of another encoding or other controls '
           '(Magenta\'s "356 vs 388" error)')

  def first_rows(rows):
    # Magenta: [controls in its order, event]; ours: [event, sorted controls].
    parts, start = {}, 0
    for control, size in control_sizes:
      parts[control] = rows[start:start + size]
      start += size
    return np.concatenate([rows[controls:]] + [parts[control]
                                               for control in sorted(parts)])

  top = _set_stack(model, weights, gives, first_rows if controls else None)
  kernel, bias = weights['output']
  why = 'the checkpoint is of another encoding'
  _check_shape('fully_connected/weights', kernel, (top, model.logits.units),
               why)
  _check_shape('fully_connected/biases', bias, (model.logits.units,), why)
  model.logits.kernel.assign(kernel)
  model.logits.bias.assign(bias)


# --------------------------------------------------------------- MusicVAE

# Where Magenta's MusicVAE graph keeps each weight: `{layer}` is a layer's
# index, `{direction}` the encoder's fw or bw; a hierarchical decoder's
# core decoder sits under core_decoder/, its conductor (one level:
# Magenta's level_lengths of two) under decoder/hierarchical_level_0/,
# whose cells are called with that scope (no multi_rnn_cell/ part).
_VAE_ENCODER = ('encoder/cell_{layer}/bidirectional_rnn/{direction}/'
                'multi_rnn_cell/cell_0/lstm_cell')
_VAE_CONDUCTOR_SCOPE = 'decoder/hierarchical_level_0'
_VAE_PATTERNS = (
    ('encoder', re.compile(
        r'^encoder/cell_(?P<layer>\d+)/bidirectional_rnn/(?P<direction>fw|bw)/'
        r'multi_rnn_cell/cell_0/lstm_cell/(?P<kind>kernel|bias)$')),
    ('decoder', re.compile(
        r'^(?P<core>core_decoder/)?decoder/multi_rnn_cell/cell_(?P<layer>\d+)/'
        r'lstm_cell/(?P<kind>kernel|bias)$')),
    ('conductor', re.compile(
        rf'^{_VAE_CONDUCTOR_SCOPE}/cell_(?P<layer>\d+)/lstm_cell/'
        r'(?P<kind>kernel|bias)$')),
    ('mu', re.compile(r'^encoder/mu/(?P<kind>kernel|bias)$')),
    ('sigma', re.compile(r'^encoder/sigma/(?P<kind>kernel|bias)$')),
    ('z_to_initial_state', re.compile(
        r'^(?P<core>core_decoder/)?decoder/z_to_initial_state/'
        r'(?P<kind>kernel|bias)$')),
    ('output_projection', re.compile(
        r'^(?P<core>core_decoder/)?decoder/output_projection/'
        r'(?P<kind>kernel|bias)$')),
    ('conductor_initial_state', re.compile(
        rf'^{_VAE_CONDUCTOR_SCOPE}/initial_state/(?P<kind>kernel|bias)$')))
_VAE_STACKS = ('encoder', 'decoder', 'conductor')
_VAE_DENSE = ('mu', 'sigma', 'z_to_initial_state', 'output_projection',
              'conductor_initial_state')
_VAE_IMPORTS = (
    'Magenta\'s MusicVAE with a BidirectionalLstmEncoder (encoder/cell_N/'
    'bidirectional_rnn/fw|bw/multi_rnn_cell/cell_0/lstm_cell, encoder/mu, '
    'encoder/sigma) and a CategoricalLstmDecoder (decoder/multi_rnn_cell/'
    'cell_N/lstm_cell, decoder/z_to_initial_state, decoder/output_projection)'
    ', flat or under core_decoder/ with a one-level conductor (decoder/'
    'hierarchical_level_0/cell_N/lstm_cell and initial_state): no residual '
    'or cuDNN cells, hierarchical encoder, control preprocessing or '
    'multi-track decoders')


def vae_tensor_names(hierarchical):
  """{part: Magenta's name of its tensors, without /kernel or /bias} of a
  MusicVAE with a flat or hierarchical decoder; the LSTM stacks' names take
  `layer` (and the encoder's `direction`) to `str.format`."""
  core = 'core_decoder/' if hierarchical else ''
  return {
      'encoder': _VAE_ENCODER,
      'mu': 'encoder/mu', 'sigma': 'encoder/sigma',
      'decoder': core + 'decoder/multi_rnn_cell/cell_{layer}/lstm_cell',
      'z_to_initial_state': core + 'decoder/z_to_initial_state',
      'output_projection': core + 'decoder/output_projection',
      'conductor': _VAE_CONDUCTOR_SCOPE + '/cell_{layer}/lstm_cell',
      'conductor_initial_state': _VAE_CONDUCTOR_SCOPE + '/initial_state'}


def _vae_part(name):
  """(part, layer or None, direction or None, kind, under core_decoder/)
  of a MusicVAE tensor's name, or None."""
  for part, pattern in _VAE_PATTERNS:
    match = pattern.match(name)
    if match:
      groups = match.groupdict()
      layer = groups.get('layer')
      return (part, None if layer is None else int(layer),
              groups.get('direction'), groups['kind'], bool(groups.get('core')))
  return None


def read_music_vae_weights(checkpoint, reader=None):
  """The weights of a Magenta MusicVAE checkpoint, as numpy arrays:
  {'encoder': [{'fw': (kernel, bias), 'bw': (kernel, bias)} per
  bidirectional layer], 'mu', 'sigma', 'z_to_initial_state',
  'output_projection': (kernel, bias), 'decoder': [(kernel, bias) per
  layer], 'conductor': [(kernel, bias) per layer] (empty for a flat
  decoder), 'conductor_initial_state': (kernel, bias) or None, 'ignored':
  the names of the training bookkeeping beside them (Adam slots,
  beta1_power, global_step)}.

  Args:
    reader: what reads the tensors (anything with
      `get_variable_to_shape_map` and `get_tensor`); default the
      checkpoint's own.

  Raises:
    UsageError: unreadable, a tensor this import does not map, or one
      missing (each named).
  """
  reader = reader or _reader(checkpoint)
  found, ignored, unmapped = {}, [], []
  for name in sorted(reader.get_variable_to_shape_map()):
    part = _vae_part(name)
    if part:
      found[part[:4]] = (name, part[4])
    elif _IGNORED.search(name):
      ignored.append(name)
    else:
      unmapped.append(name)
  if unmapped:
    more = f' (and {len(unmapped) - 1} more)' if len(unmapped) > 1 else ''
    raise UsageError(f'{checkpoint} holds {unmapped[0]}{more}, which musicrnn '
                     f'cannot map: it imports {_VAE_IMPORTS}')
  # A conductor or a core_decoder/ scope: the hierarchical decoder's.
  hierarchical = any(part.startswith('conductor') or core
                     for (part, *_), (_, core) in found.items())
  for (part, *_), (name, core) in sorted(found.items(), key=lambda i: i[1]):
    if part in ('decoder', 'z_to_initial_state', 'output_projection') and (
        core != hierarchical):
      raise UsageError(
          f'{checkpoint} holds {name}, a flat decoder\'s, beside the tensors '
          'of a hierarchical one (core_decoder/, decoder/hierarchical_level_0/)'
          ': not a graph Magenta made')
  names = vae_tensor_names(hierarchical)
  expected = []
  for part in _VAE_STACKS:
    if part == 'conductor' and not hierarchical:
      continue
    layers = 1 + max([layer for p, layer, *_ in found if p == part],
                     default=0)
    for layer in range(layers):
      for direction in (('fw', 'bw') if part == 'encoder' else (None,)):
        for kind in ('kernel', 'bias'):
          expected.append(((part, layer, direction, kind),
                           names[part].format(layer=layer, direction=direction)
                           + '/' + kind))
  for part in _VAE_DENSE:
    if part != 'conductor_initial_state' or hierarchical:
      expected += [((part, None, None, kind), f'{names[part]}/{kind}')
                   for kind in ('kernel', 'bias')]
  missing = [name for key, name in expected if key not in found]
  if missing:
    more = f' (and {len(missing) - 3} more)' if len(missing) > 3 else ''
    raise UsageError(
        f'{checkpoint} lacks tensors of Magenta\'s MusicVAE with a '
        f'{"hierarchical" if hierarchical else "flat"} decoder: '
        f'{", ".join(missing[:3])}{more}')

  def pair(part, layer=None, direction=None):
    return tuple(reader.get_tensor(found[(part, layer, direction, kind)][0])
                 for kind in ('kernel', 'bias'))

  def stack(part):
    return sorted({layer for p, layer, *_ in found if p == part})

  weights = {part: pair(part) for part in _VAE_DENSE
             if part != 'conductor_initial_state' or hierarchical}
  weights.setdefault('conductor_initial_state', None)
  weights['encoder'] = [{direction: pair('encoder', layer, direction)
                         for direction in ('fw', 'bw')}
                        for layer in stack('encoder')]
  weights['decoder'] = [pair('decoder', layer) for layer in stack('decoder')]
  weights['conductor'] = [pair('conductor', layer)
                          for layer in stack('conductor')]
  weights['ignored'] = ignored
  return weights


def _units(layers):
  return tuple(int(kernel.shape[1]) // 4 for kernel, _ in layers)


def music_vae_config_for(generator_id, weights, hparams=''):
  """The musicrnn config of a Magenta MusicVAE id with `hparams`, sized as
  its `weights` (`read_music_vae_weights`): z_size from encoder/mu, the
  encoder's and decoder's layer sizes from their kernels; the
  hierarchical decoder's level lengths (no tensor's shape) are the
  config's.

  Raises:
    UsageError: a flat decoder for a hierarchical config or the reverse, or
      a conductor of other sizes than the decoder (Magenta's dec_rnn_size
      sizes both).
  """
  _check_generator(generator_id)
  config = configs.get_config(generator_id)
  configs.apply_overrides(config, hparams=hparams)
  hierarchical = bool(weights['conductor'])
  if hierarchical != (config.model.decoder == 'hierarchical'):
    flat = [i for i in VAE_GENERATOR_IDS
            if configs.get_config(i).model.decoder != 'hierarchical']
    hier = [i for i in VAE_GENERATOR_IDS if i not in flat]
    raise UsageError(
        f'the checkpoint holds a {"hierarchical" if hierarchical else "flat"}'
        f' decoder ({"with" if hierarchical else "without"} '
        f'{_VAE_CONDUCTOR_SCOPE}/), and config {generator_id!r} a '
        f'{config.model.decoder} one: import it as one of '
        + ', '.join(hier if hierarchical else flat))
  config.model.z_size = int(weights['mu'][0].shape[1])
  config.model.enc_rnn_size = _units([layer['fw']
                                      for layer in weights['encoder']])
  config.model.dec_rnn_size = _units(weights['decoder'])
  if hierarchical and _units(weights['conductor']) != _units(
      weights['decoder']):
    raise UsageError(
        f'the checkpoint\'s conductor has layers of '
        f'{list(_units(weights["conductor"]))} units and its decoder of '
        f'{list(_units(weights["decoder"]))}: musicrnn\'s hierarchical decoder '
        'sizes both as the decoder (Magenta\'s dec_rnn_size)')
  return config


def _set_vae_lstm(cell, weights, name, gives):
  """Magenta's LSTMBlockCell (`weights`: kernel [inputs + units, 4 units],
  bias [4 units]; gates i, j, f, o; forget bias 1.0 added when it runs,
  no peepholes or cell clipping) into a Keras LSTM cell.

  Raises:
    UsageError: an input width or size other than the cell's, naming the
      tensor and what the model gives it (`gives`).
  """
  kernel, bias = weights
  units = int(cell.recurrent_kernel.shape[0])
  width = int(cell.kernel.shape[0])
  inputs = int(kernel.shape[0]) - int(kernel.shape[1]) // 4
  if tuple(kernel.shape) != (width + units, 4 * units):
    raise UsageError(f'{name}/kernel is {list(kernel.shape)}: {inputs} inputs '
                     f'of {int(kernel.shape[1]) // 4} units; the model gives '
                     f'{width} ({gives}) to {units} units')
  _check_shape(f'{name}/bias', bias, (4 * units,), 'the checkpoint is of '
               'other sizes')
  _set_lstm(cell, kernel[:width], kernel[width:], bias)


def _set_dense(layer, weights, name, why):
  kernel, bias = weights
  _check_shape(f'{name}/kernel', kernel, layer.kernel.shape, why)
  _check_shape(f'{name}/bias', bias, layer.bias.shape, why)
  layer.kernel.assign(kernel)
  layer.bias.assign(bias)


def set_music_vae_weights(model, weights, config):
  """Puts a Magenta MusicVAE's weights (`read_music_vae_weights`) into the
  `MusicVAE` of `config`, built with their sizes (see the module
  docstring).

  Raises:
    UsageError: a shape that does not fit the model (the encoding's
      vocabulary is not the checkpoint's), naming the tensor.
  """
  hierarchical = bool(weights['conductor'])
  names = vae_tensor_names(hierarchical)
  width = int(model.encoder_layers[0].forward_layer.cell.kernel.shape[0])
  vocabulary = (f'{config.encoding.name} encoding\'s {model.vocab_size} ids'
                f', config {config.name!r}')
  reads = (f'the one-hot of its {vocabulary}' if model.roll_bits == 0 else
           f'{width - 1} drum bits and a "no drum" bit of its {vocabulary}')
  unfit = 'its tensors\' sizes do not fit together: not a graph Magenta made'
  for i, (layer, keras_layer) in enumerate(zip(weights['encoder'],
                                              model.encoder_layers)):
    below = (reads if i == 0 else
             f'both directions of encoder layer {i - 1}')
    for direction, cell in (('fw', keras_layer.forward_layer.cell),
                            ('bw', keras_layer.backward_layer.cell)):
      _set_vae_lstm(cell, layer[direction],
                    names['encoder'].format(layer=i, direction=direction),
                    below)
  _set_dense(model.mu, weights['mu'], names['mu'], unfit)
  _set_dense(model.sigma, weights['sigma'], names['sigma'], unfit)
  conditioning = ('the conductor\'s output' if hierarchical else 'z')
  for i, (layer, keras_layer) in enumerate(zip(weights['decoder'],
                                              model.decoder_layers)):
    below = (f'the one-hot of its {vocabulary}, then {conditioning}' if i == 0
             else f'decoder layer {i - 1}')
    _set_vae_lstm(keras_layer.cell, layer,
                  names['decoder'].format(layer=i), below)
  _set_dense(model.z_to_initial_state, weights['z_to_initial_state'],
             names['z_to_initial_state'], unfit)
  _set_dense(model.output_projection, weights['output_projection'],
             names['output_projection'],
             f'the checkpoint is of another encoding than the {vocabulary}')
  for i, (layer, keras_layer) in enumerate(zip(weights['conductor'],
                                              model.conductor_layers)):
    below = ('a zero: Magenta\'s disable_autoregression=True, which all its '
             'hierarchical configs use' if i == 0 else
             f'conductor layer {i - 1}')
    _set_vae_lstm(keras_layer.cell, layer,
                  names['conductor'].format(layer=i), below)
  if hierarchical:
    _set_dense(model.conductor_initial_state,
               weights['conductor_initial_state'],
               names['conductor_initial_state'], unfit)


def import_checkpoint(checkpoint, generator_id, run_dir, source=None, hparams=''):
  """Writes a musicrnn run of a Magenta checkpoint; returns `run_dir`.

  Args:
    checkpoint: a TF1 checkpoint (V1 file or V2 prefix) of Magenta's event
      RNN graph, Pianoroll RNN-NADE graph or MusicVAE, or a training run's
      folder (`checkpoint_path`).
    generator_id: the Magenta config it was trained with (`GENERATOR_IDS`).
    run_dir: the new run's folder (must not hold a run yet).
    source: what to record as its origin (default: `checkpoint`).
    hparams: overrides of the config for fine-tuning (`musicrnn_train` on the
      run takes the same config and overrides); the layer sizes (and
      MusicVAE's z_size) and the attention's place are the checkpoint's
      whatever they say.

  Raises:
    UsageError: an unknown config, weights that do not fit it, or a
      `run_dir` that already holds a run.
  """
  name = config_name(generator_id)
  checkpoint = checkpoint_path(checkpoint)
  nade = generator_id in NADE_GENERATOR_IDS
  vae = generator_id in VAE_GENERATOR_IDS
  if vae:
    weights = read_music_vae_weights(checkpoint)
    config = music_vae_config_for(generator_id, weights, hparams)
  elif nade:
    weights = read_nade_weights(checkpoint)
    config = nade_config_for(generator_id, weights, hparams)
  else:
    weights = read_weights(checkpoint)
    config = config_for(generator_id, weights, hparams)
  if tf.io.gfile.exists(os.path.join(run_dir, run_dir_lib.CONFIG_JSON)):
    raise UsageError(f'{run_dir} already holds a run; choose a new --run_dir')
  codec = encodings.codec_from_config(config)
  controls = encodings.controls_from_config(config)
  model = models.build_model(config, codec, controls)
  if vae:
    set_music_vae_weights(model, weights, config)
  elif nade:
    set_nade_weights(model, weights)
  else:
    # Magenta's control order is its config's: note density, then pitch.
    set_weights(model, weights, config,
                [(control, c.size) for control, c in controls])
  step = tf.Variable(0, dtype=tf.int64, name='step', trainable=False)
  objective = tasks.for_config(config).objective(
      model, config, tf.distribute.get_strategy())
  run_dir_lib.prepare(run_dir, config, codec.spec(),
                      {'config_name': name,
                       'input': f'magenta:{source or checkpoint}'})
  checkpoint_ = tf.train.Checkpoint(model=model, step=step, **objective.optimizers)
  tf.train.CheckpointManager(checkpoint_, run_dir_lib.checkpoint_dir(run_dir),
                             max_to_keep=5).save(checkpoint_number=0)
  if vae:
    sizes = config.model
    logging.info(
        'musicrnn import: Magenta %s (%s) -> %s: z %d, encoder %s per '
        'direction, %s decoder %s', generator_id, source or checkpoint,
        run_dir, sizes.z_size, list(sizes.enc_rnn_size), sizes.decoder,
        list(sizes.dec_rnn_size))
    return run_dir
  layers = weights['layers']
  attention = config.model.get('attn_length', 0) and weights['attention']
  logging.info('musicrnn import: Magenta %s (%s) -> %s: layers %s, %d inputs%s',
               generator_id, source or checkpoint, run_dir,
               list(config.model.rnn_layer_sizes),
               int(layers[0][0].shape[0] - layers[0][0].shape[1] // 4),
               f', attention over {config.model.attn_length} steps '
               f'({config.model.get("attention", FIRST_LAYER)})'
               if attention else '')
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
