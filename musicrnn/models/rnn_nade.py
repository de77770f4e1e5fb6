"""RNN-NADE: a recurrent stack over frames whose state sets the biases of a
NADE over the next frame (Boulanger-Lewandowski et al. 2012; Magenta's
Pianoroll RNN-NADE).

The recurrent stack of the LSTM families (`models.recurrent`) reads frames
of key bits (`musicrnn.encodings.frames.KeyFrameCodec`: 88 keys, each
sounding or not). An affine map of its top layer's output at each step
(the stack's output layer, Magenta's `decoder/dense`) gives the biases of
a NADE (Larochelle & Murray 2011) over the next frame's D bits: an encoder
bias b_enc [H] and a decoder bias b_dec [D]. The NADE's weights W_enc,
W_dec [D, H] are shared by every step. Bit d is predicted from the bits
before it in key order, lowest key first:

  a_d           = b_enc + sum_{j < d} x_j W_enc[j]          [H]
  p(x_d = 1 | x_<d) = sigmoid(b_dec[d] + sigmoid(a_d) . W_dec[d])
  log p(frame)  = sum_d log p(x_d | x_<d)

so a frame's keys are predicted jointly, and log p(frame) is exact (the
probabilities of all 2^D frames sum to one). `frame_log_prob` computes
every a_d at once (a cumulative sum over the keys); `sample_frame` draws
the bits one at a time, D steps in a loop that compiles inside the
sampler's.

Magenta's `rnn-nade_attn` puts an attention wrapper on the first layer
(`recurrent.AttentionLSTMCell`, `attn_length` > 0).

  model = RnnNade(frame_size=88, rnn_layer_sizes=(128, 128, 128),
                  nade_hidden_units=128, dropout_rate=0.5)
  log_p = model.log_prob({'pianoroll': inputs}, labels)   # [batch, time]
  params, states = model.step({'pianoroll': frame_t}, states)
  frame = model.sample_frame(params, uniforms, temperature=1.0)
"""

import math

import keras
from keras import ops
import numpy as np

from musicrnn.encodings import frames
from musicrnn.models import protocols
from musicrnn.models import recurrent


