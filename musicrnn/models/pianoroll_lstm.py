"""Piano-roll LSTM: frames in, a sigmoid per bit of the next frame out.

The event LSTM's stack (and its step interface) over frame rolls
(`musicrnn.encodings.frames`): each step's input is the frame's onset and
held bits as floats, its output one logit per bit of the next frame. The
bits are independent given the past (a multi-label output), so the loss is
binary cross-entropy or focal loss per bit (`training.objectives`).

  model = PianorollLSTM(vocab_size=176, rnn_layer_sizes=(512, 512),
                        dropout_rate=0.3)
  logits = model({'pianoroll': frames})    # [batch, time, 176] -> same
  logits_t, states = model.step({'pianoroll': frame_t}, states)
"""

import keras
from keras import ops
import numpy as np

from musicrnn.models.event_lstm import EventLSTM


@keras.saving.register_keras_serializable('musicrnn')
class PianorollLSTM(EventLSTM):
  """A recurrent stack over frames (see the module docstring).

  Args: those of `EventLSTM`; `vocab_size` is the frame's width (bits), and
  frames take no embedding and no control signals.
  """

  def __init__(self, vocab_size, rnn_layer_sizes=(512, 512), cell='lstm',
               dropout_rate=0.0, embedding_size=0, control_sizes=None,
               **kwargs):
    if embedding_size or control_sizes:
      raise ValueError('a piano-roll LSTM reads frames: no embedding_size, '
                       'no control signals')
    super().__init__(vocab_size, rnn_layer_sizes=rnn_layer_sizes, cell=cell,
                     dropout_rate=dropout_rate, **kwargs)

  @staticmethod
  def data_arguments(codec, controls):
    """The frame's width, from the codec."""
    del controls
    return {'vocab_size': codec.vocab_size}

  def example_inputs(self, controls):
    """A batch of one, two frames long."""
    del controls
    return {'pianoroll': np.zeros((1, 2, self.vocab_size), np.float32)}

  def _features(self, inputs):
    return ops.cast(inputs['pianoroll'], self.compute_dtype)
