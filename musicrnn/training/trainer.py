"""The trainer: one loop for every autoregressive model family.

  summary = trainer.train(config, train_dir='/tmp/perf_dataset',
                          run_dir='/tmp/run', num_steps=1000)

- Reads a dataset folder of musicrnn_create_dataset (its dataset.json must
  name the config's encoding; another encoding is a UsageError).
- Builds the config's model under a tf.distribute strategy (the default
  strategy, MirroredStrategy, MultiWorkerMirroredStrategy or TPUStrategy:
  the caller makes it) and trains it with Adam and global-norm clipping.
- Checkpoints every `checkpoint_every` steps (the last `keep_checkpoints`
  kept) and resumes from the latest checkpoint of `run_dir` at its step,
  with the optimizer state; a checkpoint being written when the process is
  killed is never the one restored (TensorFlow updates its index last).
- Logs loss (nats per event), accuracy, learning rate, steps/s and events/s
  to TensorBoard (run_dir/train) and to the console, and evaluates NLL and
  accuracy on the eval split every `eval_every` steps (run_dir/eval,
  eval_metrics.json).
"""

import dataclasses
import logging
import math
import os
import time

import keras
import tensorflow as tf

from musicrnn import encodings
from musicrnn import models
from musicrnn.errors import UsageError
from musicrnn.tfrecords import description as description_lib
from musicrnn.tfrecords import input as input_lib
from musicrnn.tfrecords import schema
from musicrnn.training import run_dir as run_dir_lib


@dataclasses.dataclass
class TrainSummary:
  """What a call to `train` did."""
  run_dir: str
  start_step: int
  final_step: int
  resumed: bool
  history: list        # [{'step', 'loss', 'accuracy', ...}] per log interval
  evals: list          # [{'step', 'nll', 'perplexity', 'accuracy', 'events'}]


def check_encoding(config, description, data_dir):
  """Raises UsageError when a dataset was built for another encoding."""
  expected = encodings.codec_from_config(config).spec()
  if description['encoding'] != expected:
    raise UsageError(
        f'{data_dir} holds {description["encoding"]["name"]} data built for '
        f'config {description.get("config_name")!r} '
        f'({description["encoding"]}); config {config.name!r} needs '
        f'{expected}. Build a dataset with --config={config.name}')
  wanted = set(schema.sequence_features_for(config))
  if not wanted <= set(description['sequence_features']):
    missing = sorted(wanted - set(description['sequence_features']))
    raise UsageError(f'{data_dir} lacks the control signals {missing} that config '
                     f'{config.name!r} conditions on; build it with '
                     f'--config={config.name}')


def event_sums(model, features, labels, weights, training=False):
  """(summed NLL in nats, correct predictions, events) over real steps."""
  logits = model(features, training=training)
  nll = keras.losses.sparse_categorical_crossentropy(labels, logits,
                                                     from_logits=True)
  correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32),
                             labels), tf.float32)
  return (tf.reduce_sum(nll * weights), tf.reduce_sum(correct * weights),
          tf.reduce_sum(weights))


def make_eval_step(model, strategy):
  """A compiled function: distributed batch -> summed (nll, correct, events)."""

  @tf.function
  def eval_step(batch):
    values = strategy.run(lambda f, l, w: event_sums(model, f, l, w), args=batch)
    return [strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
            for v in values]

  return eval_step


def evaluate_model(model, data_dir, batch_size, *, split='eval',
                   description=None, strategy=None, max_batches=None,
                   eval_step=None):
  """NLL (nats per event), perplexity and accuracy of `model` on one split.

  Returns:
    {'nll', 'perplexity', 'accuracy', 'events', 'batches'}.
  """
  strategy = strategy or tf.distribute.get_strategy()
  eval_step = eval_step or make_eval_step(model, strategy)
  ds = input_lib.make_dataset(data_dir, split, batch_size, shuffle=False,
                              repeat=False, description=description)
  if max_batches:
    ds = ds.take(max_batches)
  totals = [0.0, 0.0, 0.0]
  batches = 0
  for batch in strategy.experimental_distribute_dataset(ds):
    totals = [t + float(v) for t, v in zip(totals, eval_step(batch))]
    batches += 1
  nll, correct, events = totals
  metrics = {'nll': nll / max(events, 1.0), 'accuracy': correct / max(events, 1.0),
             'events': int(events), 'batches': batches}
  metrics['perplexity'] = math.exp(min(metrics['nll'], 50.0))
  return metrics


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


