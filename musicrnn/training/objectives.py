"""Training objectives: what one training step of a family does and reports.

`config.train.objective` names the objective; the trainer's loop is the
same for all of them (strategy, checkpoints, logging, evaluation):

  next_token   autoregressive models (event LSTM, transformer, CNN): Adam on
               the mean NLL of every real next event, global-norm clipping;
  adversarial  the piano-roll GAN: its critic and generator updates;
  multi_label  frame models (the piano-roll LSTM): Adam on the mean loss per
               bit of every real next frame (binary cross-entropy or focal
               loss, `train.loss`), global-norm clipping;
  multi_head   models with a softmax head per part of a step (the note
               LSTM): Adam on the mean of the heads' summed NLL per step.

An objective, made in the strategy's scope, has
  optimizers            {name: optimizer} the checkpoint holds;
  replica_step(*batch)  one replica's update on its part of a batch
                        (traced by the trainer, with XLA when asked);
                        returns {name: value summed over the replica};
  record(totals, steps, elapsed)
                        the metrics of a log interval from the summed
                        values of its steps;
  log_line(record), bar_labels, bar_values(record)
                        the console's line and progress bar;
  evaluation            the `musicrnn.metrics.evaluation` class that scores
                        the model on the eval split.
"""

import keras
import tensorflow as tf

from musicrnn.errors import UsageError
from musicrnn.metrics import evaluation as evaluation_lib
from musicrnn.tfrecords import schema


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


class NextTokenObjective:
  """Autoregressive models: Adam on the summed NLL of the real events over
  the global batch's events; with `loss_scale` (float16), Adam in a
  LossScaleOptimizer."""

  evaluation = evaluation_lib.NextTokenEvaluation
  bar_labels = ['loss', 'accuracy', 'lr', 'events/s']

  def __init__(self, model, config, strategy, loss_scale=False):
    del strategy
    self.model = model
    self.config = config
    adam = keras.optimizers.Adam(learning_rate(config.train),
                                 global_clipnorm=config.train.clip_norm)
    # The checkpoint holds Adam's state, not the loss scale (which starts
    # afresh on resume): a run resumes at any precision.
    self.optimizers = {'optimizer': adam}
    self.optimizer = (keras.optimizers.LossScaleOptimizer(adam) if loss_scale
                      else adam)
    self.optimizer.build(model.trainable_variables)

  def sums(self, features, labels, weights):
    """(summed loss, then what `record` reports) over a replica's batch."""
    nll, correct, events = evaluation_lib.event_sums(
        self.model, features, labels, weights, training=True)
    return nll, {'nll': nll, 'correct': correct, 'events': events}

  def replica_step(self, features, labels, weights):
    context = tf.distribute.get_replica_context()
    global_weight = context.all_reduce(tf.distribute.ReduceOp.SUM,
                                       tf.reduce_sum(weights))
    variables = self.model.trainable_variables
    with tf.GradientTape() as tape:
      summed, values = self.sums(features, labels, weights)
      loss = summed / tf.maximum(global_weight, 1.0)
      # Adam leaves the loss as it is; a LossScaleOptimizer scales it, and
      # unscales the gradients before clipping them.
      loss = self.optimizer.scale_loss(loss)
    grads = tape.gradient(loss, variables)
    self.optimizer.apply_gradients(zip(grads, variables))
    return values

  def record(self, totals, steps, elapsed):
    del steps
    events = max(totals['events'], 1.0)
    return {'loss': totals['nll'] / events, 'accuracy': totals['correct'] / events,
            'learning_rate': learning_rate_value(self.optimizer),
            'events': totals['events'],
            'events_per_second': totals['events'] / elapsed}

  @staticmethod
  def bar_values(record):
    return [('loss', record['loss']), ('accuracy', record['accuracy']),
            ('lr', record['learning_rate']),
            ('events/s', record['events_per_second'])]

  @staticmethod
  def log_line(record):
    return ('loss {loss:.4f} accuracy {accuracy:.4f} lr {learning_rate:.2g} '
            '{steps_per_second:.2f} steps/s {events_per_second:.0f} '
            'events/s'.format(**record))


