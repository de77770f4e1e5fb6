"""Piano-roll GAN: convolutional generator and critic over multi-bar rolls.

noise in, piano rolls out, no file I/O. In the line of MuseGAN (Dong et al.
2018), for one merged track.

  gan = PianorollGAN(num_steps=64, num_pitches=84, latent_dim=128)
  rolls = gan({'noise': z})        # z [batch, latent_dim] -> [batch, 64, 84]
                                   # probabilities that each cell sounds
  scores = gan.critic(rolls[..., None])           # [batch, 1]

The generator maps noise through a dense layer to a [steps/16, pitches/12]
grid of `generator_channels` and up-samples it with transposed
convolutions, time x2 four times and pitch x2, x2, x3 (an octave, then the
pitch range), with batch normalisation and ReLU, to a sigmoid over every
cell. The critic mirrors it with strided convolutions and leaky ReLU (the
first spans an octave of pitch), then a dense layer to one score.

Objective: WGAN-GP (Gulrajani et al. 2017):
the critic minimises D(fake) - D(real) + λ·(‖∇D(x̂)‖ - 1)² on random
interpolates x̂, and the generator minimises -D(fake). Chosen because it is
what MuseGAN trained with, it gives a loss that tracks sample quality (the
Wasserstein estimate D(real) - D(fake)), and it needs no normalisation in
the critic, so the critic has no batch statistics to keep consistent
across replicas. Adam with β = (0.5, 0.9), as the WGAN-GP paper.

`adversarial_step(real)` is the model's own training step (the 'adversarial'
task, `musicrnn.tasks.adversarial`, runs it): one step is
`critic_updates_per_generator_update` critic updates (fresh noise, the same
real batch, as Keras' WGAN-GP example) and then one generator update. The
shared trainer runs it under any tf.distribute strategy, with checkpoints,
resume, TensorBoard and the progress display of every family.
"""

import keras
from keras import layers
import numpy as np
import tensorflow as tf

from musicrnn.models import protocols