def _sample_inputs(config, controls):
  inputs = {'tokens': tf.zeros((1, 2), tf.int32)}
  for name, control in controls:
    if name == 'note_density':
      inputs[name] = tf.zeros((1, 2), tf.int32)
    else:
      inputs[name] = tf.zeros((1, 2, control.size), tf.float32)
  return inputs


def train(config, train_dir, run_dir, *, num_steps, eval_dir=None,
          strategy=None, seed=None, checkpoint_every=200, keep_checkpoints=5,
          eval_every=200, log_every=20, eval_max_batches=None, progress=True):
  """Trains the config's model until the run reaches `num_steps`.

  Args:
    config: resolved config (overrides applied).
    train_dir: dataset folder; its train split is the training data.
    run_dir: where checkpoints, config.json and TensorBoard events go; an
      existing run of the same config resumes.
    num_steps: the total number of steps of the run (not of this call).
    eval_dir: dataset folder whose eval split is evaluated; default
      `train_dir` when it has eval data.
    strategy: a tf.distribute.Strategy (default: the default strategy).
    seed: seeds model initialisation and data shuffling.
    checkpoint_every, eval_every, log_every: intervals in steps.
    keep_checkpoints: how many checkpoints to keep.
    eval_max_batches: cap on eval batches per evaluation (None: whole split).
    progress: show a progress bar on the console.

  Returns:
    TrainSummary.
  """
  if num_steps < 1:
    raise UsageError(f'--num_steps must be at least 1, got {num_steps}')
  strategy = strategy or tf.distribute.get_strategy()
  description = description_lib.read_description(train_dir)
  check_encoding(config, description, train_dir)
  eval_dir = eval_dir or train_dir
  eval_description = (description if eval_dir == train_dir
                      else description_lib.read_description(eval_dir))
  if eval_dir != train_dir:
    check_encoding(config, eval_description, eval_dir)
  has_eval = bool(eval_description['splits']['eval']['files'])
  codec = encodings.codec_from_config(config)
  controls = encodings.controls_from_config(config)
  resumed = run_dir_lib.prepare(run_dir, config, codec.spec(), description,
                                os.path.abspath(train_dir)
                                if '://' not in train_dir else train_dir)
  if seed is not None:
    keras.utils.set_random_seed(seed)

  batch_size = config.train.batch_size
  with strategy.scope():
    model = models.build_model(config, codec, controls)
    model(_sample_inputs(config, controls))
    optimizer = keras.optimizers.Adam(learning_rate(config.train),
                                      global_clipnorm=config.train.clip_norm)
    optimizer.build(model.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64, name='step', trainable=False)
  checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step)
  manager = tf.train.CheckpointManager(
      checkpoint, run_dir_lib.checkpoint_dir(run_dir),
      max_to_keep=keep_checkpoints)
  if manager.latest_checkpoint:
    checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
    logging.info('musicrnn train: resumed from %s at step %d',
                 manager.latest_checkpoint, int(step.numpy()))
  start_step = int(step.numpy())
  summary = TrainSummary(run_dir, start_step, start_step, resumed or start_step > 0,
                         [], [])
  if start_step >= num_steps:
    logging.info('musicrnn train: %s is already at step %d >= --num_steps=%d',
                 run_dir, start_step, num_steps)
    return summary

  train_ds = input_lib.make_dataset(train_dir, 'train', batch_size, seed=seed,
                                    description=description)
  iterator = iter(strategy.experimental_distribute_dataset(train_ds))

  def train_replica(features, labels, weights):
    context = tf.distribute.get_replica_context()
    global_weight = context.all_reduce(tf.distribute.ReduceOp.SUM,
                                       tf.reduce_sum(weights))
    with tf.GradientTape() as tape:
      nll, correct, weight = event_sums(model, features, labels, weights, True)
      loss = nll / tf.maximum(global_weight, 1.0)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return nll, correct, weight

  def reduce(values):
    return [strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
            for v in values]

  @tf.function
  def train_step(iterator):
    values = strategy.run(train_replica, args=next(iterator))
    step.assign_add(1)
    return reduce(values)

  eval_step = make_eval_step(model, strategy)

  writer = tf.summary.create_file_writer(os.path.join(run_dir, 'train'))
  eval_writer = tf.summary.create_file_writer(os.path.join(run_dir, 'eval'))

  def evaluate():
    metrics = {'step': int(step.numpy())}
    metrics.update(evaluate_model(model, eval_dir, batch_size,
                                  description=eval_description,
                                  strategy=strategy, max_batches=eval_max_batches,
                                  eval_step=eval_step))
    with eval_writer.as_default(step=int(step.numpy())):
      for key in ('nll', 'accuracy', 'perplexity'):
        tf.summary.scalar(key, metrics[key])
    run_dir_lib.write_json_atomically(
        os.path.join(run_dir, run_dir_lib.EVAL_METRICS_JSON), metrics)
    logging.info('musicrnn train: eval at step %d: NLL %.4f nats/event, '
                 'perplexity %.2f, accuracy %.4f over %d events', metrics['step'],
                 metrics['nll'], metrics['perplexity'], metrics['accuracy'],
                 metrics['events'])
    summary.evals.append(metrics)

  bar = keras.utils.Progbar(num_steps, stateful_metrics=['loss', 'accuracy', 'events/s']) \
      if progress else None
  totals = [0.0, 0.0, 0.0]
  interval_start = time.time()
  interval_steps = 0
  logging.info('musicrnn train: config %s, %s, steps %d -> %d, batch %d, '
               '%d replica(s)', config.name, type(model).__name__, start_step,
               num_steps, batch_size, strategy.num_replicas_in_sync)
  while int(step.numpy()) < num_steps:
    values = train_step(iterator)
    totals = [t + float(v) for t, v in zip(totals, values)]
    interval_steps += 1
    current = int(step.numpy())
    if current % log_every == 0 or current == num_steps:
      elapsed = max(time.time() - interval_start, 1e-9)
      nll, correct, events = totals
      record = {
          'step': current,
          'loss': nll / max(events, 1.0),
          'accuracy': correct / max(events, 1.0),
          'learning_rate': float(keras.ops.convert_to_numpy(optimizer.learning_rate)),
          'steps_per_second': interval_steps / elapsed,
          'events_per_second': events / elapsed,
      }
      summary.history.append(record)
      with writer.as_default(step=current):
        for key, value in record.items():
          if key != 'step':
            tf.summary.scalar(key, value)
      if bar is not None:
        bar.update(current, values=[('loss', record['loss']),
                                    ('accuracy', record['accuracy']),
                                    ('events/s', record['events_per_second'])])
      logging.info('musicrnn train: step %d loss %.4f accuracy %.4f lr %.2g '
                   '%.2f steps/s %.0f events/s', current, record['loss'],
                   record['accuracy'], record['learning_rate'],
                   record['steps_per_second'], record['events_per_second'])
      totals = [0.0, 0.0, 0.0]
      interval_steps = 0
    if current % checkpoint_every == 0 or current == num_steps:
      manager.save(checkpoint_number=current)
    if has_eval and (current % eval_every == 0 or current == num_steps):
      evaluate()
    if interval_steps == 0:
      # Checkpoints and evaluations do not count against training speed.
      interval_start = time.time()
  writer.flush()
  eval_writer.flush()
  summary.final_step = int(step.numpy())
  return summary
