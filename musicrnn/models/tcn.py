"""Temporal convolutional network over frames (Bai, Kolter & Koltun 2018).

The TCN of "An Empirical Evaluation of Generic Convolutional and Recurrent
Networks for Sequence Modeling" on the 2012 polyphonic-music benchmark
(JSB Chorales, Nottingham): frames of bits in (`musicrnn.encodings.frames`,
88 keys of `key_frames`), one logit per bit of the next frame out, each bit
its own sigmoid (the 'multi_label' task, `musicrnn.tasks.multi_label`).

  model = TCN(frame_size=88, channels=150, levels=2, kernel_size=3,
              dropout_rate=0.5)
  logits = model({'pianoroll': frames})      # [batch, time, 88] -> same

  states = model.initial_state(batch_size)
  logits_t, states = model.step({'pianoroll': frame_t}, states)  # [batch, 88]

`levels` residual blocks; block i has dilation 2**i and is two causal
dilated convolutions (`kernel_size` taps, `channels` filters), each
weight-normalized (Salimans & Kingma 2016) and followed by ReLU and dropout.
The block's input is added back (through a 1x1 convolution where the widths
differ: the first block reads frame_size bits) and the sum goes through a
ReLU. A dense layer maps the last block to frame_size logits. The receptive
field is 1 + 2 (kernel_size - 1)(2**levels - 1) frames: 13 for the JSB
settings (kernel 3, 2 levels), 151 for Nottingham's (kernel 6, 4 levels).

Generation is Fast-WaveNet style (Paine et al. 2016), as `dilated_cnn`:
each convolution keeps a circular queue of its last
`dilation * (kernel_size - 1)` inputs, so a frame costs one pass through the
layers, not a pass over the receptive field.
"""

import keras
from keras import ops
import numpy as np
import tensorflow as tf

from musicrnn.models import inputs as inputs_lib
from musicrnn.models import protocols


