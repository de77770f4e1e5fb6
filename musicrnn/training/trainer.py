"""The trainer: one loop for every autoregressive model family.

  summary = trainer.train(config, train_data='/tmp/perf_dataset',
                          run_dir='/tmp/run', num_steps=1000)

- Reads training data through `musicrnn.tfrecords.sources`: a dataset
  folder of musicrnn_create_dataset, a TFDS dataset of musicrnn's builder,
  or a TFRecord glob. Its encoding must be the config's (another encoding
  is a UsageError).
- Builds the config's model under a tf.distribute strategy (the default
  strategy, MirroredStrategy, MultiWorkerMirroredStrategy or TPUStrategy:
  the caller makes it) and trains it with Adam and global-norm clipping.
- Checkpoints every `checkpoint_every` steps (the last `keep_checkpoints`
  kept) and resumes from the latest checkpoint of `run_dir` at its step,
  with the optimizer state; a checkpoint being written when the process is
  killed is never the one restored (TensorFlow updates its index last), and
  an unreadable newest checkpoint is skipped, with a warning, for the one
  before.
- Under MultiWorkerMirroredStrategy every worker runs this loop; the chief
  writes the run directory, the others checkpoint to a scratch folder that
  they delete (TensorFlow's multi-worker pattern), and each worker reads
  its share of every batch.
- With a seed, TensorFlow's op determinism is on: the same seed gives the
  same loss curve.
- XLA (`jit_compile`) compiles the replica's train and eval steps, by
  default for the families it trains faster (XLA_FAMILIES). It then reads
  static-shape batches (`static_input_length`), as it does on TPUs: XLA compiles
  once per input shape.
- Mixed precision (`mixed_precision`): the model computes in bfloat16 or
  float16 with float32 variables, logits and loss; float16 scales the loss
  (keras.optimizers.LossScaleOptimizer).
- Logs loss (nats per event), accuracy, learning rate, steps/s and events/s
  to TensorBoard (run_dir/train) and to the console, and evaluates NLL and
  accuracy on the eval split every `eval_every` steps (run_dir/eval,
  eval_metrics.json).
"""

import contextlib
import dataclasses
import json
import logging
import math
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from musicrnn import configs
from musicrnn import encodings
from musicrnn import models
from musicrnn import paths
from musicrnn.errors import OutOfMemoryError
from musicrnn.errors import UsageError
from musicrnn.errors import first_line
from musicrnn.metrics import pianoroll as pianoroll_metrics
from musicrnn.tfrecords import input as input_lib
from musicrnn.tfrecords import schema
from musicrnn.tfrecords import sources
from musicrnn.training import run_dir as run_dir_lib
from musicrnn.training import strategy as strategy_lib


@dataclasses.dataclass
class TrainSummary:
  """What a call to `train` did."""
  run_dir: str
  start_step: int
  final_step: int
  resumed: bool
  history: list        # [{'step', 'loss', 'accuracy', ...}] per log interval
  evals: list          # [{'step', 'nll', 'perplexity', 'accuracy', 'events'}]


def check_encoding(config, description, data_dir, training=True):
  """Raises UsageError when a dataset was built for another encoding, other
  control signals, or (`training`) other data settings than `config`'s."""
  expected = encodings.codec_from_config(config).spec()
  if description['encoding'] != expected:
    raise UsageError(
        f'{data_dir} holds {description["encoding"]["name"]} data built for '
        f'config {description.get("config_name")!r} '
        f'({description["encoding"]}); config {config.name!r} needs '
        f'{expected}. Build a dataset with --config={config.name}')
  check_data_settings(config, description, data_dir, training)
  wanted = set(schema.sequence_features_for(config))
  if not wanted <= set(description['sequence_features']):
    missing = sorted(wanted - set(description['sequence_features']))
    raise UsageError(f'{data_dir} lacks the control signals {missing} that config '
                     f'{config.name!r} conditions on; build it with '
                     f'--config={config.name}')


# Settings a model depends on that are fixed when the data is built: how
# long examples are and how they were cut, and what the control signals mean.
DATA_SETTINGS = ('data.chunk_seconds', 'data.split_on_time_changes',
                 'data.long_sequences', 'data.max_events', 'data.length_unit')
