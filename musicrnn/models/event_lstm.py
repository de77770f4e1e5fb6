"""Event LSTM: Performance RNN and Polyphony RNN (Keras 3).

ids in, logits out, no file I/O. The input at each step is the event (one-hot,
embedded, or a fixed vector of the encoding's, `Codec.input_vectors`: the
modulo encoding of Magenta's `performance_with_dynamics_and_modulo_encoding`)
concatenated with the control signals of the config, if any;
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
import numpy as np

from musicrnn import encodings
from musicrnn.models import inputs as inputs_lib
from musicrnn.models import protocols
from musicrnn.models import recurrent


# The event as a one-hot vector (or embedded, with `embedding_size`).
ONE_HOT = 'one_hot'


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
    event_inputs: 'one_hot' (with `embedding_size` 0: Magenta's) or a kind
      of the encoding's `input_vectors` ('modulo' for performance events).
    encoding: the codec's spec (`Codec.spec`), which gives those vectors.
  """

  def __init__(self, vocab_size, rnn_layer_sizes=(512, 512, 512), cell='lstm',
               dropout_rate=0.0, embedding_size=0, control_sizes=None,
               event_inputs=ONE_HOT, encoding=None, **kwargs):
    super().__init__(**kwargs)
    self.vocab_size = int(vocab_size)
    self.embedding_size = int(embedding_size)
    self.control_sizes = dict(sorted((control_sizes or {}).items()))
    self.event_inputs = event_inputs
    self.encoding = encoding
    self.embedding = (keras.layers.Embedding(vocab_size, embedding_size,
                                             name='embedding')
                      if embedding_size else None)
    self.input_vectors = None
    if event_inputs != ONE_HOT:
      if embedding_size:
        raise ValueError(f'event_inputs={event_inputs!r} reads fixed vectors: '
                         'it takes no embedding (embedding_size=0)')
      if encoding is None:
        raise ValueError(f'event_inputs={event_inputs!r} needs the encoding '
                         'whose vectors it reads')
      vectors = encodings.codec.codec_from_spec(encoding).input_vectors(
          event_inputs)
      if vectors.shape[0] != self.vocab_size:
        raise ValueError(f'the {event_inputs} vectors cover {vectors.shape[0]}'
                         f' ids, the vocabulary {self.vocab_size}')
      self.input_vectors = np.asarray(vectors, np.float32)
    self._build_stack(rnn_layer_sizes, cell, dropout_rate, self.vocab_size)

  def _features(self, inputs):
    """[batch, time, features]: the event and the controls, concatenated."""
    tokens = ops.cast(inputs['tokens'], 'int32')
    if self.embedding is not None:
      x = self.embedding(tokens)
    elif self.input_vectors is not None:
      x = ops.take(ops.convert_to_tensor(self.input_vectors), tokens, axis=0)
    else:
      x = ops.one_hot(tokens, self.vocab_size)
    parts = [x] + inputs_lib.control_parts(inputs, self.control_sizes, x.dtype)
    return ops.concatenate(parts, axis=-1) if len(parts) > 1 else x

  @staticmethod
  def data_arguments(codec, controls):
    """The shared event arguments (`inputs.data_arguments`) and the codec's
    spec, for `event_inputs` other than one-hot."""
    return {**inputs_lib.data_arguments(codec, controls),
            'encoding': codec.spec()}

  def example_inputs(self, controls):
    """A batch of one, two steps long."""
    return inputs_lib.example_inputs(controls)

  def get_config(self):
    config = super().get_config()
    config.update(vocab_size=self.vocab_size, **self._stack_config(),
                  embedding_size=self.embedding_size,
                  control_sizes=self.control_sizes)
    if self.input_vectors is not None:
      # A one-hot model's config stays as before (and its encoding's spec,
      # which may hold a learned vocabulary, out of it).
      config.update(event_inputs=self.event_inputs, encoding=self.encoding)
    return config
