"""The trainer: one loop for every model family.

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
- With a seed, TensorFlow's op determinism is on while it trains (and as
  it was after): the same seed gives the same loss curve.
- XLA (`jit_compile`) compiles the replica's train and eval steps, by
  default for the families it trains faster (the model class's
  `trains_faster_with_xla`). It then reads
  static-shape batches (`static_input_length`), as it does on TPUs: XLA compiles
  once per input shape.
- Mixed precision (`mixed_precision`): the model computes in bfloat16 or
  float16 with float32 variables, logits and loss; float16 scales the loss
  (keras.optimizers.LossScaleOptimizer).
- What a step does and reports is the task's objective (`musicrnn.tasks`:
  next-token NLL, multi-head NLL, frame losses, the GAN's critic and
  generator updates); the loop logs its metrics to TensorBoard
  (run_dir/train) and the console, and every `eval_every` steps scores the
  eval split with the task's evaluation (run_dir/eval, eval_metrics.json).

Outline: `train` opens the data and the run, builds the model and its
task's objective under the strategy, and runs the loop; `_Checkpoints` restores
and saves, `_Interval` sums a log interval's step values and times it,
`_Report` writes the console, TensorBoard and eval_metrics.json.
"""


import contextlib
import dataclasses
import functools
import json
import logging
import math
import os
import sys
import time

import keras
import tensorflow as tf
# TensorFlow's public API turns op determinism on, never off; its framework
# module has both, which `train` needs to leave the process as it found it.
from tensorflow.python.framework import config as tf_framework_config

from musicrnn import encodings
from musicrnn import models
from musicrnn import paths
from musicrnn import tasks
from musicrnn.errors import OutOfMemoryError
from musicrnn.errors import UsageError
from musicrnn.errors import first_line
from musicrnn.runs import model_file
from musicrnn.runs import run_dir as run_dir_lib
from musicrnn.tasks import base as tasks_base
from musicrnn.tfrecords import description as description_lib
from musicrnn.tfrecords import input as input_lib
from musicrnn.tfrecords import sources
from musicrnn.training import compilation
from musicrnn.training import strategy as strategy_lib


@dataclasses.dataclass
class TrainSummary:
  """What a call to `train` did."""
  run_dir: str
  start_step: int
  final_step: int
  resumed: bool
  history: list        # the task objective's record per log interval, with 'step'
  evals: list          # the evaluation's metrics per evaluation, with 'step'


def _restores_op_determinism(function):
  """`function`, leaving TensorFlow's op determinism as it was before the
  call (a seeded run turns it on for itself)."""

  @functools.wraps(function)
  def wrapped(*args, **kwargs):
    before = tf_framework_config.is_op_determinism_enabled()
    try:
      return function(*args, **kwargs)
    finally:
      if not before and tf_framework_config.is_op_determinism_enabled():
        tf_framework_config.disable_op_determinism()

  return wrapped