CONTROL_SETTINGS = {
    'note_density': ('controls.note_density_window_seconds',
                     'controls.note_density_bins'),
    'pitch_histogram': ('controls.pitch_histogram_window_seconds',),
}
_DEFAULTS = {'data.length_unit': 'events'}


def _setting(config, dotted):
  """A setting of a config as JSON (a dict), None when it lacks it."""
  value = config
  for part in dotted.split('.'):
    value = value.get(part) if isinstance(value, dict) else None
  return _DEFAULTS.get(dotted) if value is None else value


def data_settings(description):
  """{dotted name: value} of the DATA_SETTINGS data was built with (empty for
  data that does not record its config), for `configs.apply_overrides`: a
  config trained on that data must have them."""
  built = description.get('config') or {}
  settings = {}
  for name in DATA_SETTINGS:
    value = _setting(built, name)
    if value is not None:
      settings[name] = tuple(value) if isinstance(value, list) else value
  return settings


def check_data_settings(config, description, data_dir, training=True):
  """Raises UsageError, naming both values, when the data was built with
  other settings than `config`: the meaning of the control signals the
  config uses (CONTROL_SETTINGS) and, for training, how examples are cut
  (DATA_SETTINGS; a model is scored on any cut of the music). Data that does
  not record its config (a TFRecord glob) is not checked."""
  built = description.get('config')
  if not built:
    return
  ours_config = json.loads(configs.to_json(config))
  names = list(DATA_SETTINGS) if training else []
  for control, settings in CONTROL_SETTINGS.items():
    if config.controls.get(control):
      names.extend(settings)
  differ = [(name, _setting(ours_config, name), _setting(built, name))
            for name in names]
  differ = [(name, ours, theirs) for name, ours, theirs in differ
            if ours != theirs]
  if differ:
    built_with = ', '.join(f'{name}={theirs!r}' for name, _, theirs in differ)
    has = ', '.join(f'{name}={ours!r}' for name, ours, _ in differ)
    flags_ = ' '.join(f'--config.{name}={json.dumps(theirs)}'
                      for name, _, theirs in differ)
    remedy = (f'rebuild the data with this config, or train with {flags_}'
              if training else 'score it on data built with its config')
    raise UsageError(f'{data_dir} was built with {built_with}, but config '
                     f'{config.name!r} has {has}; {remedy}')


def event_sums(model, features, labels, weights, training=False):
  """(summed NLL in nats, correct predictions, events) over real steps."""
  logits = model(features, training=training)
  nll = keras.losses.sparse_categorical_crossentropy(labels, logits,
                                                     from_logits=True)
  correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32),
                             labels), tf.float32)
  return (tf.reduce_sum(nll * weights), tf.reduce_sum(correct * weights),
          tf.reduce_sum(weights))


def _compiled(fn, jit_compile):
  """`fn` as an XLA-compiled tf.function, or as it is (traced into its
  caller's tf.function)."""
  return tf.function(fn, jit_compile=True) if jit_compile else fn


def make_eval_step(model, strategy, jit_compile=False):
  """A compiled function: distributed batch -> summed (nll, correct, events);
  with `jit_compile`, each replica's part is compiled by XLA."""
  sums = _compiled(lambda f, l, w: event_sums(model, f, l, w), jit_compile)

  @tf.function
  def eval_step(batch):
    values = strategy.run(sums, args=batch)
    return [strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
            for v in values]

  return eval_step


def evaluate_model(model, data, batch_size, *, split='eval', strategy=None,
                   max_batches=None, eval_step=None, seed=0, static_length=None):
  """Evaluates `model` on one split of `data` (a DataSource or what
  `sources.open_source` opens); `static_length`: read batches of one shape
  (see `input.make_dataset`), the same metrics.

  Autoregressive models: NLL (nats per event), perplexity and accuracy,
  {'nll', 'perplexity', 'accuracy', 'events', 'batches'}. Models that train
  with their own step (the piano-roll GAN) have no likelihood: see
  `evaluate_pianoroll_gan`.
  """
  if has_own_train_step(model):
    return evaluate_pianoroll_gan(model, data, batch_size, split=split,
                                  max_batches=max_batches, seed=seed)
  strategy = strategy or tf.distribute.get_strategy()
  eval_step = eval_step or make_eval_step(model, strategy)
  ds = input_lib.make_dataset(data, split, batch_size, shuffle=False,
                              repeat=False, static_length=static_length)
  if max_batches:
    ds = ds.take(max_batches)
  totals = [0.0, 0.0, 0.0]
  batches = 0
  for batch in strategy.experimental_distribute_dataset(
      _shard_per_worker(ds, strategy)):
    totals = [t + float(v) for t, v in zip(totals, eval_step(batch))]
    batches += 1
  nll, correct, events = totals
  metrics = {'nll': nll / max(events, 1.0), 'accuracy': correct / max(events, 1.0),
             'events': int(events), 'batches': batches}
  metrics['perplexity'] = math.exp(min(metrics['nll'], 50.0))
  return metrics


