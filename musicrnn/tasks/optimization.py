"""The optimizers' learning rates the tasks' objectives share: a constant,
linear warm-up then constant or inverse-square-root decay, or Magenta's
MusicVAE exponential decay to a floor."""

import keras
import tensorflow as tf

from musicrnn.errors import UsageError

# train.decay: constant after any warm-up, inverse square root, or
# exponential to a floor.
DECAYS = ('none', 'rsqrt', 'exponential')


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


@keras.saving.register_keras_serializable('musicrnn')
class ExponentialDecaySchedule(keras.optimizers.schedules.LearningRateSchedule):
  """(learning_rate - min_learning_rate) * decay_rate**step +
  min_learning_rate at optimizer step `step` (0 for the first update):
  MusicVAE's schedule (Magenta's music_vae base_model.py: decay_rate 0.9999
  per step, floor 1e-5)."""

  def __init__(self, learning_rate, decay_rate, min_learning_rate=0.0):
    if not 0.0 < decay_rate <= 1.0:
      raise UsageError(f'train.decay_rate must be in (0, 1], got {decay_rate}')
    if not 0.0 <= min_learning_rate <= learning_rate:
      raise UsageError('train.min_learning_rate must be in [0, '
                       f'learning_rate], got {min_learning_rate}')
    self.learning_rate = float(learning_rate)
    self.decay_rate = float(decay_rate)
    self.min_learning_rate = float(min_learning_rate)

  def __call__(self, step):
    step = tf.cast(step, tf.float32)
    return ((self.learning_rate - self.min_learning_rate)
            * tf.pow(self.decay_rate, step) + self.min_learning_rate)

  def get_config(self):
    return {'learning_rate': self.learning_rate, 'decay_rate': self.decay_rate,
            'min_learning_rate': self.min_learning_rate}


def learning_rate(train_config):
  """The optimizer's learning rate: a float, a WarmupSchedule when the
  config sets `warmup_steps` or `decay` ('rsqrt'), or an
  ExponentialDecaySchedule for `decay='exponential'` (with `decay_rate` and
  `min_learning_rate`)."""
  warmup_steps = train_config.get('warmup_steps', 0)
  decay = train_config.get('decay', 'none')
  if decay not in DECAYS:
    raise UsageError(f'train.decay must be one of {DECAYS}, got {decay!r}')
  if decay == 'exponential':
    if warmup_steps:
      raise UsageError("train.decay='exponential' has no warm-up "
                       '(train.warmup_steps 0)')
    return ExponentialDecaySchedule(train_config.learning_rate,
                                    train_config.decay_rate,
                                    train_config.get('min_learning_rate', 0.0))
  if not warmup_steps and decay == 'none':
    return train_config.learning_rate
  return WarmupSchedule(train_config.learning_rate, warmup_steps, decay)


def learning_rate_value(optimizer):
  return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