@_restores_op_determinism
def train(config, train_data, run_dir, *, num_steps, eval_data=None,
          tfds_data_dir=None, strategy=None, seed=None, checkpoint_every=200,
          keep_checkpoints=5, eval_every=200, log_every=20,
          eval_max_batches=None, progress=True, jit_compile=None,
          static_shapes=None, mixed_precision='none', init_from=None,
          early_stopping=0):
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
    seed: seeds model initialisation and data shuffling: Python's, NumPy's
      and TensorFlow's generators are seeded (keras.utils.set_random_seed,
      what a seeded run asks for, as Keras' own fit), and TensorFlow's op
      determinism is on until `train` returns.
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
    init_from: a new run starts from the weights of this .mrnn file or run
      folder (same model settings and encoding; a fresh optimizer, step 0);
      a run that resumes keeps its own.
    early_stopping: stop once this many evaluations in a row have not
      improved on the best (0: train to `num_steps`). Whatever its value,
      the model of the best evaluation (the task evaluation's
      `selection_metric`, lower is better) is kept in run_dir/best and
      described in run_dir/best.json; `load_run(run_dir, best=True)` reads
      it.

  Returns:
    TrainSummary.
  """
  if num_steps < 1:
    raise UsageError(f'--num_steps must be at least 1, got {num_steps}')
  # Before run_dir is written: a refused setting leaves no run behind.
  _Plateau.check(config.train)
  run_dir = paths.absolute(run_dir)
  strategy = strategy or tf.distribute.get_strategy()
  config, train_source, eval_source = _open_data(config, train_data, eval_data,
                                                 tfds_data_dir)
  codec = encodings.codec_from_config(config)
  controls = encodings.controls_from_config(config)
  chief = strategy_lib.is_chief(strategy)
  workers = strategy_lib.num_workers(strategy)
  resumed = chief and run_dir_lib.prepare(
      run_dir, config, codec.spec(), train_source.description,
      train_source.absolute_location())
  seed = _seed(seed, workers)
  tpu = strategy_lib.is_tpu(strategy)
  jit_compile = compilation.use_jit_compile(
      config, jit_compile, replicas=strategy.num_replicas_in_sync, tpu=tpu)
  length = compilation.static_input_length(
      config, static_shapes=static_shapes, tpu=tpu, jit_compile=jit_compile)
  with strategy.scope(), compilation.dtype_policy(mixed_precision):
    model = models.build_model(config, codec, controls)
    step = tf.Variable(0, dtype=tf.int64, name='step', trainable=False)
    task = tasks.for_config(config)
    objective = task.objective(
        model, config, strategy, loss_scale=mixed_precision == 'mixed_float16')
  checkpoints = _Checkpoints(run_dir, strategy, keep_checkpoints, model=model,
                             step=step, **objective.optimizers)
  start_step = int(step.numpy())
  if init_from and start_step == 0 and not resumed:
    model_file.check_compatible(init_from, config, codec.spec())
    from_step = model_file.restore_weights(model, init_from)
    logging.info('musicrnn train: weights from %s (its step %d); this run '
                 'starts at step 0 with a fresh optimizer', init_from, from_step)
  elif init_from:
    logging.info('musicrnn train: %s resumes from its own checkpoint; '
                 '--init_from is not used', run_dir)
  summary = TrainSummary(run_dir, start_step, start_step,
                         resumed or start_step > 0, [], [])
  if start_step >= num_steps:
    logging.info('musicrnn train: %s is already at step %d >= --num_steps=%d',
                 run_dir, start_step, num_steps)
    return summary

  batch_size = config.train.batch_size
  # A resumed run draws a new data order rather than replaying the first
  # batches of the run again.
  train_ds = input_lib.make_dataset(
      train_source, 'train', batch_size,
      seed=None if seed is None else seed + start_step,
      crop_length=input_lib.crop_length(config), static_length=length,
      bucket_boundaries=tuple(config.train.get('bucket_boundaries', ())))
  batches = iter(strategy.experimental_distribute_dataset(
      input_lib.shard_per_worker(train_ds, workers)))
  replica_step = tasks_base.compiled(objective.replica_step, jit_compile)

  @tf.function(reduce_retracing=True)
  def train_step(batches):
    values = strategy.run(replica_step, args=next(batches))
    step.assign_add(1)
    return {name: strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
            for name, value in values.items()}

  evaluation = None if eval_source is None else task.evaluation(
      model, config, strategy, jit_compile=jit_compile, num_workers=workers)
  report = _Report(run_dir, chief, objective, task.evaluation, num_steps,
                   progress, summary)
  best = _Best(run_dir, strategy,
               evaluation.selection_metric if evaluation else None,
               model=model, step=step)
  if early_stopping and not best.metric:
    raise UsageError(
        '--early_stopping needs evaluations that choose a best model: '
        + ('pass eval data (--eval_data)' if evaluation is None else
           f'the {task.name} task has no likelihood to compare'))
  plateau = _Plateau(config.train, objective.optimizers)
  if plateau.patience and not best.metric:
    raise UsageError(
        'train.lr_decay_patience needs evaluations that choose a best '
        'model: ' + ('pass eval data (--eval_data)' if evaluation is None else
                     f'the {task.name} task has no likelihood to compare'))
  if early_stopping and best.since >= early_stopping:
    # A run that stopped early is done: running it again does not train on.
    logging.info('musicrnn train: %s stopped early at step %d (%d '
                 'evaluations without a better %s than %.4f at step %d)',
                 run_dir, start_step, best.since, best.metric, best.value,
                 best.step)
    return summary
  logging.info('musicrnn train: config %s, %s, steps %d -> %d, batch %d, '
               '%d replica(s), XLA %s, %s, precision %s', config.name,
               type(model).__name__, start_step, num_steps, batch_size,
               strategy.num_replicas_in_sync,
               'TPU' if tpu else ('on' if jit_compile else 'off'),
               f'static length {length}' if length else 'padded per batch',
               mixed_precision)
  interval = _Interval()
  while int(step.numpy()) < num_steps:
    with _step_errors(config, length, 'training', train_source.location):
      interval.add(train_step(batches))
    current = int(step.numpy())
    last = current == num_steps
    if last or current % log_every == 0:
      totals, steps, seconds = interval.take()
      record = objective.record(totals, steps, seconds)
      record['steps_per_second'] = steps / seconds
      report.training(current, record)
    if last or current % checkpoint_every == 0:
      checkpoints.save(current)
    if evaluation and (last or current % eval_every == 0):
      with _step_errors(config, length, 'evaluation'):
        metrics = evaluation.evaluate(eval_source, batch_size,
                                      split=eval_source.validation_split(),
                                      max_batches=eval_max_batches,
                                      seed=seed or 0, static_length=length)
      report.evaluation(current, metrics)
      since = best.update(current, metrics)
      plateau.update(since)
      if since >= early_stopping > 0:
        logging.info('musicrnn train: early stop at step %d: %d evaluations '
                     'without a better %s than %.4f at step %d', current,
                     early_stopping, best.metric, best.value, best.step)
        checkpoints.save(current)
        break
    interval.restart_if_empty()   # checkpoints and evaluations take no time
  report.close()
  checkpoints.close()
  best.close()
  summary.final_step = int(step.numpy())
  return summary


def _seed(seed, workers):
  """The seed of the run's data order: with a seed, TensorFlow's op
  determinism is on for the run (same seed, same curve); several workers without one
  shuffle alike (seed 0), each keeping its share of every batch."""
  if seed is not None:
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    return seed
  return 0 if workers > 1 else None


def _open_data(config, train_data, eval_data, tfds_data_dir):
  """(config, train source, eval source or None), both sources checked
  against the config, which takes what its codec learned from the training
  data (a chord vocabulary) from the train source's description."""
  train_source = sources.open_source(train_data, tfds_data_dir)
  config = encodings.with_learned_settings(
      config, train_source.description.get('encoding') or {})
  description_lib.check_encoding(config, train_source.description,
                                 train_source.location)
  if eval_data is not None:
    eval_source = sources.open_source(eval_data, tfds_data_dir)
    description_lib.check_encoding(config, eval_source.description,
                                   eval_source.location)
  else:
    eval_source = None if train_source.single_split else train_source
  if eval_source is None or not eval_source.has_split(
      eval_source.validation_split()):
    logging.info('musicrnn train: no eval data (pass --eval_data); training '
                 'without evaluation')
    return config, train_source, None
  return config, train_source, eval_source


