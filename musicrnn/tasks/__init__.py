"""Tasks: what each kind of model is trained and used for, in one registry.

A task (`base.Task`) owns a kind of model's training step and loss, its
evaluation (what musicrnn_evaluate prints), its generation (the sampling
loop, the options it takes and their checks, what it decodes to) and its
SavedModel signature. A model family names its kind by subclassing a
protocol of `musicrnn.models.protocols`, whose `task` is a key of TASKS:

  next_token   autoregressive models over token ids (`next_token`)
  multi_head   a softmax head per part of a step (`multi_head`)
  multi_label  frame models, a sigmoid per bit (`multi_label`)
  joint_frames frame models that score a whole frame exactly, drawn bit by
               bit: the RNN-NADE (`joint_frames`)
  adversarial  a generator and its critic (`adversarial`)
  variational  latent-variable models on the ELBO: MusicVAE (`variational`)

  task = tasks.for_config(config)
  objective = task.objective(model, config, strategy)
  metrics = task.evaluation(model, config).evaluate(data, batch_size)
  paths = task.generate(run, 'samples', num_outputs=3, **options)

A task registers itself when its class is defined, and this package imports
every module of its folder: a new kind of model is one more module here.
"""

from musicrnn import models
from musicrnn import modules
from musicrnn.tasks import base

modules.import_all(__name__, __path__)

# task name -> the task.
TASKS = base.TASKS


def for_config(config):
  """The task of `config.family`'s model class (`models.model_class`)."""
  return TASKS[models.model_class(config['family']).task]


def every_option():
  """{generation option: default} of every task: what a flag left alone
  holds."""
  options = {}
  for task in TASKS.values():
    options.update(task.options)
  return options


def every_mode():
  """The generation modes of every task (`base.Task.modes`), 'sample'
  first."""
  modes = []
  for task in TASKS.values():
    modes += [mode for mode in task.modes if mode not in modes]
  return sorted(modes, key=lambda mode: mode != 'sample')


def tasks_with_mode(mode):
  """The names of the tasks that generate in `mode`."""
  return [name for name, task in TASKS.items() if mode in task.modes]


__all__ = ['TASKS', 'base', 'every_mode', 'every_option', 'for_config',
           'tasks_with_mode']