# Segments generated for the GAN's evaluation.
GAN_EVAL_SAMPLES = 100


def _shard_per_worker(dataset, strategy):
  """Each worker of a multi-worker strategy keeps its share of every batch
  (sharding by file would need a file per worker)."""
  if strategy_lib.num_workers(strategy) == 1:
    return dataset
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = (
      tf.data.experimental.AutoShardPolicy.DATA)
  return dataset.with_options(options)


def has_own_train_step(model):
  """True for models that define their own training step (the GAN)."""
  return hasattr(model, 'make_optimizers')


def evaluate_pianoroll_gan(model, data, batch_size, *, split='eval',
                           max_batches=None, num_samples=GAN_EVAL_SAMPLES,
                           seed=0):
  """MuseGAN metrics of the split's real segments and of `num_samples`
  generated ones (cells above 0.5 sound), and the critic's Wasserstein
  estimate mean D(real) - mean D(generated).

  Returns:
    {'eval_data': metrics, 'generated': metrics, 'wasserstein', 'segments',
    'batches'}; metrics as `musicrnn.metrics.pianoroll.pianoroll_metrics`.
  """
  source = sources.open_source(data)
  settings = encodings.codec.codec_from_spec(
      source.description['encoding']).settings
  ds = input_lib.make_dataset(source, split, batch_size, shuffle=False,
                              repeat=False)
  if max_batches:
    ds = ds.take(max_batches)
  real, real_scores, batches = [], [], 0
  for (features,) in ds:
    rolls = features[schema.PIANOROLL]
    real.append(rolls.numpy())
    real_scores.append(model.critic(rolls[..., None]).numpy()[:, 0])
    batches += 1
  generated = model({'noise': model.noise(num_samples, seed=(seed, 0))}).numpy()
  generated_scores = model.critic(generated[..., None]).numpy()[:, 0]
  real = np.concatenate(real) if real else np.zeros((0,) + generated.shape[1:])
  steps_per_bar = settings.steps_per_bar
  return {
      'eval_data': pianoroll_metrics.pianoroll_metrics(real, steps_per_bar,
                                                       settings.min_pitch),
      'generated': pianoroll_metrics.pianoroll_metrics(generated > 0.5,
                                                       steps_per_bar,
                                                       settings.min_pitch),
      'wasserstein': (float(np.concatenate(real_scores).mean()
                            - generated_scores.mean()) if real_scores
                      else float('nan')),
      'segments': int(len(real)),
      'batches': batches,
  }


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


def _scalars(metrics, prefix=''):
  """(name, value) for every number in a nested dict, names joined by '/'."""
  for key, value in metrics.items():
    if isinstance(value, dict):
      yield from _scalars(value, f'{prefix}{key}/')
    elif isinstance(value, (int, float)) and math.isfinite(value):
      yield f'{prefix}{key}', value


def _oom_line(error):
  """The line of a ResourceExhaustedError that says how much was asked."""
  for line in str(error).splitlines():
    if 'Out of memory' in line or 'OOM' in line:
      return line.strip()
  return first_line(error)


def _learning_rate_value(optimizer):
  return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


