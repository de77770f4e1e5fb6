"""The optimizers' learning rates the tasks' objectives share: a constant,
or linear warm-up then constant or inverse-square-root decay."""

import keras
import tensorflow as tf

from musicrnn.errors import UsageError


@keras.saving.register_keras_serializable('musicrnn')
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
  """Linear warm-up to `learning_rate` over `warmup_steps`, then constant
  (`decay='none'`) or inverse-square-root decay (`decay='rsqrt'`, the
  transformer schedule of Vaswani et al. and Music Transformer)."""

  DECAYS = ('none', 'rsqrt')

  def __init__(self, learning_rate, warmup_steps, decay='none'):
    if decay not in self.DECAYS:
      raise UsageError(f'train.decay must be one of {self.DECAYS}, got {decay!r}')
    if warmup_steps < 0:
      raise UsageError(f'train.warmup_steps must be >= 0, got {warmup_steps}')
    self.learning_rate = float(learning_rate)
    self.warmup_steps = int(warmup_steps)
    self.decay = decay

  def __call__(self, step):
    step = tf.cast(step, tf.float32) + 1.0
    warmup = float(max(self.warmup_steps, 1))
    factor = tf.minimum(1.0, step / warmup)
    if self.decay == 'rsqrt':
      factor *= tf.math.rsqrt(tf.maximum(step, warmup) / warmup)
    return self.learning_rate * factor

  def get_config(self):
    return {'learning_rate': self.learning_rate,
            'warmup_steps': self.warmup_steps, 'decay': self.decay}


def learning_rate(train_config):
  """The optimizer's learning rate: a float, or a WarmupSchedule when the
  config sets `warmup_steps` or `decay`."""
  warmup_steps = train_config.get('warmup_steps', 0)
  decay = train_config.get('decay', 'none')
  if not warmup_steps and decay == 'none':
    return train_config.learning_rate
  return WarmupSchedule(train_config.learning_rate, warmup_steps, decay)


def learning_rate_value(optimizer):
  return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
