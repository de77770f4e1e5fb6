"""Tasks and protocols: every family, through its task alone, trains a few
steps, is evaluated, generates MIDI and exports (or says which format it
exports to); a family or task that lacks part of its protocol fails when its
class is defined."""

import os

import keras
import note_seq
import numpy as np
import pytest
import tensorflow as tf

from musicrnn import configs
from musicrnn import encodings
from musicrnn import models
from musicrnn import tasks
from musicrnn.errors import UsageError
from musicrnn.models import protocols
from musicrnn.runs import run_dir as run_dir_lib
from musicrnn.tasks import base
from musicrnn.tfrecords import description as description_lib
from musicrnn.tfrecords import input as input_lib
import testing_lib

# {tiny config: (its family's task, the conftest fixture of its data)}: one
# config of every family.
FAMILY_CONFIGS = {
    'multiconditioned_performance_with_dynamics_tiny': ('next_token', 'tiny'),
    'music_transformer_tiny': ('next_token', 'tiny'),
    'dilated_cnn_tiny': ('next_token', 'tiny'),
    'note_lstm_tiny': ('multi_head', 'note_dataset'),
    'pianoroll_lstm_tiny': ('multi_label', 'frame_dataset'),
    'tcn_tiny': ('multi_label', 'key_frame_dataset'),
    'rnn-nade_tiny': ('joint_frames', 'nade_frame_dataset'),
    'lookback_rnn_tiny': ('next_token', 'melody_dataset'),
    'pianoroll_gan_tiny': ('adversarial', 'gan_dataset'),
    'cat-mel_2bar_small_tiny': ('variational', 'music_vae_dataset'),
}


def test_the_registry_lists_every_task_and_every_family_has_one():
  assert sorted(tasks.TASKS) == ['adversarial', 'joint_frames', 'multi_head',
                                 'multi_label', 'next_token', 'variational']
  for name, task in tasks.TASKS.items():
    assert isinstance(task, base.Task) and task.name == name
    assert task.protocol.task == name
  covered = {configs.get_config(name).family for name in FAMILY_CONFIGS}
  assert covered == set(models.FAMILIES), 'a family without a test config'
  for family, cls in models.FAMILIES.items():
    assert issubclass(cls, protocols.FamilyModel)
    assert cls.task in tasks.TASKS, family
  # Only the models XLA trains faster turn it on by default.
  assert {f for f, cls in models.FAMILIES.items()
          if cls.trains_faster_with_xla} == {'music_transformer', 'pianoroll_gan'}


def _data(config_name, fixture, request):
  if fixture == 'tiny':
    data_name = testing_lib.FAMILIES.get(config_name, config_name)
    return request.getfixturevalue('tiny_datasets')[data_name]
  return request.getfixturevalue(fixture)


