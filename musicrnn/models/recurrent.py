"""The recurrent stack the LSTM families share (event, note and piano-roll
LSTM): a stack of LSTM, GRU or plain RNN layers with dropout between them and
a dense layer to float32 logits, and the cached step over it.

A family mixes `RecurrentStack` into its protocol (`musicrnn.models.protocols`)
and defines `_features(inputs)`, the [batch, time, features] its layers read:

  class EventLSTM(recurrent.RecurrentStack, protocols.NextTokenModel):
    def __init__(self, vocab_size, rnn_layer_sizes, cell, dropout_rate, ...):
      super().__init__(...)
      self._build_stack(rnn_layer_sizes, cell, dropout_rate, vocab_size)

The recurrent layers keep Keras' defaults (tanh, sigmoid, no recurrent
dropout, not unrolled), so on a GPU they run the cuDNN kernel. A family may
make a layer of its own (`_make_rnn_layer`, with its states' widths in
`_state_sizes`): the RNN-NADE's first layer with attention is an
`AttentionLSTMCell` in a Keras RNN layer.
"""

import keras
from keras import ops

from musicrnn.models import inputs as inputs_lib

# cell -> its Keras layer: LSTM, GRU, or a plain (Elman) RNN with tanh.
CELLS = {'lstm': keras.layers.LSTM, 'gru': keras.layers.GRU,
         'rnn': keras.layers.SimpleRNN}


class RecurrentStack:
  """The layers, forward pass and cached step of a recurrent family (a
  mixin: the family's protocol is its Keras model)."""

  def _build_stack(self, rnn_layer_sizes, cell, dropout_rate, output_size):
    """Makes the layers: `rnn_layer_sizes` units per layer of `cell`
    ('lstm', 'gru' or 'rnn'), dropout `dropout_rate` between layers and
    before the output, and `output_size` logits per step."""
    if cell not in CELLS:
      raise ValueError(f'cell must be one of {tuple(CELLS)}, got {cell!r}')
    if not rnn_layer_sizes:
      raise ValueError('rnn_layer_sizes must name at least one layer')
    self.rnn_layer_sizes = tuple(int(u) for u in rnn_layer_sizes)
    self.cell = cell
    self.dropout_rate = float(dropout_rate)
    self.rnn_layers = self._make_rnn_layers()
    # tf.train.Checkpoint follows attributes, not Keras' tracked lists: name
    # each layer so checkpoints hold every weight.
    for i, rnn in enumerate(self.rnn_layers):
      setattr(self, f'rnn_{i}', rnn)
    self.dropout = keras.layers.Dropout(dropout_rate)
    # float32 logits (and loss) under a mixed-precision policy.
    self.logits = keras.layers.Dense(output_size, dtype='float32',
                                     name='logits')

  def _make_rnn_layers(self):
    """The stack's Keras recurrent layers, lowest first: by default one per
    entry of `rnn_layer_sizes` (`_make_rnn_layer`); a family whose layers
    share one cell (an attention wrapper around several) makes fewer."""
    return [self._make_rnn_layer(i, units)
            for i, units in enumerate(self.rnn_layer_sizes)]

  def _make_rnn_layer(self, index, units):
    """Layer `index` of the stack, `units` wide: a Keras recurrent layer
    returning its sequence and its states (a family may override this, and
    then `_state_sizes`)."""
    return CELLS[self.cell](units, return_sequences=True, return_state=True,
                            name=f'{self.cell}_{index}')

  def _state_sizes(self, index):
    """The widths of layer `index`'s states, in the order its layer takes
    and returns them (h, c for an LSTM; h for a GRU or plain RNN): its
    cell's `state_size`."""
    sizes = self.rnn_layers[index].cell.state_size
    return [int(s) for s in sizes] if isinstance(sizes, (list, tuple)) else [
        int(sizes)]

  def _stack_config(self):
    """The stack's constructor arguments, for `get_config`."""
    return {'rnn_layer_sizes': list(self.rnn_layer_sizes), 'cell': self.cell,
            'dropout_rate': self.dropout_rate}

  def _output(self, hidden, features, training):
    """The logits of the top layer's output `hidden` (a family may add to
    them from its input `features`)."""
    del features, training
    return self.logits(hidden)

  def _run(self, x, states, training):
    features = x
    new_states = []
    start = 0
    for i, layer in enumerate(self.rnn_layers):
      initial = None
      if states is not None:
        end = start + len(self._state_sizes(i))
        initial = list(states[start:end])
        start = end
      x, *layer_states = layer(x, initial_state=initial, training=training)
      new_states.extend(layer_states)
      x = self.dropout(x, training=training)
    return self._output(x, features, training), new_states

  def call(self, inputs, training=False):
    """Logits [batch, time, outputs] for a dict of [batch, time, ...] inputs."""
    logits, _ = self._run(self._features(inputs), None, training)
    return logits

  def initial_state(self, batch_size, max_length=None):  # pylint: disable=unused-argument
    """Zero states: a list of [batch, width] tensors, per layer those of
    `_state_sizes` ([batch, units] h, c for an LSTM; h for a GRU or plain
    RNN).

    `max_length` (the longest sequence to be generated) is part of the step
    interface every family shares; a recurrent state does not need it.
    """
    states = []
    for i in range(len(self.rnn_layers)):
      states.extend(ops.zeros((batch_size, size)) for size in self._state_sizes(i))
    return states

  def reorder_states(self, states, indices):
    """The survivors of a beam search: every state gathered."""
    return inputs_lib.reorder_states(states, indices)

  def step(self, inputs, states):
    """One step: inputs of shape [batch] (vectors [batch, size]) -> logits
    [batch, outputs] and the next states; equals `call` step by step."""
    logits, new_states = self._run(
        self._features(inputs_lib.as_one_step(inputs)), states, False)
    return logits[:, 0], new_states


