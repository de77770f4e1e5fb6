"""What every task is: the `Task` base, and the evaluation pieces tasks share.

A task is what a kind of model (a protocol of `musicrnn.models.protocols`) is
trained and used for, in one place:

  objective        its training step: a class made in the strategy's scope,
                   `objective(model, config, strategy, loss_scale=False)`,
                   with `optimizers` (what the checkpoint holds),
                   `replica_step(*batch)` (one replica's update, returning
                   {name: value summed over the replica}), `record(totals,
                   steps, elapsed)` (a log interval's metrics), and the
                   console's `log_line(record)`, `bar_labels`,
                   `bar_values(record)`; `loss_unit` says what
                   record['loss'] is in (None: no single loss);
  evaluation       how it is scored on a split: a class,
                   `evaluation(model, config, strategy=None, jit_compile=False,
                   num_workers=1)`, with `evaluate(data, batch_size, ...)`
                   (a dict) and `describe(metrics)` (what musicrnn_evaluate
                   prints);
  options          the generation options it takes, with their defaults;
  modes            the ways it generates (musicrnn_generate --mode): every
                   task samples ('sample'); a latent-variable model also
                   interpolates and reconstructs;
  generate(run, output_dir, ...)
                   samples a loaded run and writes MIDI (and PNG, WAV);
  export_signature(run)
                   the SavedModel signature it exports, or a UsageError
                   naming the format that does export it.

The trainer, the generator, the evaluator, the SavedModel export, the quick
start and the run folders ask a config's task (`musicrnn.tasks.for_config`);
nothing else keeps a table keyed by family or objective.
"""

import abc

import numpy as np
import tensorflow as tf

from musicrnn.errors import UsageError
from musicrnn.generation import outputs
from musicrnn.tfrecords import input as input_lib

# task name -> the task: every task registers itself when its class is
# defined.
TASKS = {}


class Task(abc.ABC):
  """A kind of model's training, evaluation, generation and export (see the
  module docstring). Subclasses set every class attribute; a subclass that
  lacks one fails when it is defined.

  Class attributes:
    name: the task's name (each protocol's `task`).
    protocol: the model protocol it trains (`musicrnn.models.protocols`).
    objective, evaluation: its training step and evaluation classes.
    options: {generation option: default}; `generate` takes these.
    modes: the generation modes it has (default ('sample',)); a task of
      more takes a 'mode' option.
  """

  name = None
  protocol = None
  objective = None
  evaluation = None
  options = None
  modes = ('sample',)

  def __init_subclass__(cls, **kwargs):
    super().__init_subclass__(**kwargs)
    missing = [name for name in ('name', 'protocol', 'objective', 'evaluation',
                                 'options') if getattr(cls, name) is None]
    if missing:
      raise TypeError(f'task {cls.__name__} sets no {", ".join(missing)}')
    if cls.protocol.task != cls.name:
      raise TypeError(f'task {cls.__name__} is {cls.name!r}, and its protocol '
                      f'{cls.protocol.__name__} names task {cls.protocol.task!r}')
    if len(cls.modes) > 1 and 'mode' not in cls.options:
      raise TypeError(f'task {cls.__name__} has modes {cls.modes} and no '
                      "'mode' option")
    if cls.name in TASKS:
      raise TypeError(f'task {cls.name!r} is defined twice: '
                      f'{type(TASKS[cls.name]).__name__} and {cls.__name__}')
    TASKS[cls.name] = cls()

  def check_options(self, config, options, every_option):
    """Raises a UsageError for an option of another task that was given a
    value other than its default: the run of `config` does not take it.

    Args:
      config: the run's config.
      options: {option: value} the caller gave.
      every_option: {option: default} of every task (what a flag left
        alone holds).
    """
    foreign = [f'--{"no" if value is False else ""}{name}'
               for name, value in options.items()
               if name not in self.options
               and not _is_default(value, every_option[name])]
    if foreign:
      raise UsageError(
          f'{", ".join(foreign)}: the run of config {config.name!r} (family '
          f'{config.family}, task {self.name}) takes '
          + ', '.join(f'--{name}' for name in self.options))

  def options_for(self, codec, controls):
    """{option: default} of the options a run of this task with `codec`
    and `controls` ([(name, Control)]) takes: what a page offers it. The
    default is every option of the task but bars for an encoding without
    them (`outputs.counts_bars`); a task whose options depend on the
    encoding or the controls narrows them further."""
    del controls
    taken = dict(self.options)
    if 'num_bars' in taken and not outputs.counts_bars(codec):
      del taken['num_bars']
    return taken

  @abc.abstractmethod
  def generate(self, run, output_dir, *, num_outputs=1, seed=None,
               render_png=False, render_wav=False, **options):
    """Samples `num_outputs` outputs of a loaded run (`runs.run_dir.LoadedRun`)
    into `output_dir` as MIDI (and .png, .wav); returns the MIDI paths.
    `options` are the task's (`options`)."""

  def export_signature(self, run):
    """(tf.function with its input signature, {control name: the input
    that takes its value}) of the SavedModel `generate` signature of a
    loaded run.

    Raises:
      UsageError: this task exports no SavedModel (the default).
    """
    exporting = sorted(name for name, task in TASKS.items()
                       if type(task).export_signature is not Task.export_signature)
    raise UsageError(
        f'--format=saved_model exports runs of task {", ".join(exporting)}; '
        f'{run.config.name!r} is a {run.config.family} run (task '
        f'{self.name}); export it as an .mrnn file')