@pytest.mark.parametrize('config_name', sorted(FAMILY_CONFIGS))
def test_every_family_trains_evaluates_generates_and_exports_through_its_task(
    config_name, request, tmp_path):
  task_name, fixture = FAMILY_CONFIGS[config_name]
  data = _data(config_name, fixture, request)
  config = testing_lib.tiny_config(config_name)
  description = description_lib.read_description(data)
  config = encodings.with_learned_settings(config, description['encoding'])
  task = tasks.for_config(config)
  assert task is tasks.TASKS[task_name]

  keras.utils.set_random_seed(0)
  codec = encodings.codec_from_config(config)
  controls = encodings.controls_from_config(config)
  model = models.build_model(config, codec, controls)
  assert isinstance(model, task.protocol)
  objective = task.objective(model, config, tf.distribute.get_strategy())
  before = [w.numpy().copy() for w in model.trainable_weights]
  # Magenta's extracted tracks are cut by their extraction (max_events 0).
  length = (None if codec.segmented or not config.data.max_events
            else int(config.data.max_events))
  batches = iter(input_lib.make_dataset(data, 'train', 2, seed=0,
                                        crop_length=input_lib.crop_length(config),
                                        static_length=length))

  @tf.function
  def step(batch):
    return objective.replica_step(*batch)

  totals = {}
  for _ in range(2):
    for key, value in step(next(batches)).items():
      totals[key] = totals.get(key, 0.0) + float(value)
  assert all(np.isfinite(v) for v in totals.values()), totals
  assert any(not np.array_equal(b, w.numpy())
             for b, w in zip(before, model.trainable_weights))
  record = objective.record(totals, 2, 1.0)
  record['steps_per_second'] = 2.0
  assert isinstance(objective.log_line(record), str)
  assert [label for label, _ in objective.bar_values(record)] == (
      objective.bar_labels)

  evaluation = task.evaluation(model, config)
  metrics = evaluation.evaluate(data, 2, max_batches=2)
  assert metrics['batches'] >= 1
  assert isinstance(evaluation.describe(metrics), str)

  step_variable = 2
  run = run_dir_lib.LoadedRun(config, codec, controls, model, task, step_variable)
  options = {'num_bars': 4} if task_name == 'adversarial' else {'num_steps': 24}
  paths = task.generate(run, str(tmp_path / 'samples'), num_outputs=2, seed=1,
                        **options)
  assert len(paths) == 2
  for path in paths:
    assert os.path.basename(path).startswith(config.name)
    note_seq.midi_file_to_note_sequence(path)   # reads back

  if task_name == 'next_token':
    generate, inputs = task.export_signature(run)
    assert sorted(inputs) == sorted(name for name, _ in controls)
    module = tf.Module()
    module.model = model
    module.generate = generate
    tf.saved_model.save(module, str(tmp_path / 'saved'), signatures={
        'generate': generate.get_concrete_function()})
    loaded = tf.saved_model.load(str(tmp_path / 'saved'))
    values = {inputs['note_density']: tf.constant([4.0, 4.0]),
              inputs['pitch_histogram']: tf.ones([2, 12])} if controls else {}
    tokens = loaded.signatures['generate'](
        primer=tf.constant([codec.empty_primer()] * 2, tf.int32),
        num_steps=tf.constant(30), temperature=tf.constant(1.0),
        top_k=tf.constant(0), top_p=tf.constant(1.0),
        seed=tf.constant(1, tf.int64), max_polyphony=tf.constant(2),
        max_note_duration=tf.constant(5.0), **values)['tokens']
    assert tokens.shape == (2, len(codec.empty_primer()) + 30)
    # The signature draws where the codec's grammar allows.
    assert testing_lib.disallowed_draws(codec.grammar(2, 5.0), tokens.numpy(),
                                        len(codec.empty_primer())) == []
  else:
    with pytest.raises(UsageError, match=f'task {task_name}.*mrnn'):
      task.export_signature(run)


def test_a_family_without_its_protocols_methods_fails_when_defined():
  with pytest.raises(TypeError, match='NextTokenModel but does not define '
                     'initial_state, reorder_states, step'):

    class NoStep(protocols.NextTokenModel):  # pylint: disable=unused-variable
      data_arguments = staticmethod(lambda codec, controls: {})

      def example_inputs(self, controls):
        return {}

      def call(self, inputs, training=False):
        return inputs

      def get_config(self):
        return {}

  with pytest.raises(TypeError, match='MultiHeadModel but names no head_names'):

    class NoHeads(protocols.MultiHeadModel):  # pylint: disable=unused-variable
      data_arguments = staticmethod(lambda codec, controls: {})
      example_inputs = call = get_config = lambda *a, **k: None
      initial_state = step = reorder_states = lambda *a, **k: None
      split_tokens = split_logits = pack = lambda *a, **k: None

  with pytest.raises(TypeError, match='LatentVariableModel but does not '
                     'define decoder_initial_state, decoder_step'):

    class NoSteps(protocols.LatentVariableModel):  # pylint: disable=unused-variable
      data_arguments = staticmethod(lambda codec, controls: {})
      example_inputs = get_config = encode = decode = lambda *a, **k: None

  with pytest.raises(TypeError, match='names no task'):

    class Bare(protocols.FamilyModel):  # pylint: disable=unused-variable
      data_arguments = staticmethod(lambda codec, controls: {})
      example_inputs = call = get_config = lambda *a, **k: None


def test_a_task_without_its_parts_fails_when_defined():
  with pytest.raises(TypeError, match='sets no evaluation, options'):

    class Half(base.Task):  # pylint: disable=unused-variable
      name = 'next_token'
      protocol = protocols.NextTokenModel
      objective = object

  with pytest.raises(TypeError, match="has modes .* and no 'mode' option"):

    class Moded(base.Task):  # pylint: disable=unused-variable
      name = 'next_token'
      protocol = protocols.NextTokenModel
      objective = evaluation = object
      options = {}
      modes = ('sample', 'interpolate')

  with pytest.raises(TypeError, match="names task 'adversarial'"):

    class Crossed(base.Task):  # pylint: disable=unused-variable
      name = 'next_token'
      protocol = protocols.AdversarialPair
      objective = evaluation = object
      options = {}
