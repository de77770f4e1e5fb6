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
dropout, not unrolled), so on a GPU they run the cuDNN kernel.
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
    layer = CELLS[cell]
    self.rnn_layers = [
        layer(units, return_sequences=True, return_state=True,
              name=f'{cell}_{i}')
        for i, units in enumerate(self.rnn_layer_sizes)]
    # tf.train.Checkpoint follows attributes, not Keras' tracked lists: name
    # each layer so checkpoints hold every weight.
    for i, rnn in enumerate(self.rnn_layers):
      setattr(self, f'rnn_{i}', rnn)
    self.dropout = keras.layers.Dropout(dropout_rate)
    # float32 logits (and loss) under a mixed-precision policy.
    self.logits = keras.layers.Dense(output_size, dtype='float32',
                                     name='logits')

  def _stack_config(self):
    """The stack's constructor arguments, for `get_config`."""
    return {'rnn_layer_sizes': list(self.rnn_layer_sizes), 'cell': self.cell,
            'dropout_rate': self.dropout_rate}

  @property
  def states_per_layer(self):
    return 2 if self.cell == 'lstm' else 1

  def _run(self, x, states, training):
    new_states = []
    for i, layer in enumerate(self.rnn_layers):
      initial = None
      if states is not None:
        k = self.states_per_layer
        initial = list(states[i * k:(i + 1) * k])
      x, *layer_states = layer(x, initial_state=initial, training=training)
      new_states.extend(layer_states)
      x = self.dropout(x, training=training)
    return self.logits(x), new_states

  def call(self, inputs, training=False):
    """Logits [batch, time, outputs] for a dict of [batch, time, ...] inputs."""
    logits, _ = self._run(self._features(inputs), None, training)
    return logits

  def initial_state(self, batch_size, max_length=None):  # pylint: disable=unused-argument
    """Zero states: a list of [batch, units] tensors, per layer (h, c for
    an LSTM; h for a GRU or plain RNN).

    `max_length` (the longest sequence to be generated) is part of the step
    interface every family shares; a recurrent state does not need it.
    """
    states = []
    for units in self.rnn_layer_sizes:
      states.extend([ops.zeros((batch_size, units))] * self.states_per_layer)
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