class _Checkpoints:
  """The run's checkpoints: restores the newest readable one on creation,
  saves every step asked, keeps the last `keep`.

  Under a multi-worker strategy every worker restores the chief's
  checkpoint; a non-chief worker saves to its own scratch folder (the saves
  are collective), deleted by `close`.
  """

  def __init__(self, run_dir, strategy, keep, **objects):
    checkpoint = tf.train.Checkpoint(**objects)
    self.chief = strategy_lib.is_chief(strategy)
    folder = run_dir_lib.checkpoint_dir(run_dir)
    self.save_dir = folder if self.chief else os.path.join(
        run_dir, f'.scratch-{strategy_lib.worker_name(strategy)}')
    self.manager = tf.train.CheckpointManager(checkpoint, self.save_dir,
                                              max_to_keep=keep)
    restored = run_dir_lib.restore_checkpoint(checkpoint, folder,
                                              fall_back=True)
    if self.chief:
      run_dir_lib.remove_torn_checkpoints(folder)
    if restored:
      logging.info('musicrnn train: resumed from %s at step %d', restored,
                   int(objects['step'].numpy()))

  def save(self, step):
    self.manager.save(checkpoint_number=step)

  def close(self):
    if not self.chief and tf.io.gfile.exists(self.save_dir):
      tf.io.gfile.rmtree(self.save_dir)