@keras.saving.register_keras_serializable('musicrnn')
class RnnNade(recurrent.RecurrentStack, protocols.JointFrameModel):
  """A recurrent stack over frames that parameterises a NADE over the next
  frame (see the module docstring).

  Args:
    frame_size: bits per frame (one per key), from the codec.
    rnn_layer_sizes, cell, dropout_rate: the recurrent stack's (dropout
      after every layer, the top one included, as Magenta's
      DropoutWrapper).
    nade_hidden_units: the NADE's hidden units H.
    attn_length: above 0, the first layer is an LSTM with attention over
      its last `attn_length` outputs (Magenta's AttentionCellWrapper).
  """

  def __init__(self, frame_size, rnn_layer_sizes=(128, 128, 128), cell='lstm',
               dropout_rate=0.0, nade_hidden_units=128, attn_length=0,
               **kwargs):
    super().__init__(**kwargs)
    self.frame_size = int(frame_size)
    self.nade_hidden_units = int(nade_hidden_units)
    self.attn_length = int(attn_length)
    if self.attn_length < 0:
      raise ValueError(f'attn_length must be 0 or more, got {attn_length}')
    if self.attn_length and cell != 'lstm':
      raise ValueError(f'attention wraps an LSTM cell, not {cell!r}')
    if self.frame_size < 1 or self.nade_hidden_units < 1:
      raise ValueError('frame_size and nade_hidden_units must be at least 1')
    # The stack's output layer is the NADE's bias projection: [b_enc, b_dec].
    self._build_stack(rnn_layer_sizes, cell, dropout_rate,
                      self.nade_hidden_units + self.frame_size)
    # Magenta's initializer: a truncated normal of deviation 1 / sqrt(D).
    initializer = keras.initializers.TruncatedNormal(
        stddev=1.0 / math.sqrt(self.frame_size))
    shape = (self.frame_size, self.nade_hidden_units)
    self.w_enc = self.add_weight(shape=shape, initializer=initializer,
                                 name='w_enc', dtype='float32')
    self.w_dec = self.add_weight(shape=shape, initializer=initializer,
                                 name='w_dec', dtype='float32')
    # [D, D]: 1 where bit e comes before bit d (row d, column e).
    self._before = np.tril(np.ones((self.frame_size,) * 2, np.float32), -1)

  def _make_rnn_layer(self, index, units):
    if index == 0 and self.attn_length:
      return keras.layers.RNN(
          recurrent.AttentionLSTMCell(units, self.attn_length,
                                      name='attention_lstm_cell'),
          return_sequences=True, return_state=True, name='attention_lstm_0')
    return super()._make_rnn_layer(index, units)

  @staticmethod
  def data_arguments(codec, controls):
    """The frame's width, from a key-frame codec (no control signals)."""
    if controls:
      raise ValueError('an RNN-NADE reads frames: no control signals')
    if not isinstance(codec, frames.KeyFrameCodec):
      raise ValueError('an RNN-NADE reads frames of one bit per key '
                       "(encoding 'key_frames')")
    return {'frame_size': codec.vocab_size}

  def example_inputs(self, controls):
    """A batch of one, two frames long."""
    del controls
    return {'pianoroll': np.zeros((1, 2, self.frame_size), np.float32)}

  def _features(self, inputs):
    return ops.cast(inputs['pianoroll'], self.compute_dtype)

  def _biases(self, params):
    """(b_enc [..., H], b_dec [..., D]) of parameters [..., H + D]."""
    params = ops.cast(params, 'float32')
    return (params[..., :self.nade_hidden_units],
            params[..., self.nade_hidden_units:])

  def conditional_logits(self, params, frames):
    """[..., D] logits of p(x_d = 1 | x_<d) for each bit d of `frames`
    [..., D] given the bits of the same frame before it, for parameters
    [..., H + D]: every bit at once (each bit's hidden pre-activation is
    b_enc plus the sum of W_enc's rows of the set bits before it)."""
    b_enc, b_dec = self._biases(params)
    x = ops.cast(frames, 'float32')
    # Row d of (x masked to the bits strictly before d) @ W_enc: one matmul,
    # five times faster on a CPU than a cumulative sum over the bits.
    before = ops.matmul(x[..., None, :] * self._before, self.w_enc)  # [..., D, H]
    hidden = ops.sigmoid(b_enc[..., None, :] + before)
    return b_dec + ops.sum(hidden * self.w_dec, axis=-1)

  def frame_log_prob(self, params, frames):
    """[...] exact log p(frame) in nats: sum_d log p(x_d | x_<d)."""
    logits = self.conditional_logits(params, frames)
    x = ops.cast(frames, 'float32')
    # x log sigmoid(l) + (1 - x) log sigmoid(-l) = x l - softplus(l)
    return ops.sum(x * logits - ops.softplus(logits), axis=-1)

  def sample_frame(self, params, uniforms, temperature=1.0):
    """Frames [..., D] drawn bit by bit, lowest key first: bit d is 1 where
    uniforms[..., d] < sigmoid(its conditional logit / temperature), given
    the bits drawn before it (a loop of D steps)."""
    b_enc, b_dec = self._biases(params)
    uniforms = ops.cast(uniforms, 'float32')
    temperature = ops.cast(temperature, 'float32')
    keys = ops.arange(self.frame_size)

    def draw(d, carry):
      hidden, frame = carry
      logit = (ops.take(b_dec, d, axis=-1)
               + ops.sum(ops.sigmoid(hidden) * ops.take(self.w_dec, d, axis=0),
                         axis=-1))
      bit = ops.cast(ops.take(uniforms, d, axis=-1)
                     < ops.sigmoid(logit / temperature), 'float32')
      frame = frame + bit[..., None] * ops.cast(keys == d, 'float32')
      return hidden + bit[..., None] * ops.take(self.w_enc, d, axis=0), frame

    return ops.fori_loop(0, self.frame_size, draw,
                         (b_enc, ops.zeros_like(b_dec)))[1]

  def get_config(self):
    config = super().get_config()
    config.update(frame_size=self.frame_size,
                  nade_hidden_units=self.nade_hidden_units,
                  attn_length=self.attn_length, **self._stack_config())
    return config
