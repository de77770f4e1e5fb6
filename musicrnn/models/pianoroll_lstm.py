"""Piano-roll LSTM: frames in, a sigmoid per bit of the next frame out.

The recurrent stack of the LSTM families (`models.recurrent`) over frame
rolls (`musicrnn.encodings.frames`): each step's input is the frame's bits
as floats (onset and held bits of `frame_roll`, or a sounding bit per key
of `key_frames`), its output one logit per bit of the next frame.
The bits are independent given the past (a multi-label output), so the loss
is binary cross-entropy or focal loss per bit (the 'multi_label' task,
`musicrnn.tasks.multi_label`).

  model = PianorollLSTM(frame_size=176, rnn_layer_sizes=(512, 512),
                        dropout_rate=0.3)
  logits = model({'pianoroll': frames})    # [batch, time, 176] -> same
  logits_t, states = model.step({'pianoroll': frame_t}, states)
"""

import keras
from keras import ops
import numpy as np

from musicrnn.models import protocols
from musicrnn.models import recurrent


@keras.saving.register_keras_serializable('musicrnn')
class PianorollLSTM(recurrent.RecurrentStack, protocols.FrameModel):
  """A recurrent stack over frames (see the module docstring).

  Args:
    frame_size: bits per frame, from the codec (176 onset and held bits
      of `frame_roll`, 88 sounding bits of `key_frames`).
    rnn_layer_sizes, cell, dropout_rate: the recurrent stack's.
  """

  # Frames take no embedding (a run folder's config may say 0).
  RETIRED_ARGUMENTS = {'embedding_size': 0}

  def __init__(self, frame_size, rnn_layer_sizes=(512, 512), cell='lstm',
               dropout_rate=0.0, **kwargs):
    super().__init__(**kwargs)
    self.frame_size = int(frame_size)
    self._build_stack(rnn_layer_sizes, cell, dropout_rate, self.frame_size)

  @staticmethod
  def data_arguments(codec, controls):
    """The frame's width, from the codec (frames take no control signals)."""
    if controls:
      raise ValueError('a piano-roll LSTM reads frames: no control signals')
    return {'frame_size': codec.vocab_size}

  def example_inputs(self, controls):
    """A batch of one, two frames long."""
    del controls
    return {'pianoroll': np.zeros((1, 2, self.frame_size), np.float32)}

  def _features(self, inputs):
    return ops.cast(inputs['pianoroll'], self.compute_dtype)

  def get_config(self):
    config = super().get_config()
    config.update(frame_size=self.frame_size, **self._stack_config())
    return config
