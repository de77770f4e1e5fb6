"""Dilated causal CNN over events, WaveNet style (van den Oord et al. 2016).

ids in, logits out, no file I/O.

  model = DilatedCNN(vocab_size=388, num_blocks=2, num_layers_per_block=10,
                     kernel_size=2, residual_channels=128, skip_channels=256)
  logits = model({'tokens': ids})            # [batch, time, vocab_size]

  states = model.initial_state(batch_size)
  logits_t, states = model.step({'tokens': ids_t}, states)   # ids_t [batch]

The event (one-hot, or a learned embedding) is projected to the residual
channels; then each layer is a causal convolution with dilation 1, 2, 4, ...
(restarting every block), a gated activation tanh(f)·sigmoid(g), a 1x1
residual connection back into the stack and a 1x1 skip connection to the
output. The summed skips go through ReLU, 1x1, ReLU, 1x1 to logits. Control
signals, when the config has them, are WaveNet's local conditioning: a
projection added to every layer's filter and gate.

Generation is Fast WaveNet (Paine et al. 2016): every layer keeps a queue
of its last `dilation * (kernel_size - 1)` inputs, a circular buffer, so a
new event reads the taps it needs from the queues and pushes its own
activations: O(layers) per event, not a pass over the receptive field.
"""

import keras
from keras import ops
import tensorflow as tf

from musicrnn.models import inputs as inputs_lib
from musicrnn.models import protocols