def _generator(num_steps, num_pitches, latent_dim, channels):
  if num_steps % 16 or num_pitches % 12:
    raise ValueError('the generator needs steps divisible by 16 and pitches '
                     f'by 12, got {num_steps} x {num_pitches}')
  steps, pitches = num_steps // 16, num_pitches // 12
  stack = [keras.Input((latent_dim,)),
           layers.Dense(steps * pitches * channels),
           layers.BatchNormalization(), layers.ReLU(),
           layers.Reshape((steps, pitches, channels))]
  # (channels, time stride, pitch stride) per up-sampling.
  for width, time_stride, pitch_stride in ((channels // 2, 2, 2),
                                           (channels // 4, 2, 2),
                                           (channels // 4, 2, 3)):
    stack += [layers.Conv2DTranspose(width, (2 * time_stride, 2 * pitch_stride),
                                     strides=(time_stride, pitch_stride),
                                     padding='same'),
              layers.BatchNormalization(), layers.ReLU()]
  # float32 probabilities under a mixed-precision policy.
  stack += [layers.Conv2DTranspose(1, (4, 1), strides=(2, 1), padding='same',
                                   activation='sigmoid', dtype='float32'),
            layers.Reshape((num_steps, num_pitches), dtype='float32')]
  return keras.Sequential(stack, name='generator')


def _critic(num_steps, num_pitches, channels):
  stack = [keras.Input((num_steps, num_pitches, 1)),
           # An octave of pitch at a time, two steps of time.
           layers.Conv2D(channels // 4, (4, 12), strides=(2, 12), padding='same'),
           layers.LeakyReLU(0.2)]
  for width, strides in ((channels // 2, (2, 1)), (channels, (2, 2)),
                         (channels, (2, 2))):
    stack += [layers.Conv2D(width, (4, 4), strides=strides, padding='same'),
              layers.LeakyReLU(0.2)]
  stack += [layers.Flatten(), layers.Dense(1, dtype='float32')]
  return keras.Sequential(stack, name='critic')


@keras.saving.register_keras_serializable('musicrnn')
class PianorollGAN(protocols.AdversarialPair):
  """Generator and critic of piano rolls (see the module docstring).

  Args:
    num_steps, num_pitches: the roll's shape (64 x 84 for 4 bars of 16th
      notes over C1-B7).
    latent_dim: size of the noise vector.
    generator_channels, critic_channels: widths of the two networks.
    gradient_penalty_weight: λ of the gradient penalty.
    critic_updates_per_generator_update: critic updates in each step.
    generator_learning_rate, critic_learning_rate: the Adams' rates
      (`make_optimizers`).
  """

  # benchmarks/xla_benchmark.py: XLA trains it 1.2-1.8x faster on a CPU.
  trains_faster_with_xla = True
  # WGAN-GP was its only objective (a run folder's config names it).
  RETIRED_ARGUMENTS = {'objective': 'wgan_gp'}

  def __init__(self, num_steps=64, num_pitches=84, latent_dim=128,
               generator_channels=256, critic_channels=128,
               gradient_penalty_weight=10.0,
               critic_updates_per_generator_update=5,
               generator_learning_rate=1e-3, critic_learning_rate=1e-3,
               **kwargs):
    super().__init__(**kwargs)
    if critic_updates_per_generator_update < 1:
      raise ValueError('critic_updates_per_generator_update must be at least 1')
    self.num_steps = int(num_steps)
    self.num_pitches = int(num_pitches)
    self.latent_dim = int(latent_dim)
    self.generator_channels = int(generator_channels)
    self.critic_channels = int(critic_channels)
    self.gradient_penalty_weight = float(gradient_penalty_weight)
    self.critic_updates = int(critic_updates_per_generator_update)
    self.generator_learning_rate = float(generator_learning_rate)
    self.critic_learning_rate = float(critic_learning_rate)
    self.generator = _generator(self.num_steps, self.num_pitches,
                                self.latent_dim, self.generator_channels)
    self.critic = _critic(self.num_steps, self.num_pitches, self.critic_channels)
    self.generator_optimizer = None
    self.critic_optimizer = None

  @staticmethod
  def data_arguments(codec, controls):
    """The constructor's arguments from the data: the codec's segment shape."""
    del controls
    num_steps, num_pitches = codec.segment_shape
    return {'num_steps': num_steps, 'num_pitches': num_pitches}

  def example_inputs(self, controls):
    """A batch of one that builds the model."""
    del controls
    return {'noise': np.zeros((1, self.latent_dim), np.float32)}

  def call(self, inputs, training=False):
    """Cell probabilities [batch, steps, pitches] for {'noise': [batch, latent]}."""
    return self.generator(inputs['noise'], training=training)

  def noise(self, batch_size, seed=None):
    """Standard normal noise [batch_size, latent_dim] (stateless with seed,
    a pair of ints)."""
    shape = (batch_size, self.latent_dim)
    if seed is not None:
      return tf.random.stateless_normal(shape, seed)
    return tf.random.normal(shape)

  def make_optimizers(self, loss_scale=False):
    """Creates and builds the two Adam optimizers (at the model's learning
    rates), each in a LossScaleOptimizer with `loss_scale` (float16);
    returns the Adams by name (for the trainer's checkpoint)."""
    adams = {
        'generator_optimizer': keras.optimizers.Adam(
            self.generator_learning_rate, beta_1=0.5, beta_2=0.9),
        'critic_optimizer': keras.optimizers.Adam(
            self.critic_learning_rate, beta_1=0.5, beta_2=0.9)}
    self.generator_optimizer, self.critic_optimizer = (
        keras.optimizers.LossScaleOptimizer(adam) if loss_scale else adam
        for adam in adams.values())
    self.generator_optimizer.build(self.generator.trainable_variables)
    self.critic_optimizer.build(self.critic.trainable_variables)
    return adams

  def _scores(self, rolls, training=True):
    return self.critic(rolls[..., None], training=training)[:, 0]

  def gradient_penalty(self, real, fake):
    """Mean (‖∇D(x̂)‖ - 1)² over random interpolates of real and fake rolls."""
    epsilon = tf.random.uniform((tf.shape(real)[0], 1, 1))
    interpolates = epsilon * real + (1.0 - epsilon) * fake
    with tf.GradientTape() as tape:
      tape.watch(interpolates)
      scores = self._scores(interpolates)
    grads = tape.gradient(scores, interpolates)
    norms = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2]) + 1e-12)
    return tf.reduce_mean(tf.square(norms - 1.0))

  def adversarial_step(self, real):
    """One training step on a replica's batch of real rolls [batch, steps,
    pitches]: critic updates, then a generator update. Returns replica-local
    means: critic_loss, generator_loss, gradient_penalty, wasserstein."""
    if self.generator_optimizer is None:
      raise ValueError('call make_optimizers before training')
    real = tf.cast(real, tf.float32)
    batch = tf.shape(real)[0]
    # Gradients are summed over replicas: scale each replica's mean.
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    critic_variables = self.critic.trainable_variables
    generator_variables = self.generator.trainable_variables
    critic_loss = penalty = wasserstein = tf.constant(0.0)
    for _ in range(self.critic_updates):
      fake = self.generator(self.noise(batch), training=True)
      with tf.GradientTape() as tape:
        real_scores = self._scores(real)
        fake_scores = self._scores(fake)
        penalty = self.gradient_penalty(real, fake)
        wasserstein = tf.reduce_mean(real_scores) - tf.reduce_mean(fake_scores)
        critic_loss = -wasserstein + self.gradient_penalty_weight * penalty
        scaled = self.critic_optimizer.scale_loss(critic_loss / replicas)
      grads = tape.gradient(scaled, critic_variables)
      self.critic_optimizer.apply_gradients(zip(grads, critic_variables))
    with tf.GradientTape() as tape:
      fake = self.generator(self.noise(batch), training=True)
      generator_loss = -tf.reduce_mean(self._scores(fake))
      scaled = self.generator_optimizer.scale_loss(generator_loss / replicas)
    grads = tape.gradient(scaled, generator_variables)
    self.generator_optimizer.apply_gradients(zip(grads, generator_variables))
    return {'critic_loss': critic_loss, 'generator_loss': generator_loss,
            'gradient_penalty': penalty, 'wasserstein': wasserstein}

  def get_config(self):
    config = super().get_config()
    config.update(num_steps=self.num_steps, num_pitches=self.num_pitches,
                  latent_dim=self.latent_dim,
                  generator_channels=self.generator_channels,
                  critic_channels=self.critic_channels,
                  gradient_penalty_weight=self.gradient_penalty_weight,
                  critic_updates_per_generator_update=self.critic_updates,
                  generator_learning_rate=self.generator_learning_rate,
                  critic_learning_rate=self.critic_learning_rate)
    return config