class _EventObjective:
  """Autoregressive models: Adam on the summed NLL of the real events;
  with `loss_scale` (float16), Adam in a LossScaleOptimizer."""

  def __init__(self, model, config, strategy, loss_scale=False):
    del strategy
    self.model = model
    adam = keras.optimizers.Adam(learning_rate(config.train),
                                 global_clipnorm=config.train.clip_norm)
    # The checkpoint holds Adam's state, not the loss scale (which starts
    # afresh on resume): a run resumes at any precision.
    self.optimizers = {'optimizer': adam}
    self.optimizer = (keras.optimizers.LossScaleOptimizer(adam) if loss_scale
                      else adam)
    self.optimizer.build(model.trainable_variables)

  def replica_step(self, features, labels, weights):
    context = tf.distribute.get_replica_context()
    global_weight = context.all_reduce(tf.distribute.ReduceOp.SUM,
                                       tf.reduce_sum(weights))
    variables = self.model.trainable_variables
    with tf.GradientTape() as tape:
      nll, correct, weight = event_sums(self.model, features, labels, weights,
                                        True)
      loss = nll / tf.maximum(global_weight, 1.0)
      # Adam leaves the loss as it is; a LossScaleOptimizer scales it, and
      # unscales the gradients before clipping them.
      loss = self.optimizer.scale_loss(loss)
    grads = tape.gradient(loss, variables)
    self.optimizer.apply_gradients(zip(grads, variables))
    return {'nll': nll, 'correct': correct, 'events': weight}

  def record(self, totals, steps, elapsed):
    del steps
    events = max(totals['events'], 1.0)
    return {'loss': totals['nll'] / events, 'accuracy': totals['correct'] / events,
            'learning_rate': _learning_rate_value(self.optimizer),
            'events': totals['events'],
            'events_per_second': totals['events'] / elapsed}

  bar_labels = ['loss', 'accuracy', 'lr', 'events/s']

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

  @staticmethod
  def describe_eval(metrics):
    return (f'NLL {metrics["nll"]:.4f} nats/event, perplexity '
            f'{metrics["perplexity"]:.2f}, accuracy {metrics["accuracy"]:.4f} '
            f'over {metrics["events"]} events')


class _OwnStepObjective:
  """Models with their own `train_step` (the piano-roll GAN): the model's
  step and optimizers; its metrics are averaged over replicas and steps."""

  def __init__(self, model, config, strategy, loss_scale=False):
    self.model = model
    self.replicas = strategy.num_replicas_in_sync
    self.optimizers = model.make_optimizers(config.model.generator_learning_rate,
                                            config.model.critic_learning_rate,
                                            loss_scale=loss_scale)

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
      record[name.replace('optimizer', 'learning_rate')] = _learning_rate_value(
          optimizer)
    return record

  bar_labels = ['critic', 'generator', 'W']

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

  @staticmethod
  def describe_eval(metrics):
    real, fake = metrics['eval_data'], metrics['generated']
    return ('eval data vs generated: empty bars {:.3f} / {:.3f}, pitch classes '
            'per bar {:.2f} / {:.2f}, qualified notes {:.3f} / {:.3f}; '
            'Wasserstein estimate {:.3f}'.format(
                real['empty_bar_rate'], fake['empty_bar_rate'],
                real['used_pitch_classes'], fake['used_pitch_classes'],
                real['qualified_note_rate'], fake['qualified_note_rate'],
                metrics['wasserstein']))


def describe_eval(metrics):
  """One line for an evaluation's metrics, of either kind."""
  if 'generated' in metrics:
    return _OwnStepObjective.describe_eval(metrics)
  return _EventObjective.describe_eval(metrics)


# Families whose steps XLA trains faster on a CPU (benchmarks/xla_benchmark.py:
# the transformer 1.5-1.6x, the GAN 1.2-1.8x; the event LSTM 0.3-0.4x, its
# recurrent loop; the dilated CNN 0.95x): jit_compile=None turns XLA on for them.
XLA_FAMILIES = ('music_transformer', 'pianoroll_gan')

PRECISIONS = ('none', 'mixed_bfloat16', 'mixed_float16')


def _has_static_shape(config):
  """Whether one shape fits every example: a piano roll's segment, or at
  most data.max_events tokens (not when max_events counts steps)."""
  data = config['data']
  return config['encoding']['name'] == 'pianoroll' or bool(
      data['max_events'] and data.get('length_unit', 'events') == 'events')


def use_jit_compile(config, jit_compile=None, *, replicas=1, tpu=False):
  """Whether `train` has XLA compile each replica's train and eval step.

  Args:
    config: the run's config.
    jit_compile: True or False; None (auto): on for XLA_FAMILIES when one
      shape fits every example (XLA needs static shapes,
      `static_input_length`).
    replicas: replicas in sync. XLA would compile a replica's step with its
      all-reduce, which MirroredStrategy runs outside XLA: several replicas
      turn auto off, and True is a UsageError.
    tpu: TPUStrategy compiles every step with XLA itself: False.
  """
  if tpu:
    return False
  if jit_compile is None:
    return (replicas == 1 and config['family'] in XLA_FAMILIES
            and _has_static_shape(config))
  if jit_compile and replicas > 1:
    raise UsageError(f'XLA (--jit_compile=on) compiles one replica\'s step; '
                     f'with {replicas} replicas train with --jit_compile=off')
  return bool(jit_compile)