@keras.saving.register_keras_serializable('musicrnn')
class DilatedCNN(protocols.NextTokenModel):
  """Gated dilated causal convolutions (see the module docstring).

  Args:
    vocab_size: number of event ids.
    num_blocks: how many times the dilation pattern repeats.
    num_layers_per_block: layers per block, dilations 1, 2, ..., 2^(n-1).
    kernel_size: taps per convolution.
    residual_channels, skip_channels: widths of the stack and of the output.
    dropout_rate: on the gated activations, in training.
    embedding_size: 0 feeds one-hot events; > 0 learns an embedding.
    control_sizes: {control name: size}; empty for an unconditioned model.
  """

  def __init__(self, vocab_size, num_blocks=2, num_layers_per_block=10,
               kernel_size=2, residual_channels=128, skip_channels=256,
               dropout_rate=0.0, embedding_size=0, control_sizes=None,
               **kwargs):
    super().__init__(**kwargs)
    if num_blocks < 1 or num_layers_per_block < 1:
      raise ValueError('num_blocks and num_layers_per_block must be at least 1')
    if kernel_size < 2:
      raise ValueError(f'kernel_size must be at least 2, got {kernel_size}')
    self.vocab_size = int(vocab_size)
    self.num_blocks = int(num_blocks)
    self.num_layers_per_block = int(num_layers_per_block)
    self.kernel_size = int(kernel_size)
    self.residual_channels = int(residual_channels)
    self.skip_channels = int(skip_channels)
    self.dropout_rate = float(dropout_rate)
    self.embedding_size = int(embedding_size)
    self.control_sizes = dict(sorted((control_sizes or {}).items()))
    self.dilations = [2 ** i for _ in range(self.num_blocks)
                      for i in range(self.num_layers_per_block)]
    self.embedding = (keras.layers.Embedding(vocab_size, embedding_size,
                                             name='embedding')
                      if embedding_size else None)
    self.input_projection = keras.layers.Dense(residual_channels, name='input')
    self.convs, self.conditioners, self.residuals, self.skips = [], [], [], []
    last = len(self.dilations) - 1
    for i, dilation in enumerate(self.dilations):
      # Filter and gate in one convolution: 2 * residual_channels outputs.
      layers = {
          'conv': keras.layers.Conv1D(2 * residual_channels, kernel_size,
                                      dilation_rate=dilation, padding='causal',
                                      name=f'conv_{i}'),
          'skip': keras.layers.Dense(skip_channels, name=f'skip_{i}'),
      }
      if self.control_sizes:
        layers['condition'] = keras.layers.Dense(
            2 * residual_channels, use_bias=False, name=f'condition_{i}')
      if i != last:   # the last layer's residual output would feed nothing
        layers['residual'] = keras.layers.Dense(residual_channels,
                                                name=f'residual_{i}')
      # tf.train.Checkpoint follows attributes, not Keras' tracked lists.
      for kind, layer in layers.items():
        setattr(self, f'{kind}_{i}', layer)
      self.convs.append(layers['conv'])
      self.skips.append(layers['skip'])
      self.conditioners.append(layers.get('condition'))
      self.residuals.append(layers.get('residual'))
    self.dropout = keras.layers.Dropout(dropout_rate)
    self.output_hidden = keras.layers.Dense(skip_channels, name='output_hidden')
    # float32 logits (and loss) under a mixed-precision policy.
    self.logits = keras.layers.Dense(vocab_size, dtype='float32',
                                     name='logits')

  @property
  def receptive_field(self):
    """Events that influence one output: 1 + sum of (kernel - 1) * dilation."""
    return 1 + sum((self.kernel_size - 1) * d for d in self.dilations)

  def _events(self, tokens):
    tokens = ops.cast(tokens, 'int32')
    if self.embedding is not None:
      x = self.embedding(tokens)
    else:
      x = ops.one_hot(tokens, self.vocab_size)
    return self.input_projection(x)

  def _controls(self, inputs, dtype, time_axis=True):
    if not self.control_sizes:
      return None
    return ops.concatenate(inputs_lib.control_parts(
        inputs, self.control_sizes, dtype, time_axis=time_axis), axis=-1)

  def _layer(self, i, pre_activation, controls, x, training):
    """Gating, conditioning, skip and residual of layer i."""
    if controls is not None:
      pre_activation = pre_activation + self.conditioners[i](controls)
    filters, gates = ops.split(pre_activation, 2, axis=-1)
    z = self.dropout(ops.tanh(filters) * ops.sigmoid(gates), training=training)
    if self.residuals[i] is not None:
      x = x + self.residuals[i](z)
    return x, self.skips[i](z)

  def _output(self, skip_sum):
    return self.logits(ops.relu(self.output_hidden(ops.relu(skip_sum))))

  # What the constructor takes from the data, and a batch that builds it.
  data_arguments = staticmethod(inputs_lib.data_arguments)

  @staticmethod
  def example_inputs(controls):
    return inputs_lib.example_inputs(controls)

  def call(self, inputs, training=False):
    """Logits [batch, time, vocab_size] for a dict of [batch, time] inputs."""
    x = self._events(inputs['tokens'])
    controls = self._controls(inputs, x.dtype)
    skip_sum = 0.0
    for i, conv in enumerate(self.convs):
      x, skip = self._layer(i, conv(x), controls, x, training)
      skip_sum = skip_sum + skip
    return self._output(skip_sum)

  def initial_state(self, batch_size, max_length=None):  # pylint: disable=unused-argument
    """[position [batch], then one queue [batch, dilation * (kernel - 1),
    residual_channels] of zeros (the causal padding) per layer].

    `max_length` is part of the step interface every family shares; the
    queues do not depend on it.
    """
    states = [tf.zeros((batch_size,), tf.int32)]
    for dilation in self.dilations:
      states.append(tf.zeros((batch_size, dilation * (self.kernel_size - 1),
                              self.residual_channels)))
    return states

  # The survivors of a beam search: every state gathered.
  reorder_states = staticmethod(inputs_lib.reorder_states)

  def step(self, inputs, states):
    """One event: inputs of shape [batch] (controls [batch, size]) -> logits
    [batch, vocab_size] and the next states; equals `call` step by step."""
    positions, queues = states[0], states[1:]
    position = positions[0]
    x = self._events(inputs['tokens'])                        # [batch, C]
    controls = self._controls(inputs, x.dtype, time_axis=False)
    batch = tf.shape(x)[0]
    skip_sum = 0.0
    new_queues = []
    for i, (conv, dilation) in enumerate(zip(self.convs, self.dilations)):
      queue = queues[i]
      span = dilation * (self.kernel_size - 1)
      # Tap j of the causal convolution reads the input of position
      # t - span + j * dilation, kept in slot (t + j * dilation) mod span.
      pre_activation = ops.matmul(x, conv.kernel[-1]) + conv.bias
      for j in range(self.kernel_size - 1):
        slot = tf.math.floormod(position + j * dilation, span)
        pre_activation += ops.matmul(tf.gather(queue, slot, axis=1),
                                     conv.kernel[j])
      # The oldest tap (slot t mod span) is no longer needed: x replaces it.
      index = tf.stack([tf.range(batch),
                        tf.fill([batch], tf.math.floormod(position, span))], 1)
      new_queues.append(tf.tensor_scatter_nd_update(queue, index, x))
      x, skip = self._layer(i, pre_activation, controls, x, False)
      skip_sum = skip_sum + skip
    return self._output(skip_sum), [positions + 1] + new_queues

  def get_config(self):
    config = super().get_config()
    config.update(vocab_size=self.vocab_size, num_blocks=self.num_blocks,
                  num_layers_per_block=self.num_layers_per_block,
                  kernel_size=self.kernel_size,
                  residual_channels=self.residual_channels,
                  skip_channels=self.skip_channels,
                  dropout_rate=self.dropout_rate,
                  embedding_size=self.embedding_size,
                  control_sizes=self.control_sizes)
    return config