@keras.saving.register_keras_serializable('musicrnn')
class CausalConv1D(keras.layers.Layer):
  """A causal dilated 1-D convolution, weight-normalized or plain.

  Output t reads inputs t - (kernel_size - 1 - j) * dilation_rate for taps
  j = 0 .. kernel_size - 1 (zeros before the first input). With
  `weight_norm`, the kernel is w = g * v / ||v||, the norm taken per output
  filter over taps and input channels (Salimans & Kingma 2016): the
  direction v and the length g are the trained weights, and g starts at
  ||v|| so that w starts as v.

  Args:
    filters: output channels.
    kernel_size: taps, at least 2.
    dilation_rate: steps between taps.
    weight_norm: train (v, g) instead of w.
  """

  def __init__(self, filters, kernel_size, dilation_rate=1, weight_norm=True,
               **kwargs):
    super().__init__(**kwargs)
    if kernel_size < 2:
      raise ValueError(f'kernel_size must be at least 2, got {kernel_size}')
    self.filters = int(filters)
    self.kernel_size = int(kernel_size)
    self.dilation_rate = int(dilation_rate)
    self.weight_norm = bool(weight_norm)

  @property
  def span(self):
    """Past inputs one output reads: dilation_rate * (kernel_size - 1)."""
    return self.dilation_rate * (self.kernel_size - 1)

  def build(self, input_shape):
    # Not autocast: the norm is taken in float32, the kernel cast after.
    self.kernel = self.add_weight(
        name='kernel', shape=(self.kernel_size, input_shape[-1], self.filters),
        initializer='glorot_uniform', autocast=False)
    if self.weight_norm:
      self.g = self.add_weight(
          name='g', shape=(self.filters,), autocast=False,
          initializer=lambda shape, dtype=None: self._norm(self.kernel))
    self.bias = self.add_weight(name='bias', shape=(self.filters,),
                                initializer='zeros', autocast=False)

  @staticmethod
  def _norm(kernel):
    return ops.sqrt(ops.sum(ops.square(kernel), axis=(0, 1)))

  def effective_kernel(self):
    """The kernel [kernel_size, input channels, filters] the layer applies,
    in its compute dtype."""
    kernel = ops.convert_to_tensor(self.kernel)
    if self.weight_norm:
      kernel = kernel * (ops.convert_to_tensor(self.g) / self._norm(kernel))
    return ops.cast(kernel, self.compute_dtype)

  def call(self, x):
    """[batch, time, channels] -> [batch, time, filters], causal."""
    x = ops.pad(x, [[0, 0], [self.span, 0], [0, 0]])
    y = ops.conv(x, self.effective_kernel(), padding='valid',
                 dilation_rate=self.dilation_rate)
    return y + ops.cast(self.bias, self.compute_dtype)

  def step(self, x, queue, position):
    """One step of `call`: (output [batch, filters], the next queue).

    Args:
      x: this step's input [batch, channels].
      queue: the last `span` inputs [batch, span, channels], a circular
        buffer: the input of step s sits in slot s mod span.
      position: this step's index (a scalar; every sequence of the batch is
        at the same step).
    """
    if not self.built:   # a step before any call
      self.build(x.shape)
      self.built = True
    kernel = self.effective_kernel()
    y = ops.matmul(x, kernel[-1]) + ops.cast(self.bias, self.compute_dtype)
    # Tap j reads step t - span + j * dilation, in slot (t + j * dilation)
    # mod span.
    for j in range(self.kernel_size - 1):
      slot = tf.math.floormod(position + j * self.dilation_rate, self.span)
      y += ops.matmul(tf.gather(queue, slot, axis=1), kernel[j])
    # Tap 0 (slot t mod span) is read for the last time: x takes its slot.
    batch = tf.shape(x)[0]
    index = tf.stack([tf.range(batch),
                      tf.fill([batch], tf.math.floormod(position, self.span))],
                     axis=1)
    return y, tf.tensor_scatter_nd_update(queue, index, x)

  def get_config(self):
    config = super().get_config()
    config.update(filters=self.filters, kernel_size=self.kernel_size,
                  dilation_rate=self.dilation_rate,
                  weight_norm=self.weight_norm)
    return config