class _Best:
  """The model of the run's best evaluation so far (lowest `metric`), in
  run_dir/best, with run_dir/best.json ({'step', 'metric', 'value',
  'metrics'}), and how many evaluations since have not bettered it; read
  back from best.json when a run resumes. With no metric, nothing is kept.
  Under a multi-worker strategy every worker saves (the saves are
  collective), a non-chief worker to a scratch folder `close` deletes."""

  def __init__(self, run_dir, strategy, metric, **objects):
    self.metric = metric
    self.chief = strategy_lib.is_chief(strategy)
    self.path = os.path.join(run_dir, run_dir_lib.BEST_JSON)
    self.step, self.value, self.since = None, math.inf, 0
    self.save_dir = None
    if metric is None:
      return
    self.save_dir = (run_dir_lib.checkpoint_dir(run_dir, best=True)
                     if self.chief else os.path.join(
                         run_dir,
                         f'.scratch-best-{strategy_lib.worker_name(strategy)}'))
    self.manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(**objects), self.save_dir, max_to_keep=1)
    if tf.io.gfile.exists(self.path):
      with tf.io.gfile.GFile(self.path) as f:
        kept = json.load(f)
      if kept.get('metric') == metric:
        self.step, self.value = kept['step'], kept['value']
        self.since = kept.get('evaluations_since', 0)

  def update(self, step, metrics):
    """Keeps the model if `metrics` are the best; returns the number of
    evaluations since the best."""
    if not self.metric:
      return 0
    value = metrics.get(self.metric, math.nan)
    if math.isfinite(value) and value < self.value:
      self.step, self.value, self.since = step, value, 0
      self.manager.save(checkpoint_number=step)
    else:
      self.since += 1
    if self.chief:
      run_dir_lib.write_json_atomically(self.path, {
          'step': self.step, 'metric': self.metric, 'value': self.value,
          'evaluations_since': self.since,
          'metrics': (metrics if self.since == 0 else
                      self._kept_metrics() if self.step is not None else None)})
    return self.since

  def close(self):
    if (not self.chief and self.save_dir
        and tf.io.gfile.exists(self.save_dir)):
      tf.io.gfile.rmtree(self.save_dir)

  def _kept_metrics(self):
    with tf.io.gfile.GFile(self.path) as f:
      return json.load(f)['metrics']


class _Plateau:
  """Multiplies the optimizers' learning rates by `lr_decay_factor` each
  time `lr_decay_patience` evaluations in a row have not bettered the best
  (the rate is an optimizer variable: the checkpoint keeps it)."""

  def __init__(self, train_config, optimizers):
    self.patience = int(train_config.get('lr_decay_patience', 0))
    self.factor = float(train_config.get('lr_decay_factor', 0.1))
    self.optimizers = optimizers
    if self.patience and not all(isinstance(o.learning_rate, keras.Variable)
                                 for o in optimizers.values()):
      raise UsageError('train.lr_decay_patience needs a constant learning rate '
                       '(no train.warmup_steps or train.decay)')

  @staticmethod
  def check(train_config):
    """UsageError for settings no run can use."""
    patience = int(train_config.get('lr_decay_patience', 0))
    factor = float(train_config.get('lr_decay_factor', 0.1))
    if patience < 0:
      raise UsageError('train.lr_decay_patience must be 0 (off) or more, got '
                       f'{patience}')
    if patience and not 0.0 < factor < 1.0:
      raise UsageError('train.lr_decay_factor must be between 0 and 1, got '
                       f'{factor}')
    if patience and (train_config.get('warmup_steps', 0)
                     or train_config.get('decay', 'none') != 'none'):
      raise UsageError('train.lr_decay_patience needs a constant learning rate '
                       '(no train.warmup_steps or train.decay)')

  def update(self, since):
    if not self.patience or not since or since % self.patience:
      return
    for name, optimizer in self.optimizers.items():
      old = float(optimizer.learning_rate.numpy())
      optimizer.learning_rate.assign(old * self.factor)
      logging.info('musicrnn train: %d evaluations without a better one: %s '
                   'learning rate %.3g -> %.3g', since, name, old,
                   old * self.factor)


class _Interval:
  """The summed step values of a log interval, its steps and its time."""

  def __init__(self):
    self.totals, self.steps, self.start = {}, 0, time.time()

  def add(self, values):
    for name, value in values.items():
      self.totals[name] = self.totals.get(name, 0.0) + float(value)
    self.steps += 1

  def take(self):
    """(totals, steps, seconds) of the interval; starts the next one."""
    taken = (self.totals, self.steps, max(time.time() - self.start, 1e-9))
    self.totals, self.steps = {}, 0
    return taken

  def restart_if_empty(self):
    if self.steps == 0:
      self.start = time.time()