class AdversarialObjective:
  """The piano-roll GAN: the model's own critic and generator updates
  (`PianorollGAN.train_step`) with its two optimizers; its metrics are
  averaged over replicas and steps."""

  evaluation = evaluation_lib.PianorollEvaluation
  bar_labels = ['critic', 'generator', 'W']

  def __init__(self, model, config, strategy, loss_scale=False):
    self.model = model
    self.replicas = strategy.num_replicas_in_sync
    del config   # the model holds its learning rates
    self.optimizers = model.make_optimizers(loss_scale=loss_scale)

  def replica_step(self, features):
    rolls = features[schema.PIANOROLL]
    values = self.model.train_step(rolls)
    values['segments'] = tf.cast(tf.shape(rolls)[0], tf.float32)
    return values

  def record(self, totals, steps, elapsed):
    # Each step's value is the sum over replicas of replica means.
    record = {name: value / (steps * self.replicas)
              for name, value in totals.items() if name != 'segments'}
    record['segments'] = totals['segments']
    record['segments_per_second'] = totals['segments'] / elapsed
    for name, optimizer in self.optimizers.items():
      record[name.replace('optimizer', 'learning_rate')] = learning_rate_value(
          optimizer)
    return record

  @staticmethod
  def bar_values(record):
    return [('critic', record['critic_loss']),
            ('generator', record['generator_loss']),
            ('W', record['wasserstein'])]

  @staticmethod
  def log_line(record):
    return ('critic_loss {critic_loss:.4f} generator_loss {generator_loss:.4f} '
            'gradient_penalty {gradient_penalty:.4f} wasserstein '
            '{wasserstein:.4f} {steps_per_second:.2f} steps/s '
            '{segments_per_second:.0f} segments/s'.format(**record))


class MultiLabelObjective(NextTokenObjective):
  """Frame models: Adam on the summed loss of the real frames (the mean
  over each frame's bits: `train.loss` 'bce' or 'focal') over the global
  batch's frames; the optimizer as NextTokenObjective's."""

  evaluation = evaluation_lib.MultiLabelEvaluation
  bar_labels = ['loss', 'onset F1', 'lr', 'frames/s']

  def sums(self, features, labels, weights):
    loss, bce, frames, hits, predicted, true, _, _ = evaluation_lib.frame_sums(
        self.model, self.config.train, features, labels, weights, training=True)
    return loss, {'loss': loss, 'bce': bce, 'frames': frames,
                  'onset_hits': hits, 'onsets_predicted': predicted,
                  'onsets': true}

  def record(self, totals, steps, elapsed):
    del steps
    frames = max(totals['frames'], 1.0)
    hits = totals['onset_hits']
    return {'loss': totals['loss'] / frames, 'bce': totals['bce'] / frames,
            'onset_f1': 2 * hits / max(totals['onsets_predicted']
                                       + totals['onsets'], 1.0),
            'learning_rate': learning_rate_value(self.optimizer),
            'frames': totals['frames'],
            'frames_per_second': totals['frames'] / elapsed}

  @staticmethod
  def bar_values(record):
    return [('loss', record['loss']), ('onset F1', record['onset_f1']),
            ('lr', record['learning_rate']),
            ('frames/s', record['frames_per_second'])]

  @staticmethod
  def log_line(record):
    return ('loss {loss:.4f} bce {bce:.4f} onset_f1 {onset_f1:.3f} lr '
            '{learning_rate:.2g} {steps_per_second:.2f} steps/s '
            '{frames_per_second:.0f} frames/s'.format(**record))


class MultiHeadObjective(NextTokenObjective):
  """Models with a softmax head per part of a step (the note LSTM): Adam on
  the summed NLL of every head (the NLL of the whole step) over the global
  batch's steps; the optimizer as NextTokenObjective's."""

  evaluation = evaluation_lib.MultiHeadEvaluation

  def sums(self, features, labels, weights):
    values = evaluation_lib.head_sums(self.model, features, labels, weights,
                                      training=True)
    heads = self.model.head_names
    named = {'nll': values[0], 'correct': values[-2], 'events': values[-1]}
    named.update({f'nll_{name}': value
                  for name, value in zip(heads, values[1:1 + len(heads)])})
    return values[0], named

  def record(self, totals, steps, elapsed):
    record = super().record(totals, steps, elapsed)
    events = max(totals['events'], 1.0)
    for name in self.model.head_names:
      record[f'loss_{name}'] = totals[f'nll_{name}'] / events
    return record

  def log_line(self, record):
    heads = ' '.join(f'{name} {record[f"loss_{name}"]:.4f}'
                     for name in self.model.head_names)
    return (f'loss {record["loss"]:.4f} ({heads}) accuracy '
            f'{record["accuracy"]:.4f} lr {record["learning_rate"]:.2g} '
            f'{record["steps_per_second"]:.2f} steps/s '
            f'{record["events_per_second"]:.0f} onsets/s')


# config.train.objective -> objective; the same names as the evaluations.
OBJECTIVES = {
    'next_token': NextTokenObjective,
    'adversarial': AdversarialObjective,
    'multi_label': MultiLabelObjective,
    'multi_head': MultiHeadObjective,
}
assert set(OBJECTIVES) == set(evaluation_lib.EVALUATIONS)


def for_config(config):
  """The objective class of `config.train.objective` (an unknown name is the
  evaluation's UsageError: both tables have the same names)."""
  evaluation_lib.for_config(config)
  return OBJECTIVES[config['train']['objective']]