@keras.saving.register_keras_serializable('musicrnn')
class TCN(protocols.FrameModel):
  """Residual blocks of dilated causal convolutions over frames (see the
  module docstring).

  Args:
    frame_size: bits per frame, from the codec (88 keys for key_frames).
    channels: filters of every convolution (Bai et al.: 150).
    levels: residual blocks; block i has dilation 2**i.
    kernel_size: taps per convolution, at least 2.
    dropout_rate: after each convolution's ReLU, in training.
    weight_norm: weight-normalize the convolutions (Bai et al. do).
  """

  # trains_faster_with_xla stays False: not measured (benchmarks/
  # xla_benchmark.py has no TCN yet), and the tcn configs keep whole pieces,
  # which have no one static shape, so auto XLA would not turn on anyway.

  def __init__(self, frame_size, channels=150, levels=2, kernel_size=3,
               dropout_rate=0.0, weight_norm=True, **kwargs):
    super().__init__(**kwargs)
    if levels < 1:
      raise ValueError(f'levels must be at least 1, got {levels}')
    if kernel_size < 2:
      raise ValueError(f'kernel_size must be at least 2, got {kernel_size}')
    self.frame_size = int(frame_size)
    self.channels = int(channels)
    self.levels = int(levels)
    self.kernel_size = int(kernel_size)
    self.dropout_rate = float(dropout_rate)
    self.weight_norm = bool(weight_norm)
    self.dilations = [2 ** i for i in range(self.levels)]
    self.convs, self.residuals = [], []
    for i, dilation in enumerate(self.dilations):
      pair = [CausalConv1D(channels, kernel_size, dilation, weight_norm,
                           name=f'conv_{i}_{j}') for j in range(2)]
      # A 1x1 convolution where the block's input is not `channels` wide.
      residual = (keras.layers.Dense(channels, name=f'residual_{i}')
                  if i == 0 and self.frame_size != self.channels else None)
      # tf.train.Checkpoint follows attributes, not Keras' tracked lists.
      for j, conv in enumerate(pair):
        setattr(self, f'conv_{i}_{j}', conv)
      if residual is not None:
        setattr(self, f'residual_{i}', residual)
      self.convs.append(pair)
      self.residuals.append(residual)
    self.dropout = keras.layers.Dropout(dropout_rate)
    # float32 logits (and loss) under a mixed-precision policy.
    self.logits = keras.layers.Dense(frame_size, dtype='float32',
                                     name='logits')

  @property
  def receptive_field(self):
    """Frames that influence one output: 1 + 2 (kernel - 1) * sum of the
    dilations (two convolutions per block)."""
    return 1 + 2 * (self.kernel_size - 1) * sum(self.dilations)

  @staticmethod
  def data_arguments(codec, controls):
    """The frame's width, from the codec (frames take no control signals)."""
    if controls:
      raise ValueError('a TCN reads frames: no control signals')
    return {'frame_size': codec.vocab_size}

  def example_inputs(self, controls):
    """A batch of one, two frames long."""
    del controls
    return {'pianoroll': np.zeros((1, 2, self.frame_size), np.float32)}

  def _block_output(self, i, x, h):
    """ReLU of block i's convolutions `h` plus its input `x`."""
    residual = x if self.residuals[i] is None else self.residuals[i](x)
    return ops.relu(h + residual)

  def call(self, inputs, training=False):
    """Logits [batch, time, frame_size] of the next frame, for frames
    {'pianoroll': [batch, time, frame_size]}."""
    x = ops.cast(inputs['pianoroll'], self.compute_dtype)
    for i, (first, second) in enumerate(self.convs):
      h = self.dropout(ops.relu(first(x)), training=training)
      h = self.dropout(ops.relu(second(h)), training=training)
      x = self._block_output(i, x, h)
    return self.logits(x)

  def initial_state(self, batch_size, max_length=None):  # pylint: disable=unused-argument
    """[position [batch], then per block the queues of its two
    convolutions, zeros (the causal padding): [batch, dilation *
    (kernel_size - 1), width], the first block's first queue frame_size
    wide, every other `channels`].

    `max_length` is part of the step interface every family shares; the
    queues do not depend on it.
    """
    states = [tf.zeros((batch_size,), tf.int32)]
    for i, pair in enumerate(self.convs):
      for j, conv in enumerate(pair):
        width = self.frame_size if i == 0 and j == 0 else self.channels
        states.append(tf.zeros((batch_size, conv.span, width),
                               self.compute_dtype))
    return states

  # The survivors of a beam search: every state gathered.
  reorder_states = staticmethod(inputs_lib.reorder_states)

  def step(self, inputs, states):
    """One frame {'pianoroll': [batch, frame_size]} -> logits [batch,
    frame_size] of the next and the next states; equals `call` (in
    inference) frame by frame."""
    positions, queues = states[0], states[1:]
    position = positions[0]
    x = ops.cast(inputs['pianoroll'], self.compute_dtype)
    new_queues = []
    for i, (first, second) in enumerate(self.convs):
      h, queue = first.step(x, queues[2 * i], position)
      new_queues.append(queue)
      h, queue = second.step(ops.relu(h), queues[2 * i + 1], position)
      new_queues.append(queue)
      x = self._block_output(i, x, ops.relu(h))
    return self.logits(x), [positions + 1] + new_queues

  def get_config(self):
    config = super().get_config()
    config.update(frame_size=self.frame_size, channels=self.channels,
                  levels=self.levels, kernel_size=self.kernel_size,
                  dropout_rate=self.dropout_rate, weight_norm=self.weight_norm)
    return config