@keras.saving.register_keras_serializable('musicrnn')
class AttentionLSTMCell(keras.layers.Layer):
  """LSTM cells that attend over their own last `attn_length` outputs: the
  cell of Magenta's attention models (TF1 contrib's `AttentionCellWrapper`
  around a `BasicLSTMCell`, or around a `MultiRNNCell` of them, after Cheng
  et al. 2016), computed as that wrapper computes it, so that Magenta's
  weights give Magenta's outputs. Wrap it in `keras.layers.RNN`.

  Its states are h_l, c_l [batch, units_l] of each LSTM layer l (one layer
  unless `layer_sizes` names more), the last attention read `a` [batch,
  units] and the window of the last outputs [batch, attn_length * units]
  (oldest first, zeros at the start); `units` is the top layer's. One step,
  for an input x [batch, inputs]:

    x'      = [x; a] @ input_kernel + input_bias          [batch, inputs]
    out, (h_l', c_l') = the LSTM layers on x', one after the other
    score_k = attn_v . tanh(window_k @ attn_w + [c_0'; h_0'; c_1'; h_1' ...]
                            @ query_kernel + query_bias)  for each k
    a'      = sum_k softmax(score)_k window_k
    y       = [out; a'] @ output_kernel + output_bias     (the output)
    window' = the window's last attn_length - 1 outputs, then y

  Magenta wraps its first layer since 2018 (`rnn/multi_rnn_cell/cell_0/
  attention_cell_wrapper/`: one layer here, the others plain layers after
  it); its 2017 graphs wrapped the whole stack (`RNN/AttentionCellWrapper/
  MultiRNNCell/`: every layer here, `layer_sizes`).

  Args:
    units: the top LSTM layer's units, and the width of the output and
      attention.
    attn_length: outputs in the attention window.
    layer_sizes: the units of each LSTM layer inside the wrapper, the last
      `units`; None: one layer of `units`.
  """

  def __init__(self, units, attn_length, layer_sizes=None, **kwargs):
    super().__init__(**kwargs)
    self.units = int(units)
    self.attn_length = int(attn_length)
    self.layer_sizes = tuple(int(u) for u in (layer_sizes or (units,)))
    if self.attn_length < 1:
      raise ValueError(f'attn_length must be at least 1, got {attn_length}')
    if self.layer_sizes[-1] != self.units:
      raise ValueError(f'the top layer of {self.layer_sizes} must have the '
                       f'{self.units} units of the attention')
    self.state_size = [size for units in self.layer_sizes
                       for size in (units, units)] + [
                           self.units, self.attn_length * self.units]
    self.output_size = self.units
    # Layer 0's attribute keeps the name it had when the cell had one layer,
    # so checkpoints written then still load.
    self.lstms = [keras.layers.LSTMCell(units, name='lstm' if not i else
                                        f'lstm_{i}')
                  for i, units in enumerate(self.layer_sizes)]
    self.lstm = self.lstms[0]
    for i, lstm in enumerate(self.lstms[1:], 1):
      setattr(self, f'lstm_{i}', lstm)

  def build(self, input_shape):
    inputs, units = int(input_shape[-1]), self.units

    def weight(name, shape, initializer='glorot_uniform'):
      return self.add_weight(shape=shape, initializer=initializer, name=name)

    self.input_kernel = weight('input_kernel', (inputs + units, inputs))
    self.input_bias = weight('input_bias', (inputs,), 'zeros')
    width = inputs
    for lstm, size in zip(self.lstms, self.layer_sizes):
      lstm.build((None, width))
      width = size
    self.query_kernel = weight('query_kernel', (2 * sum(self.layer_sizes), units))
    self.query_bias = weight('query_bias', (units,), 'zeros')
    self.attn_w = weight('attn_w', (units, units))
    self.attn_v = weight('attn_v', (units,))
    self.output_kernel = weight('output_kernel', (2 * units, units))
    self.output_bias = weight('output_bias', (units,), 'zeros')
    super().build(input_shape)

  def call(self, inputs, states, training=False):
    *lstm_states, attention, window = states
    window = ops.reshape(window, (-1, self.attn_length, self.units))
    out = ops.matmul(ops.concatenate([inputs, attention], axis=-1),
                     self.input_kernel) + self.input_bias
    new_states, query = [], []
    for i, lstm in enumerate(self.lstms):
      out, (h, c) = lstm(out, lstm_states[2 * i:2 * i + 2], training=training)
      new_states += [h, c]
      query += [c, h]   # TF1 flattens each layer's state tuple (c, h)
    query = ops.matmul(ops.concatenate(query, axis=-1),
                       self.query_kernel) + self.query_bias
    scores = ops.sum(self.attn_v * ops.tanh(
        ops.matmul(window, self.attn_w) + query[:, None, :]), axis=-1)
    attention = ops.sum(ops.softmax(scores, axis=-1)[..., None] * window,
                        axis=1)
    output = ops.matmul(ops.concatenate([out, attention], axis=-1),
                        self.output_kernel) + self.output_bias
    window = ops.concatenate([window[:, 1:], output[:, None]], axis=1)
    return output, new_states + [
        attention, ops.reshape(window, (-1, self.attn_length * self.units))]

  def get_config(self):
    config = super().get_config()
    config.update(units=self.units, attn_length=self.attn_length,
                  layer_sizes=list(self.layer_sizes))
    return config