class _Report:
  """Where a run's progress goes: the console (a progress bar in a
  terminal, which redraws its line; in a log file a line per interval),
  TensorBoard (run_dir/train, run_dir/eval), eval_metrics.json (the chief
  only) and the TrainSummary. The task's objective and evaluation class say
  what a line holds."""

  def __init__(self, run_dir, chief, objective, evaluation, num_steps,
               progress, summary):
    self.run_dir, self.chief, self.summary = run_dir, chief, summary
    self.objective = objective
    self.describe = evaluation.describe
    if chief:
      self.writer = tf.summary.create_file_writer(os.path.join(run_dir, 'train'))
      self.eval_writer = tf.summary.create_file_writer(
          os.path.join(run_dir, 'eval'))
    else:
      self.writer = self.eval_writer = tf.summary.create_noop_writer()
    self.bar = (keras.utils.Progbar(num_steps,
                                    stateful_metrics=objective.bar_labels)
                if progress and sys.stdout.isatty() else None)
    self.num_steps = num_steps
    self.bar_line_open = False

  def training(self, step, record):
    record = {'step': step, **record}
    self.summary.history.append(record)
    with self.writer.as_default(step=step):
      for key, value in record.items():
        if key != 'step':
          tf.summary.scalar(key, value)
    # With the progress bar on the console, the step lines would break its
    # line: they go to the debug log (and TensorBoard) instead.
    logging.log(logging.INFO if self.bar is None else logging.DEBUG,
                'musicrnn train: step %d %s', step,
                self.objective.log_line(record))
    if self.bar is not None:
      self.bar.update(step, values=self.objective.bar_values(record))
      self.bar_line_open = step < self.num_steps   # the bar ends its last line

  def evaluation(self, step, metrics):
    if self.bar_line_open:
      sys.stdout.write('\n')   # end the bar's line before the eval line
      sys.stdout.flush()
      self.bar_line_open = False
    metrics = {'step': step, **metrics}
    with self.eval_writer.as_default(step=step):
      for key, value in _scalars(metrics):
        if key not in ('step', 'batches'):
          tf.summary.scalar(key, value)
    if self.chief:
      run_dir_lib.write_json_atomically(
          os.path.join(self.run_dir, run_dir_lib.EVAL_METRICS_JSON), metrics)
    logging.info('musicrnn train: eval at step %d: %s', step,
                 self.describe(metrics))
    self.summary.evals.append(metrics)

  def close(self):
    self.writer.flush()
    self.eval_writer.flush()


def _scalars(metrics, prefix=''):
  """(name, value) for every number in a nested dict, names joined by '/'."""
  for key, value in metrics.items():
    if isinstance(value, dict):
      yield from _scalars(value, f'{prefix}{key}/')
    elif isinstance(value, (int, float)) and math.isfinite(value):
      yield f'{prefix}{key}', value


@contextlib.contextmanager
def _step_errors(config, length, stage, data_location=None):
  """Turns a step's damaged data into a UsageError and running out of
  memory into an OutOfMemoryError that says what to change."""
  try:
    yield
  except tf.errors.DataLossError as e:
    if data_location is None:
      raise
    raise UsageError(f'the training data {data_location} is damaged '
                     f'({first_line(e)}); rebuild it with '
                     'musicrnn_create_dataset') from e
  except tf.errors.ResourceExhaustedError as e:
    batch_size = config.train.batch_size
    unit = config.data.get('length_unit', 'events')
    shape = (f'{batch_size} x {length} steps' if length else
             f'{batch_size} examples of up to {config.data.max_events} {unit}')
    raise OutOfMemoryError(
        f'out of memory in a {stage} step of config {config.name!r} on '
        f'batches of {shape} ({_oom_line(e)}); train with a smaller '
        '--hparams=batch_size=N or max_events=N (the data rebuilt with it), '
        'a smaller model, or on an accelerator') from e


def _oom_line(error):
  """The line of a ResourceExhaustedError that says how much was asked."""
  for line in str(error).splitlines():
    if 'Out of memory' in line or 'OOM' in line:
      return line.strip()
  return first_line(error)