def static_input_length(config, *, static_shapes=None, tpu=False,
                        jit_compile=False):
  """The steps every training batch is padded to (one shape for all), or
  None for batches padded to their longest example.

  Args:
    config: the run's config.
    static_shapes: True or False forces the choice; None (auto) picks static
      shapes on TPUs (`tpu`), which need them, and with XLA (`jit_compile`),
      which compiles the step again for every new shape.
    tpu: the strategy is a TPUStrategy (`strategy.is_tpu`).
    jit_compile: XLA compiles the steps.

  Returns:
    `data.max_events` for event encodings: no example has more tokens
    (longer ones are split, truncated or cropped to it), so its inputs and
    labels, one shorter, fit with a step of padding; max_events keeps the
    length a round number (TPU tiles of 128) where max_events - 1 would
    not. A piano roll's segment steps, its one shape already. None when off.

  Raises:
    UsageError: the config bounds no token length (no max_events, or
      `data.length_unit='steps'`).
  """
  if static_shapes is None:
    static_shapes = tpu or jit_compile
  if not static_shapes:
    return None
  if not _has_static_shape(config):
    raise UsageError(
        'static shapes (on TPUs and with XLA) pad examples to '
        f'data.max_events tokens, and config {config["name"]!r} bounds no '
        'token length (data.max_events unset, or counted in steps); train '
        'without them (--jit_compile=off, not on a TPU)')
  if config['encoding']['name'] == 'pianoroll':
    return encodings.codec_from_config(config).segment_shape[0]
  return int(config['data']['max_events'])


@contextlib.contextmanager
def _dtype_policy(mixed_precision):
  """Keras' global dtype policy is `mixed_precision` ('none': float32) in
  the block (layers take it when built), and as before after it."""
  if mixed_precision not in PRECISIONS:
    raise UsageError(f'mixed_precision must be one of {", ".join(PRECISIONS)}, '
                     f'got {mixed_precision!r}')
  previous = keras.config.dtype_policy()
  keras.config.set_dtype_policy(
      'float32' if mixed_precision == 'none' else mixed_precision)
  try:
    yield
  finally:
    keras.config.set_dtype_policy(previous)


