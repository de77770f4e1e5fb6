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
    pitch_window: above 0, each key's logit also gets the output of a small
      network shared by all keys (`head_units` wide) that reads the input
      frame's keys within this many semitones of it, the key's pitch class
      and the stack's output projected to `head_units`: what a voice does
      an interval away is learnt once for every key (for frames of one bit
      per key, `key_frames`). 0: the dense output alone.
    head_units: the width of that network.
  """

  # Frames take no embedding (a run folder's config may say 0).
  RETIRED_ARGUMENTS = {'embedding_size': 0}

  def __init__(self, frame_size, rnn_layer_sizes=(512, 512), cell='lstm',
               dropout_rate=0.0, pitch_window=0, head_units=64, **kwargs):
    super().__init__(**kwargs)
    self.frame_size = int(frame_size)
    self._build_stack(rnn_layer_sizes, cell, dropout_rate, self.frame_size)
    self.pitch_window = int(pitch_window)
    self.head_units = int(head_units)
    if self.pitch_window < 0:
      raise ValueError(f'pitch_window must be >= 0, got {pitch_window}')
    if self.pitch_window:
      self.head_context = keras.layers.Dense(self.head_units,
                                             name='head_context')
      self.head_hidden = keras.layers.Dense(self.head_units, activation='relu',
                                            name='head_hidden')
      self.head_logit = keras.layers.Dense(1, dtype='float32',
                                           name='head_logit')
      keys = np.arange(self.frame_size)
      self._pitch_classes = np.eye(12, dtype=np.float32)[keys % 12]

  def _output(self, hidden, features, training):
    """The dense logits, plus the shared per-key network's (`pitch_window`)."""
    logits = self.logits(hidden)
    if not self.pitch_window:
      return logits
    window = self.pitch_window
    padded = ops.pad(features, [[0, 0], [0, 0], [window, window]])
    # [batch, time, keys, 2 * window + 1]: the input frame around each key.
    around = ops.stack([padded[:, :, i:i + self.frame_size]
                        for i in range(2 * window + 1)], axis=-1)
    context = self.dropout(self.head_context(hidden), training=training)
    shape = ops.shape(around)
    parts = [around,
             ops.broadcast_to(context[:, :, None, :],
                              (shape[0], shape[1], self.frame_size,
                               self.head_units)),
             ops.broadcast_to(ops.cast(self._pitch_classes, around.dtype),
                              (shape[0], shape[1], self.frame_size, 12))]
    head = self.head_logit(self.head_hidden(ops.concatenate(parts, axis=-1)))
    return logits + ops.cast(head[..., 0], logits.dtype)

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
    config.update(frame_size=self.frame_size, pitch_window=self.pitch_window,
                  head_units=self.head_units, **self._stack_config())
    return config
