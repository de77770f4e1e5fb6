"""Event LSTM: Performance RNN and Polyphony RNN (Keras 3).

ids in, logits out, no file I/O. The input at each step is the event (one-hot
or embedded) concatenated with the control signals of the config, if any;
a stack of LSTM (or GRU, or plain RNN) layers; a dense layer to logits over
the codec's vocabulary.

  model = EventLSTM(vocab_size=388, rnn_layer_sizes=(512, 512, 512),
                    control_sizes={name: control.size
                                   for name, control in controls})
  logits = model({'tokens': ids, **control_inputs})
  # ids: int32 [batch, time]; a control's input: int32 [batch, time] classes
  # or float32 [batch, time, size] vectors (`musicrnn.encodings.controls`)
  # logits: float32 [batch, time, vocab_size]

  states = model.initial_state(batch_size)
  logits_t, states = model.step({'tokens': ids_t, ...}, states)
  # ids_t: int32 [batch]; logits_t: [batch, vocab_size]

The recurrent layers keep Keras' defaults (tanh, sigmoid, no recurrent
dropout, not unrolled), so on a GPU they run the cuDNN kernel.
"""

import keras
from keras import ops

from musicrnn.models import inputs as inputs_lib

# cell -> its Keras layer: LSTM, GRU, or a plain (Elman) RNN with tanh.
CELLS = {'lstm': keras.layers.LSTM, 'gru': keras.layers.GRU,
         'rnn': keras.layers.SimpleRNN}


@keras.saving.register_keras_serializable('musicrnn')
class EventLSTM(keras.Model):
  """A stack of recurrent layers over events (see the module docstring).

  Args:
    vocab_size: number of event ids.
    rnn_layer_sizes: units per recurrent layer.
    cell: 'lstm', 'gru' or 'rnn' (a plain tanh RNN).
    dropout_rate: dropout between layers and before the output, in training.
    embedding_size: 0 feeds one-hot events (as Magenta); > 0 learns an
      embedding of this size.
    control_sizes: {control name: size} (`Control.size`: classes or vector
      width); empty for an unconditioned model.
  """

  def __init__(self, vocab_size, rnn_layer_sizes=(512, 512, 512), cell='lstm',
               dropout_rate=0.0, embedding_size=0, control_sizes=None,
               **kwargs):
    super().__init__(**kwargs)
    if cell not in CELLS:
      raise ValueError(f'cell must be one of {tuple(CELLS)}, got {cell!r}')
    if not rnn_layer_sizes:
      raise ValueError('rnn_layer_sizes must name at least one layer')
    self.vocab_size = int(vocab_size)
    self.rnn_layer_sizes = tuple(int(u) for u in rnn_layer_sizes)
    self.cell = cell
    self.dropout_rate = float(dropout_rate)
    self.embedding_size = int(embedding_size)
    self.control_sizes = dict(sorted((control_sizes or {}).items()))
    self.embedding = (keras.layers.Embedding(vocab_size, embedding_size,
                                             name='embedding')
                      if embedding_size else None)
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
    self.logits = keras.layers.Dense(vocab_size, dtype='float32',
                                     name='logits')

  @property
  def states_per_layer(self):
    return 2 if self.cell == 'lstm' else 1

  def _features(self, inputs):
    """[batch, time, features]: the event and the controls, concatenated."""
    tokens = ops.cast(inputs['tokens'], 'int32')
    if self.embedding is not None:
      x = self.embedding(tokens)
    else:
      x = ops.one_hot(tokens, self.vocab_size)
    parts = [x] + inputs_lib.control_parts(inputs, self.control_sizes, x.dtype)
    return ops.concatenate(parts, axis=-1) if len(parts) > 1 else x

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

  # What the constructor takes from the data, and a batch that builds it.
  data_arguments = staticmethod(inputs_lib.data_arguments)

  @staticmethod
  def example_inputs(controls):
    return inputs_lib.example_inputs(controls)

  def call(self, inputs, training=False):
    """Logits [batch, time, vocab_size] for a dict of [batch, time] inputs."""
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

  # The survivors of a beam search: every state gathered.
  reorder_states = staticmethod(inputs_lib.reorder_states)

  def step(self, inputs, states):
    """One event: inputs of shape [batch] (controls [batch, size]) -> logits
    [batch, vocab_size] and the next states; equals `call` step by step."""
    logits, new_states = self._run(
        self._features(inputs_lib.as_one_step(inputs)), states, False)
    return logits[:, 0], new_states

  def get_config(self):
    config = super().get_config()
    config.update(vocab_size=self.vocab_size,
                  rnn_layer_sizes=list(self.rnn_layer_sizes), cell=self.cell,
                  dropout_rate=self.dropout_rate,
                  embedding_size=self.embedding_size,
                  control_sizes=self.control_sizes)
    return config