def train(config, train_data, run_dir, *, num_steps, eval_data=None,
          tfds_data_dir=None, strategy=None, seed=None, checkpoint_every=200,
          keep_checkpoints=5, eval_every=200, log_every=20,
          eval_max_batches=None, progress=True, jit_compile=None,
          static_shapes=None, mixed_precision='none'):
  """Trains the config's model until the run reaches `num_steps`.

  Args:
    config: resolved config (overrides applied).
    train_data: its train split is the training data: a dataset folder,
      a TFDS dataset (tfds:NAME/CONFIG or its folder), a TFRecord glob, or a
      sources.DataSource.
    run_dir: where checkpoints, config.json and TensorBoard events go; an
      existing run of the same config resumes.
    num_steps: the total number of steps of the run (not of this call).
    eval_data: data (the same forms) whose eval split is evaluated; default
      `train_data` when it has an eval split (a glob has none).
    tfds_data_dir: where tfds:NAME datasets live (default: TFDS's).
    strategy: a tf.distribute.Strategy (default: the default strategy).
    seed: seeds model initialisation and data shuffling.
    checkpoint_every, eval_every, log_every: intervals in steps.
    keep_checkpoints: how many checkpoints to keep.
    eval_max_batches: cap on eval batches per evaluation (None: whole split).
    progress: show a progress bar when the console is a terminal.
    jit_compile: XLA-compile each replica's train and eval step: True,
      False, or None: per family (`use_jit_compile`). On TPUs every step is
      XLA-compiled anyway.
    static_shapes: read batches of one shape (`static_input_length`): True,
      False, or None: on TPUs and with XLA.
    mixed_precision: 'none' (float32), 'mixed_bfloat16' or 'mixed_float16'
      (with loss scaling): the Keras dtype policy the model is built with;
      variables, logits and the loss stay float32.

  Returns:
    TrainSummary.
  """
  if num_steps < 1:
    raise UsageError(f'--num_steps must be at least 1, got {num_steps}')
  run_dir = paths.absolute(run_dir)
  strategy = strategy or tf.distribute.get_strategy()
  train_source = sources.open_source(train_data, tfds_data_dir)
  check_encoding(config, train_source.description, train_source.location)
  if eval_data is not None:
    eval_source = sources.open_source(eval_data, tfds_data_dir)
    check_encoding(config, eval_source.description, eval_source.location)
  else:
    eval_source = None if train_source.single_split else train_source
  has_eval = eval_source is not None and eval_source.has_split('eval')
  if not has_eval:
    logging.info('musicrnn train: no eval data (pass --eval_data); training '
                 'without evaluation')
  codec = encodings.codec_from_config(config)
  controls = encodings.controls_from_config(config)
  chief = strategy_lib.is_chief(strategy)
  if chief:
    resumed = run_dir_lib.prepare(run_dir, config, codec.spec(),
                                  train_source.description,
                                  train_source.absolute_location())
  else:
    resumed = False
  if seed is not None:
    keras.utils.set_random_seed(seed)
    # Same seed, same curve: deterministic kernels (and tf.data order).
    tf.config.experimental.enable_op_determinism()
  elif strategy_lib.num_workers(strategy) > 1:
    # Every worker shuffles alike and keeps its share of each batch.
    seed = 0

  batch_size = config.train.batch_size
  tpu = strategy_lib.is_tpu(strategy)
  jit_compile = use_jit_compile(config, jit_compile,
                                replicas=strategy.num_replicas_in_sync, tpu=tpu)
  length = static_input_length(config, static_shapes=static_shapes, tpu=tpu,
                               jit_compile=jit_compile)
  with strategy.scope(), _dtype_policy(mixed_precision):
    model = models.build_model(config, codec, controls)
    model(models.example_inputs(config, controls))
    step = tf.Variable(0, dtype=tf.int64, name='step', trainable=False)
    objective_class = (_OwnStepObjective if has_own_train_step(model)
                       else _EventObjective)
    objective = objective_class(model, config, strategy,
                                loss_scale=mixed_precision == 'mixed_float16')
  checkpoint = tf.train.Checkpoint(model=model, step=step, **objective.optimizers)
  # Every worker restores the chief's checkpoint; a non-chief worker saves
  # to its own scratch folder (the saves are collective), deleted at the end.
  checkpoints = run_dir_lib.checkpoint_dir(run_dir)
  save_dir = checkpoints if chief else os.path.join(
      run_dir, f'.scratch-{strategy_lib.worker_name(strategy)}')
  manager = tf.train.CheckpointManager(checkpoint, save_dir,
                                       max_to_keep=keep_checkpoints)
  restored = run_dir_lib.restore_checkpoint(checkpoint, checkpoints,
                                            fall_back=True)
  if chief:
    run_dir_lib.remove_torn_checkpoints(checkpoints)
  if restored:
    logging.info('musicrnn train: resumed from %s at step %d', restored,
                 int(step.numpy()))
  start_step = int(step.numpy())
  summary = TrainSummary(run_dir, start_step, start_step, resumed or start_step > 0,
                         [], [])
  if start_step >= num_steps:
    logging.info('musicrnn train: %s is already at step %d >= --num_steps=%d',
                 run_dir, start_step, num_steps)
    return summary

  # A resumed run draws a new data order rather than replaying the first
  # batches of the run again.
  train_ds = input_lib.make_dataset(
      train_source, 'train', batch_size,
      seed=None if seed is None else seed + start_step,
      crop_length=input_lib.crop_length(config), static_length=length)
  iterator = iter(strategy.experimental_distribute_dataset(
      _shard_per_worker(train_ds, strategy)))

  replica_step = _compiled(objective.replica_step, jit_compile)

  @tf.function
  def train_step(iterator):
    values = strategy.run(replica_step, args=next(iterator))
    step.assign_add(1)
    return {name: strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
            for name, value in values.items()}

  eval_step = (None if has_own_train_step(model)
               else make_eval_step(model, strategy, jit_compile))

  if chief:
    writer = tf.summary.create_file_writer(os.path.join(run_dir, 'train'))
    eval_writer = tf.summary.create_file_writer(os.path.join(run_dir, 'eval'))
  else:
    writer = eval_writer = tf.summary.create_noop_writer()

  def out_of_memory(stage, error):
    unit = config.data.get('length_unit', 'events')
    shape = (f'{batch_size} x {length} steps' if length else
             f'{batch_size} examples of up to {config.data.max_events} {unit}')
    return OutOfMemoryError(
        f'out of memory in a {stage} step of config {config.name!r} on '
        f'batches of {shape} ({_oom_line(error)}); train with a smaller '
        '--hparams=batch_size=N or max_events=N (the data rebuilt with it), '
        'a smaller model, or on an accelerator')

  def evaluate():
    if bar_line_open[0]:
      sys.stdout.write('\n')   # end the bar's line before the eval line
      sys.stdout.flush()
      bar_line_open[0] = False
    current = int(step.numpy())
    metrics = {'step': current}
    metrics.update(evaluate_model(model, eval_source, batch_size,
                                  strategy=strategy, max_batches=eval_max_batches,
                                  eval_step=eval_step, seed=seed or 0,
                                  static_length=length))
    with eval_writer.as_default(step=current):
      for key, value in _scalars(metrics):
        if key not in ('step', 'batches'):
          tf.summary.scalar(key, value)
    if chief:
      run_dir_lib.write_json_atomically(
          os.path.join(run_dir, run_dir_lib.EVAL_METRICS_JSON), metrics)
    logging.info('musicrnn train: eval at step %d: %s', current,
                 objective.describe_eval(metrics))
    summary.evals.append(metrics)

  bar_line_open = [False]
  # The bar redraws its line in a terminal; in a log file the step lines
  # below say the same, one per line.
  bar = keras.utils.Progbar(num_steps, stateful_metrics=objective.bar_labels) \
      if progress and sys.stdout.isatty() else None
  totals = {}
  interval_start = time.time()
  interval_steps = 0
  logging.info('musicrnn train: config %s, %s, steps %d -> %d, batch %d, '
               '%d replica(s), XLA %s, %s, precision %s', config.name,
               type(model).__name__, start_step, num_steps, batch_size,
               strategy.num_replicas_in_sync,
               'TPU' if tpu else ('on' if jit_compile else 'off'),
               f'static length {length}' if length else 'padded per batch',
               mixed_precision)
  while int(step.numpy()) < num_steps:
    try:
      values = train_step(iterator)
    except tf.errors.DataLossError as e:
      raise UsageError(
          f'the training data {train_source.location} is damaged '
          f'({first_line(e)}); rebuild it with '
          'musicrnn_create_dataset') from e
    except tf.errors.ResourceExhaustedError as e:
      raise out_of_memory('training', e) from e
    for name, value in values.items():
      totals[name] = totals.get(name, 0.0) + float(value)
    interval_steps += 1
    current = int(step.numpy())
    if current % log_every == 0 or current == num_steps:
      elapsed = max(time.time() - interval_start, 1e-9)
      record = {'step': current}
      record.update(objective.record(totals, interval_steps, elapsed))
      record['steps_per_second'] = interval_steps / elapsed
      summary.history.append(record)
      with writer.as_default(step=current):
        for key, value in record.items():
          if key != 'step':
            tf.summary.scalar(key, value)
      # With the progress bar on the console, the step lines would break
      # its line: they go to the debug log (and TensorBoard) instead.
      logging.log(logging.INFO if bar is None else logging.DEBUG,
                  'musicrnn train: step %d %s', current, objective.log_line(record))
      if bar is not None:
        bar.update(current, values=objective.bar_values(record))
        bar_line_open[0] = current < num_steps  # the bar ends its last line
      totals = {}
      interval_steps = 0
    if current % checkpoint_every == 0 or current == num_steps:
      manager.save(checkpoint_number=current)
    if has_eval and (current % eval_every == 0 or current == num_steps):
      try:
        evaluate()
      except tf.errors.ResourceExhaustedError as e:
        raise out_of_memory('evaluation', e) from e
    if interval_steps == 0:
      # Checkpoints and evaluations do not count against training speed.
      interval_start = time.time()
  writer.flush()
  eval_writer.flush()
  if not chief and tf.io.gfile.exists(save_dir):
    tf.io.gfile.rmtree(save_dir)
  summary.final_step = int(step.numpy())
  return summary
