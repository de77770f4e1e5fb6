"""The 'variational' task: latent-variable models trained on the ELBO
(MusicVAE; `protocols.LatentVariableModel`), as Magenta's music_vae trains
and scores them.

- Training: Adam on Magenta's MusicVAE loss, per sequence and averaged over
  the global batch's sequences:

    loss = r_loss + beta * max(KL - free_bits * ln 2, 0)

  r_loss the reconstruction NLL summed over the sequence's steps (teacher
  forced, or with scheduled sampling: `sampling_schedule`), KL =
  KL(N(mu, sigma^2) || N(0, I)) summed over the latent dimensions (nats; the
  free bits are taken off the sum, as Magenta's code does, not per
  dimension), beta = (1 - beta_rate**step) * max_beta (annealed from 0 to
  max_beta; beta_rate 0 is max_beta from the second step). Gradients are
  clipped to global norm `clip_norm`, and zeroed where that norm reaches
  `grad_norm_clip_to_zero` (Magenta's; each replica clips its own part of
  the batch's gradients); the learning rate decays as
  `optimization.learning_rate` says (Magenta's exponential).
- Evaluation: per step, the reconstruction NLL and accuracy teacher forced
  and with the decoder fed its own draws (`sampled_*`: what Magenta's eval
  reports for a model trained with scheduled sampling); per sequence the
  reconstruction loss, the KL in nats and bits, the KL cost after the free
  bits, and the ELBO; z drawn from the posterior, reproducibly for a seed.
- Generation (`musicrnn.generation.latent`), in one of three modes, each
  z decoded one step at a time in a compiled loop, every token drawn at
  `temperature`, and written as MIDI through the codec:
    sample       z ~ N(0, I) (Magenta's music_vae_generate --mode=sample);
    interpolate  `num_outputs` latents from that of one piece to that of
                 another by spherical interpolation, both ends included
                 (Magenta's --mode=interpolate), also written joined;
    reconstruct  the latent of one piece.
  A piece's latent is the posterior mean of its first window (the example
  the config's data would hold for it); an attribute vector times a scale
  can be added to every z.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from musicrnn.errors import UsageError
from musicrnn.generation import latent
from musicrnn.generation import outputs
from musicrnn.generation import sampler
from musicrnn.models import protocols
from musicrnn.tasks import base
from musicrnn.tasks import optimization

LN2 = math.log(2.0)
# Magenta's sampling schedules (lstm_utils.get_sampling_probability).
SCHEDULES = ('constant', 'exponential', 'inverse_sigmoid')


def whole_sequences(features, labels, weights, max_seq_len=None):
  """(tokens int32 [batch, time], mask float32 [batch, time]) of the whole
  sequences behind a batch of the shared input (`input.make_dataset`:
  tokens 0..n-2 as inputs, 1..n-1 as labels), cut to `max_seq_len` steps
  (Magenta's max_seq_len); the mask is 1 on real steps, and all 0 on a row
  that only pads a batch."""
  inputs = tf.cast(features['tokens'], tf.int32)
  tokens = tf.concat([inputs[:, :1], tf.cast(labels, tf.int32)], axis=1)
  weights = tf.cast(weights, tf.float32)
  real = tf.cast(tf.reduce_max(weights, axis=1, keepdims=True) > 0, tf.float32)
  mask = tf.concat([real, weights], axis=1)
  if max_seq_len:
    tokens, mask = tokens[:, :max_seq_len], mask[:, :max_seq_len]
  return tokens * tf.cast(mask, tf.int32), mask


def kl_divergence(mu, sigma):
  """KL(N(mu, sigma^2) || N(0, I)) in nats, summed over the last axis."""
  mu, sigma = tf.cast(mu, tf.float32), tf.cast(sigma, tf.float32)
  return tf.reduce_sum(
      -tf.math.log(sigma) + 0.5 * (tf.square(sigma) + tf.square(mu) - 1.0),
      axis=-1)


def kl_cost(kl, free_bits):
  """Magenta's KL cost: max(kl - free_bits * ln 2, 0), kl in nats."""
  return tf.maximum(kl - free_bits * LN2, 0.0)


def kl_beta(step, max_beta, beta_rate):
  """The KL weight at optimizer step `step`: (1 - beta_rate**step) *
  max_beta (0**0 is 1: beta is 0 at step 0)."""
  return (1.0 - tf.pow(tf.cast(beta_rate, tf.float32),
                       tf.cast(step, tf.float32))) * max_beta


def sampling_probability(step, schedule, rate):
  """The chance a training step's decoder reads its own draw rather than
  the data (Magenta's scheduled sampling): 'constant' `rate`;
  'exponential' 1 - rate**step; 'inverse_sigmoid' 1 - rate / (rate +
  exp(step / rate))."""
  step = tf.cast(step, tf.float32)
  if schedule == 'constant':
    return tf.constant(float(rate), tf.float32)
  if schedule == 'exponential':
    return 1.0 - tf.pow(float(rate), step)
  return 1.0 - rate / (rate + tf.exp(step / rate))


def check_schedule(schedule, rate):
  """Raises a UsageError for a schedule or rate Magenta refuses."""
  if schedule not in SCHEDULES:
    raise UsageError(f'train.sampling_schedule must be one of {SCHEDULES}, '
                     f'got {schedule!r}')
  if schedule == 'constant' and not 0 <= rate <= 1:
    raise UsageError(f"train.sampling_rate of the 'constant' schedule must be "
                     f'in [0, 1], got {rate}')
  if schedule == 'exponential' and not 0 < rate < 1:
    raise UsageError(f"train.sampling_rate of the 'exponential' schedule must "
                     f'be in (0, 1), got {rate}')
  if schedule == 'inverse_sigmoid' and rate < 1:
    raise UsageError(f"train.sampling_rate of the 'inverse_sigmoid' schedule "
                     f'must be at least 1, got {rate}')


def clip_gradients(grads, clip_norm, clip_to_zero, loss_scale=1.0):
  """Magenta's clipping: gradients scaled to global norm `clip_norm` at
  most, and all zero where that norm (of the unscaled gradients, the loss
  scaled by `loss_scale`) reaches `clip_to_zero`; non-finite gradients are
  left to the loss-scale optimizer."""
  norm = tf.linalg.global_norm([g for g in grads if g is not None])
  true_norm = norm / tf.cast(loss_scale, norm.dtype)
  factor = clip_norm / tf.maximum(true_norm, clip_norm)
  zero = tf.math.is_finite(norm) & (true_norm >= clip_to_zero)
  factor = tf.where(zero, 0.0, factor)
  return [None if g is None else g * tf.cast(factor, g.dtype) for g in grads]


def reconstruction(model, tokens, mask, z, seed_pair=None, sampled=None,
                   training=False):
  """(r_loss [batch] summed NLL of each sequence's real steps in nats,
  correct [batch] steps whose likeliest token is the data's, logits) of
  tokens decoded from z: teacher forced where `sampled` is None, else one
  step at a time, each step reading the decoder's own draw (from
  `seed_pair`) with probability `sampled` (`sampler.latent_loop`).

  A token of several parts (`model.part_sizes`, a trio's melody, bass and
  drums): its NLL is the parts' summed, and a step counts the share of
  its parts whose likeliest id is the data's (Magenta's
  SplitMultiOutLstmDecoder: losses summed, accuracies averaged)."""
  if sampled is None:
    logits = model.decode(z, {'tokens': tokens}, training=training)
  else:
    _, logits = sampler.latent_loop(
        model, z, tf.shape(tokens)[1], seed_pair, targets=tokens,
        sampling_probability=sampled, training=training)
  logits = tf.cast(logits, tf.float32)
  nll, correct = [], []
  for part_tokens, part_logits in zip(model.split_tokens(tokens),
                                      model.split_logits(logits)):
    nll.append(keras.losses.sparse_categorical_crossentropy(
        part_tokens, part_logits, from_logits=True))
    correct.append(tf.cast(tf.equal(
        tf.argmax(part_logits, -1, output_type=tf.int32), part_tokens),
                           tf.float32))
  nll = tf.add_n(nll)
  correct = tf.add_n(correct) / len(correct)
  return (tf.reduce_sum(nll * mask, axis=1),
          tf.reduce_sum(correct * mask, axis=1), logits)


class VariationalObjective:
  """Adam on Magenta's MusicVAE loss over the global batch's sequences (see
  the module docstring); the protocol of every objective is
  `musicrnn.tasks.base`'s. The config's `train` section holds Magenta's
  hparams: free_bits, max_beta, beta_rate, sampling_schedule,
  sampling_rate, clip_norm (grad_clip), grad_norm_clip_to_zero and the
  learning rate's decay."""

  bar_labels = ['loss', 'r_loss', 'kl_bits', 'accuracy']
  loss_unit = 'nats/sequence'

  def __init__(self, model, config, strategy, loss_scale=False):
    del strategy
    train = config.train
    self.model = model
    self.free_bits = float(train.free_bits)
    self.max_beta = float(train.max_beta)
    self.beta_rate = float(train.beta_rate)
    self.schedule = train.sampling_schedule
    self.rate = float(train.sampling_rate)
    check_schedule(self.schedule, self.rate)
    if self.schedule == 'constant' and self.rate == 0:
      self.schedule = None   # teacher forcing: the whole sequence at once
    self.clip_norm = float(train.clip_norm)
    self.clip_to_zero = float(train.grad_norm_clip_to_zero)
    adam = keras.optimizers.Adam(optimization.learning_rate(train))
    self.optimizers = {'optimizer': adam}
    self.optimizer = (keras.optimizers.LossScaleOptimizer(adam) if loss_scale
                      else adam)
    self.optimizer.build(model.trainable_variables)

  def _step(self):
    return tf.cast(self.optimizer.iterations, tf.float32)

  def replica_step(self, features, labels, weights):
    tokens, mask = whole_sequences(features, labels, weights,
                                   self.model.max_seq_len)
    real = tf.reduce_max(mask, axis=1)
    context = tf.distribute.get_replica_context()
    sequences = context.all_reduce(tf.distribute.ReduceOp.SUM,
                                   tf.reduce_sum(real))
    step = self._step()
    beta = kl_beta(step, self.max_beta, self.beta_rate)
    seed_pair = tf.stack([tf.cast(self.optimizer.iterations, tf.int64),
                          tf.cast(context.replica_id_in_sync_group, tf.int64)])
    sampled = (None if self.schedule is None else
               sampling_probability(step, self.schedule, self.rate))
    variables = self.model.trainable_variables
    with tf.GradientTape() as tape:
      mu, sigma = self.model.encode({'tokens': tokens, 'mask': mask},
                                    training=True)
      z = mu + sigma * tf.random.normal(tf.shape(mu), dtype=mu.dtype)
      r_loss, correct, _ = reconstruction(
          self.model, tokens, mask, z, seed_pair, sampled, training=True)
      kl = kl_divergence(mu, sigma) * real
      cost = kl_cost(kl, self.free_bits) * real
      summed = tf.reduce_sum(r_loss + beta * cost)
      loss = self.optimizer.scale_loss(summed / tf.maximum(sequences, 1.0))
    grads = tape.gradient(loss, variables)
    grads = clip_gradients(grads, self.clip_norm, self.clip_to_zero,
                           self.optimizer.scale_loss(1.0))
    self.optimizer.apply_gradients(
        [(g, v) for g, v in zip(grads, variables) if g is not None])
    return {'loss': summed, 'r_loss': tf.reduce_sum(r_loss),
            'kl': tf.reduce_sum(kl), 'kl_cost': tf.reduce_sum(cost),
            'correct': tf.reduce_sum(correct), 'steps': tf.reduce_sum(mask),
            'sequences': tf.reduce_sum(real)}

  def record(self, totals, steps, elapsed):
    del steps
    sequences = max(totals['sequences'], 1.0)
    step = self._step()
    return {
        'loss': totals['loss'] / sequences,
        'r_loss': totals['r_loss'] / sequences,
        'kl': totals['kl'] / sequences,
        'kl_bits': totals['kl'] / sequences / LN2,
        'kl_cost': totals['kl_cost'] / sequences,
        'accuracy': totals['correct'] / max(totals['steps'], 1.0),
        'beta': float(kl_beta(step, self.max_beta, self.beta_rate)),
        'sampling_probability': 0.0 if self.schedule is None else float(
            sampling_probability(step, self.schedule, self.rate)),
        'learning_rate': optimization.learning_rate_value(self.optimizer),
        'sequences': totals['sequences'],
        'sequences_per_second': totals['sequences'] / elapsed,
        # Real (unpadded) steps, the unit of the other tasks' events.
        'events_per_second': totals['steps'] / elapsed}

  @staticmethod
  def bar_values(record):
    return [('loss', record['loss']), ('r_loss', record['r_loss']),
            ('kl_bits', record['kl_bits']), ('accuracy', record['accuracy'])]

  @staticmethod
  def log_line(record):
    return ('loss {loss:.4f} (r_loss {r_loss:.4f}, KL {kl_bits:.2f} bits, beta '
            '{beta:.3g}) accuracy {accuracy:.4f} sampling '
            '{sampling_probability:.3f} lr {learning_rate:.2g} '
            '{steps_per_second:.2f} steps/s {sequences_per_second:.0f} '
            'sequences/s'.format(**record))


class VariationalEvaluation(base.SummedEvaluation):
  """A latent-variable model on every sequence of a split (see the module
  docstring). Arguments as NextTokenEvaluation's."""

  # -ELBO per sequence, an upper bound on -log p(sequence) in nats.
  selection_metric = 'nll_bound'

  def __init__(self, model, config, strategy=None, jit_compile=False,
               num_workers=1):
    self.free_bits = float(config.train.free_bits)
    super().__init__(model, self._sums, strategy, jit_compile, num_workers)

  def _batches(self, ds, seed):
    # Each example's seed (the evaluation's, and its index in the split):
    # every replica draws from its first example's.
    def with_seeds(index, batch):
      features, labels, weights = batch
      rows = tf.shape(labels, out_type=tf.int64)[0]
      seeds = tf.stack([tf.fill([rows], tf.constant(seed, tf.int64)),
                        index * 1_000_000 + tf.range(rows)], axis=1)
      return features, labels, weights, seeds
    return ds.enumerate().map(with_seeds)

  def _sums(self, features, labels, weights, seeds):
    model = self.model
    tokens, mask = whole_sequences(features, labels, weights, model.max_seq_len)
    real = tf.reduce_max(mask, axis=1)
    seed_pair = tf.stack([tf.reduce_max(seeds[:, 0]),
                          tf.reduce_min(seeds[:, 1])])
    mu, sigma = model.encode({'tokens': tokens, 'mask': mask})
    z = mu + sigma * tf.random.stateless_normal(
        tf.shape(mu), tf.random.experimental.stateless_fold_in(seed_pair, 0),
        dtype=mu.dtype)
    r_loss, correct, _ = reconstruction(model, tokens, mask, z)
    sampled_r_loss, sampled_correct, _ = reconstruction(
        model, tokens, mask, z,
        tf.random.experimental.stateless_fold_in(seed_pair, 1), sampled=1.0)
    kl = kl_divergence(mu, sigma) * real
    return [tf.reduce_sum(value) for value in (
        r_loss, correct, sampled_r_loss, sampled_correct, kl,
        kl_cost(kl, self.free_bits) * real, mask, real)]

  def evaluate(self, data, batch_size, *, split='eval', max_batches=None,
               seed=0, static_length=None):
    """Metrics over every sequence of `split` of `data`:

      nll_per_step, accuracy    the reconstruction's NLL (nats) and the
                                likeliest token's accuracy per real step,
                                teacher forced
      sampled_nll_per_step, sampled_accuracy   the same with the decoder
                                reading its own draws (temperature 1)
      r_loss, kl, kl_bits, kl_cost   per sequence: the reconstruction's NLL
                                summed over its steps, KL(q(z|x) || N(0, I))
                                in nats and bits, the KL after the free bits
      elbo, nll_bound           per sequence: -(r_loss + kl), and r_loss +
                                kl (>= -log p(sequence))
      sequences, steps, batches

    z is drawn from each sequence's posterior, and the sampled decoder's
    tokens drawn, from `seed` (the same seed, the same metrics).
    Arguments as NextTokenEvaluation.evaluate."""
    totals, batches = self._totals(data, batch_size, split, max_batches,
                                   static_length, seed)
    (r_loss, correct, sampled_r_loss, sampled_correct, kl, cost, steps,
     sequences) = totals or [0.0] * 8
    per_step, per_sequence = max(steps, 1.0), max(sequences, 1.0)
    return {
        'nll_per_step': r_loss / per_step, 'accuracy': correct / per_step,
        'sampled_nll_per_step': sampled_r_loss / per_step,
        'sampled_accuracy': sampled_correct / per_step,
        'r_loss': r_loss / per_sequence, 'kl': kl / per_sequence,
        'kl_bits': kl / per_sequence / LN2, 'kl_cost': cost / per_sequence,
        'elbo': -(r_loss + kl) / per_sequence,
        'nll_bound': (r_loss + kl) / per_sequence,
        'sequences': int(sequences), 'steps': int(steps), 'batches': batches}

  @staticmethod
  def describe(metrics):
    return (f'ELBO {metrics["elbo"]:.3f} nats/sequence (reconstruction '
            f'{metrics["r_loss"]:.3f}, KL {metrics["kl_bits"]:.2f} bits), '
            f'per step NLL {metrics["nll_per_step"]:.4f} and accuracy '
            f'{metrics["accuracy"]:.4f} teacher forced, '
            f'{metrics["sampled_nll_per_step"]:.4f} and '
            f'{metrics["sampled_accuracy"]:.4f} sampled, over '
            f'{metrics["sequences"]} sequences')


SAMPLE = 'sample'
INTERPOLATE = 'interpolate'
RECONSTRUCT = 'reconstruct'
# The options each mode reads its music from.
MODE_INPUTS = {SAMPLE: (), INTERPOLATE: ('input_midi_1', 'input_midi_2'),
               RECONSTRUCT: ('input_midi',)}


class VariationalTask(base.Task):
  """Latent-variable models trained on the ELBO (see the module
  docstring)."""

  name = 'variational'
  protocol = protocols.LatentVariableModel
  objective = VariationalObjective
  evaluation = VariationalEvaluation
  modes = (SAMPLE, INTERPOLATE, RECONSTRUCT)
  options = {'num_steps': None, 'num_bars': None, 'temperature': 1.0,
             'qpm': None, 'mode': SAMPLE, 'input_midi': None,
             'input_midi_1': None, 'input_midi_2': None,
             'attribute_vector': None, 'attribute_scale': 1.0}

  def generate(self, run, output_dir, *, num_outputs=1, seed=None,
               render_png=False, render_wav=False, num_steps=None,
               num_bars=None, temperature=1.0, qpm=None, mode=SAMPLE,
               input_midi=None, input_midi_1=None, input_midi_2=None,
               attribute_vector=None, attribute_scale=1.0):
    """Decodes `num_outputs` latents and writes them as MIDI; returns the
    paths.

    Args:
      run: a loaded run of a latent-variable model.
      num_steps: steps to decode (default the model's `max_seq_len`); or
      num_bars: bars of the codec's grid. A hierarchical decoder spans at
        most its `max_decode_steps`.
      temperature: divides the decoder's logits before each draw.
      qpm: the outputs' tempo (default the codec's, 120), which
        `runs.generate` sets in the run's codec.
      mode: 'sample' (z ~ N(0, I)), 'interpolate' (`num_outputs` >= 2
        latents from input_midi_1's to input_midi_2's, written as
        `num_outputs` files and one more of them joined,
        `<name>_interpolation.mid`) or 'reconstruct' (input_midi's latent,
        decoded `num_outputs` times).
      input_midi, input_midi_1, input_midi_2: music files (or NoteSequences)
        whose first window (`latent.first_window`) gives the latent.
      attribute_vector: a latent direction [z_size] (an array or a .npy
        file, `latent.load_vector`) added to every z, times
      attribute_scale.

    Raises:
      UsageError: a mode's music missing or given to another mode, music
        that gives no window, fewer than 2 interpolation steps, a bad
        attribute vector, a length the decoder cannot span.
    """
    del qpm
    outputs.check_steps(num_steps, None, num_bars)
    outputs.check_temperature(temperature)
    music = {'input_midi': input_midi, 'input_midi_1': input_midi_1,
             'input_midi_2': input_midi_2}
    check_mode_inputs(mode, music)
    if attribute_vector is None and attribute_scale != 1.0:
      raise UsageError('--attribute_scale scales --attribute_vector; give '
                       'the vector too')
    if mode == INTERPOLATE and num_outputs < 2:
      raise UsageError(f'--mode=interpolate writes --num_outputs steps from '
                       f'--input_midi_1 to --input_midi_2, both included: '
                       f'give 2 or more, got {num_outputs}')
    model = run.model
    steps = (num_steps if num_steps is not None else
             outputs.bar_steps(run.codec, num_bars) if num_bars is not None
             else model.max_seq_len)
    if steps < 1:
      raise UsageError(f'--num_steps must be at least 1, got {steps}')
    if model.max_decode_steps and steps > model.max_decode_steps:
      raise UsageError(
          f'the decoder of {run.config.name!r} spans at most '
          f'{model.max_decode_steps} steps; ask for at most that many '
          f'(--num_steps or --num_bars), got {steps}')
    vector = (None if attribute_vector is None else
              latent.load_vector(attribute_vector, model.z_size))
    if mode == SAMPLE:
      z = np.random.default_rng(seed).standard_normal(
          (num_outputs, model.z_size)).astype(np.float32)
    elif mode == RECONSTRUCT:
      z = np.repeat(latent.encode(run, [input_midi], '--input_midi'),
                    num_outputs, axis=0)
    else:
      windows = latent.Windows(run)
      z = latent.encode_windows(run, [
          latent.first_window(run, source, f'--{name}', windows)
          for name, source in (('input_midi_1', input_midi_1),
                               ('input_midi_2', input_midi_2))])
      z = latent.interpolation(z[0], z[1], num_outputs)
    if vector is not None:
      z = z + np.float32(attribute_scale) * vector
    sequences = latent.decode(run, z, num_steps=steps, temperature=temperature,
                              seed=seed)
    suffixes = None
    if mode == INTERPOLATE:
      step_seconds = run.codec.seconds_per_step()
      sequences.append(latent.join(
          sequences, None if step_seconds is None else steps * step_seconds))
      suffixes = [f'{i:03d}' for i in range(num_outputs)] + ['interpolation']
    return outputs.write_outputs(run.config.name, sequences, output_dir,
                                 step=run.step, render_png=render_png,
                                 render_wav=render_wav, suffixes=suffixes)


def check_mode_inputs(mode, music):
  """Raises a UsageError unless `music` ({option: a file or None}) gives
  exactly the inputs `mode` reads (`MODE_INPUTS`)."""
  if mode not in MODE_INPUTS:
    raise UsageError(f'--mode={mode}: one of {", ".join(MODE_INPUTS)}')
  wanted = MODE_INPUTS[mode]
  missing = [f'--{name}' for name in wanted if music.get(name) is None]
  if missing:
    raise UsageError(f'--mode={mode} reads {" and ".join(missing)}: give '
                     f'{"them" if len(missing) > 1 else "it"}')
  extra = [f'--{name}' for name, value in music.items()
           if value is not None and name not in wanted]
  if extra:
    others = ', '.join(f'--mode={other} reads '
                       + ' and '.join(f'--{n}' for n in names)
                       for other, names in MODE_INPUTS.items() if names)
    raise UsageError(f'{", ".join(extra)}: --mode={mode} reads '
                     f'{" and ".join("--" + n for n in wanted) or "no music"}'
                     f' ({others})')
