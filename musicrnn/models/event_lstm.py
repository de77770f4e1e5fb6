"""Event LSTM: Performance RNN and Polyphony RNN (Keras 3).

ids in, logits out, no file I/O. The input at each step is the event (one-hot
or embedded) concatenated with the control signals of the config, if any;
a stack of LSTM (or GRU, or plain RNN) layers (`models.recurrent`); a dense
layer to logits over the codec's vocabulary.

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
"""

import keras
from keras import ops

from musicrnn.models import inputs as inputs_lib
from musicrnn.models import protocols
from musicrnn.models import recurrent


@keras.saving.register_keras_serializable('musicrnn')
class EventLSTM(recurrent.RecurrentStack, protocols.NextTokenModel):
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
    self.vocab_size = int(vocab_size)
    self.embedding_size = int(embedding_size)
    self.control_sizes = dict(sorted((control_sizes or {}).items()))
    self.embedding = (keras.layers.Embedding(vocab_size, embedding_size,
                                             name='embedding')
                      if embedding_size else None)
    self._build_stack(rnn_layer_sizes, cell, dropout_rate, self.vocab_size)

  def _features(self, inputs):
    """[batch, time, features]: the event and the controls, concatenated."""
    tokens = ops.cast(inputs['tokens'], 'int32')
    if self.embedding is not None:
      x = self.embedding(tokens)
    else:
      x = ops.one_hot(tokens, self.vocab_size)
    parts = [x] + inputs_lib.control_parts(inputs, self.control_sizes, x.dtype)
    return ops.concatenate(parts, axis=-1) if len(parts) > 1 else x

  # What the constructor takes from the data.
  data_arguments = staticmethod(inputs_lib.data_arguments)

  def example_inputs(self, controls):
    """A batch of one, two steps long."""
    return inputs_lib.example_inputs(controls)

  def get_config(self):
    config = super().get_config()
    config.update(vocab_size=self.vocab_size, **self._stack_config(),
                  embedding_size=self.embedding_size,
                  control_sizes=self.control_sizes)
    return config