def _is_default(value, default):
  if default is None:
    return value is None
  return value is not None and bool(np.array_equal(value, default))


def compiled(fn, jit_compile):
  """`fn` as an XLA-compiled tf.function, or as it is (traced into its
  caller's tf.function)."""
  return tf.function(fn, jit_compile=True) if jit_compile else fn


class SummedEvaluation:
  """Base of the evaluations that sum values over every batch of a split:
  `sums(features, labels, weights)` runs on each replica's part of a batch
  (XLA-compiled with `jit_compile`; with what `_batches` adds to a batch
  after them); `_totals` adds them up.

  Args:
    model: the model.
    sums: the replica function.
    strategy: the tf.distribute strategy the model lives under (default: the
      current one); each replica scores its part of every batch.
    jit_compile: XLA compiles each replica's part.
    num_workers: hosts of a multi-worker strategy; each keeps its share of
      every batch.
  """

  # The metric (lower is better) a trainer keeps its best model by, None
  # for none.
  selection_metric = None

  def __init__(self, model, sums, strategy, jit_compile, num_workers):
    self.model = model
    self.strategy = strategy or tf.distribute.get_strategy()
    self.num_workers = num_workers
    sums = compiled(sums, jit_compile)

    @tf.function(reduce_retracing=True)
    def step(batch):
      values = self.strategy.run(sums, args=batch)
      return [self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
              for v in values]

    self._step = step

  def _batches(self, ds, seed):
    """The batches `sums` reads: those of `ds` (an evaluation that draws
    adds each example's seed, from `seed`)."""
    del seed
    return ds

  def _totals(self, data, batch_size, split, max_batches, static_length,
              seed=0):
    """([the values summed over every batch], batches), or (None, 0) for
    a split without a batch."""
    ds = input_lib.make_dataset(data, split, batch_size, shuffle=False,
                                repeat=False, static_length=static_length)
    if max_batches:
      ds = ds.take(max_batches)
    ds = self._batches(ds, seed)
    totals = None
    batches = 0
    ds = input_lib.shard_per_worker(ds, self.num_workers)
    for batch in self.strategy.experimental_distribute_dataset(ds):
      values = [float(v) for v in self._step(batch)]
      totals = values if totals is None else [
          t + v for t, v in zip(totals, values)]
      batches += 1
    return totals, batches
