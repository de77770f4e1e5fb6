"""The control registry: one class per control, from config key to flag.

note-seq equality of the values the controls compute is
tests/test_performance_encoding.py's; this file covers the `Control`
contract, the registry and the user-value API generation builds on.
"""

import dataclasses
import json

import ml_collections
import numpy as np
import pytest

from musicrnn import configs
from musicrnn.encodings import controls
from musicrnn.errors import UsageError
from musicrnn.tfrecords import schema

MULTI = 'multiconditioned_performance_with_dynamics'


def _json_config(name):
  """A config as a run folder's config.json gives it back (lists, unlocked)."""
  return ml_collections.ConfigDict(json.loads(configs.to_json(
      configs.get_config(name))))


def test_registry_lists_both_controls_in_magenta_order():
  assert [c.name for c in controls.CONTROLS] == ['note_density', 'pitch_histogram']
  assert [c.flag for c in controls.CONTROLS] == ['notes_per_second',
                                                 'pitch_class_histogram']
  # Feature lists keep the names and order existing datasets record.
  assert schema.SEQUENCE_FEATURES == ('tokens', 'chords', 'note_density',
                                      'pitch_histogram', 'pianoroll')
  config = configs.get_config(MULTI)
  assert schema.sequence_features_for(config) == ('tokens', 'note_density',
                                                  'pitch_histogram')
  found = controls.controls_from_config(config)
  assert [(name, type(c)) for name, c in found] == [
      ('note_density', controls.NoteDensityControl),
      ('pitch_histogram', controls.PitchHistogramControl)]
  assert controls.controls_from_config(configs.get_config(
      'performance_with_dynamics')) == []


def _control_class(**overrides):
  """The namespace of a complete control class, with `overrides`."""
  namespace = {
      'name': 'toy', 'flag': 'toy_value', 'flag_help': 'A toy.',
      'title': 'toy', 'settings_class': controls.PitchHistogramSettings,
      'config_keys': {'toy_window_seconds': 'window_size_seconds'},
      'feature': controls.Feature('float32', (2,), 'float32', 'toy', 1.0),
      'input_dtype': 'float32', 'value_shape': (2,), 'default_value': (1.0, 1.0),
      'size': 2,
      'compute': lambda self, ids, codec: None,
      'check_value': classmethod(lambda cls, value: np.asarray(value)),
      'input_for_value': lambda self, value, xp=np: xp.asarray(value),
  }
  namespace.update(overrides)
  return {k: v for k, v in namespace.items() if v is not None}


def test_a_complete_subclass_defines():
  toy = type('Toy', (controls.Control,), _control_class())
  np.testing.assert_array_equal(toy().user_input(), [1.0, 1.0])


@pytest.mark.parametrize('missing', ['input_for_value', 'check_value',
                                     'compute', 'size', 'flag', 'feature'])
def test_a_subclass_missing_a_member_fails_where_it_is_defined(missing):
  with pytest.raises(TypeError, match=f'Toy lacks {missing}'):
    type('Toy', (controls.Control,), _control_class(**{missing: None}))


def test_config_keys_must_name_settings_fields():
  with pytest.raises(TypeError, match='window_seconds'):
    type('Toy', (controls.Control,), _control_class(
        config_keys={'toy_window': 'window_seconds'}))


def test_settings_are_read_from_and_written_to_the_config():
  config = _json_config(MULTI)
  config.controls.note_density_window_seconds = 2.0
  config.controls.note_density_bins = [1.0, 3.0]
  config.controls.pitch_histogram_window_seconds = 4.0
  (_, density), (_, histogram) = controls.controls_from_config(config)
  assert density.settings == controls.NoteDensitySettings(2.0, (1.0, 3.0))
  assert histogram.settings == controls.PitchHistogramSettings(4.0)
  for control in (density, histogram):
    written = _json_config('performance_with_dynamics')
    written.controls.update(control.config_values())
    assert controls.controls_from_config(written) == [(control.name, control)]


def test_a_config_without_a_setting_keeps_its_default():
  config = _json_config(MULTI)
  del config.controls['note_density_bins']
  (_, density), _ = controls.controls_from_config(config)
  assert density.settings == controls.NoteDensitySettings()


def test_specs_round_trip_and_old_names_load():
  density = controls.NoteDensityControl(controls.NoteDensitySettings(
      window_size_seconds=2.0, density_bin_ranges=(1.0, 3.0)))
  histogram = controls.PitchHistogramControl()
  assert density.spec()['name'] == 'note_density'
  # SavedModel assets written before controls were named by their feature.
  old = [{'name': 'notes_per_second', 'settings': density.spec()['settings']},
         {'name': 'pitch_class_histogram',
          'settings': dataclasses.asdict(histogram.settings)}]
  for control, spec in zip((density, histogram), old):
    assert controls.control_from_spec(control.spec()) == control
    assert controls.control_from_spec(spec) == control
  with pytest.raises(ValueError, match='unknown control'):
    controls.control_from_spec({'name': 'chords', 'settings': {}})


@pytest.mark.parametrize('value', [
    0.0, 0.99, 1.0, 4.0, 15.0, 64.0, 1000.0, [0.5, 3.0, 16.0, 63.0]])
def test_density_input_is_the_same_in_numpy_and_tensorflow(value):
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  control = controls.NoteDensityControl()
  ours = control.input_for_value(np.asarray(value, np.float32))
  graph = control.input_for_value(tf.constant(value, tf.float32),
                                  xp=tf.experimental.numpy)
  assert ours.dtype == np.int32 and graph.dtype == tf.int32
  np.testing.assert_array_equal(ours, graph.numpy())
  # note-seq's classes (searchsorted on the bins) and today's SavedModel's.
  np.testing.assert_array_equal(ours, np.searchsorted(
      control.settings.density_bin_ranges, value, side='right'))
  np.testing.assert_array_equal(control.class_of(value), ours)


@pytest.mark.parametrize('value', [
    [2, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], [0.0] * 12,
    [[3.0] + [0.0] * 11, [1.0] * 12, [0.0] * 12]])
def test_histogram_input_is_the_same_in_numpy_and_tensorflow(value):
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  control = controls.PitchHistogramControl()
  ours = control.input_for_value(np.asarray(value, np.float64))
  graph = control.input_for_value(tf.constant(value, tf.float32),
                                  xp=tf.experimental.numpy)
  assert ours.dtype == np.float32 and graph.dtype == tf.float32
  assert ours.shape == graph.shape == np.shape(value)
  np.testing.assert_allclose(ours, graph.numpy(), rtol=1e-6)
  np.testing.assert_allclose(ours.sum(axis=-1), 1.0, rtol=1e-6)


def test_input_for_value_runs_in_a_graph():
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  made = [cls() for cls in controls.CONTROLS]
  specs = [control.value_spec() for control in made]
  assert specs == [
      {'name': 'notes_per_second', 'shape': [None], 'dtype': 'float32'},
      {'name': 'pitch_class_histogram', 'shape': [None, 12],
       'dtype': 'float32'}]

  @tf.function(input_signature=[
      tf.TensorSpec(s['shape'], s['dtype'], name=s['name']) for s in specs])
  def inputs(*values):
    return [control.input_for_value(value, xp=tf.experimental.numpy)
            for control, value in zip(made, values)]

  density, histogram = inputs(tf.constant([4.0, 12.0]), tf.ones([2, 12]))
  np.testing.assert_array_equal(density, [3, 4])
  np.testing.assert_allclose(histogram, np.full((2, 12), 1 / 12), rtol=1e-6)


@pytest.mark.parametrize('cls, text, expected', [
    (controls.NoteDensityControl, '8', 8.0),
    (controls.NoteDensityControl, ' 2.5', 2.5),
    (controls.PitchHistogramControl, '[2,0,1,0,1,1,0,1,0,1,0,1]',
     [2.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0]),
    (controls.NoteDensityControl, None, None)])
def test_flags_parse(cls, text, expected):
  assert cls.parse_flag(text) == expected


@pytest.mark.parametrize('cls, text, message', [
    (controls.NoteDensityControl, 'fast',
     '--notes_per_second=fast is not a number'),
    (controls.NoteDensityControl, '[4]',
     '--notes_per_second=.4. is not a number'),
    (controls.NoteDensityControl, 'True', 'is not a number'),
    (controls.PitchHistogramControl, '[1,2]',
     '--pitch_class_histogram=.1,2. is not a list of 12 numbers'),
    (controls.PitchHistogramControl, 'C major', 'pitch_class_histogram=C major'),
    (controls.PitchHistogramControl, '[1,0,1,0,1,1,0,1,0,1,0,"B"]',
     'not a list of 12 numbers')])
def test_flag_errors_name_the_flag(cls, text, message):
  with pytest.raises(UsageError, match=message):
    cls.parse_flag(text)


def _multi():
  return controls.controls_from_config(configs.get_config(MULTI))


def test_user_inputs_default_and_check_values():
  inputs = controls.user_inputs(_multi(), {'notes_per_second': 64.0}, MULTI)
  assert inputs['note_density'] == 7 and inputs['note_density'].dtype == np.int32
  np.testing.assert_allclose(inputs['pitch_histogram'], np.full(12, 1 / 12))
  defaults = controls.user_inputs(_multi(), {}, MULTI)
  assert defaults['note_density'] == controls.NoteDensityControl().class_of(15.0)
  with pytest.raises(UsageError, match='--notes_per_second must be a number >= 0'):
    controls.user_inputs(_multi(), {'notes_per_second': -1.0}, MULTI)
  for bad in ([1, 2], [0] * 12, [-1] + [1] * 11):
    with pytest.raises(UsageError, match='--pitch_class_histogram needs 12 '
                       'non-negative weights'):
      controls.user_inputs(_multi(), {'pitch_class_histogram': bad}, MULTI)
  with pytest.raises(ValueError, match='not control flags'):
    controls.user_inputs(_multi(), {'tempo': 1.0}, MULTI)


def test_user_inputs_refuse_a_control_the_run_lacks():
  density_only = _multi()[:1]
  with pytest.raises(UsageError, match="--pitch_class_histogram: config 'x' was "
                     'not trained with a pitch-histogram control'):
    controls.user_inputs(density_only, {'pitch_class_histogram': [1] * 12}, 'x')
  with pytest.raises(UsageError, match='not trained with a note-density'):
    controls.user_inputs([], {'notes_per_second': 3.0,
                              'pitch_class_histogram': None}, 'x')
  assert controls.user_inputs([], {'notes_per_second': None}, 'x') == {}


@pytest.mark.parametrize('values', [
    {}, {'notes_per_second': 1.0}, {'notes_per_second': 64},
    {'pitch_class_histogram': [1] + [0] * 11},
    {'notes_per_second': 0.0,
     'pitch_class_histogram': [2, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1]}])
def test_user_inputs_equal_what_generation_computed_before(values):
  """user_inputs and input_for_value in a graph give what generation's own
  code did before (numpy's class and note-seq's encoder; in a SavedModel,
  tf.searchsorted and a division in float32)."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  (_, density), (_, histogram) = _multi()
  rate = values.get('notes_per_second')
  rate = controls.DEFAULT_NOTE_DENSITY if rate is None else rate
  weights = values.get('pitch_class_histogram') or [1.0] * 12
  ours = controls.user_inputs(_multi(), values, MULTI)
  assert ours['note_density'].dtype == np.int32
  assert ours['note_density'] == density.class_of(rate)
  assert ours['pitch_histogram'].dtype == np.float32
  np.testing.assert_array_equal(ours['pitch_histogram'],
                                histogram.constant_inputs(weights))
  # A batch of two outputs asking for the same, as a signature's float32.
  rates = tf.constant([rate] * 2, tf.float32)
  graph = density.input_for_value(rates, xp=tf.experimental.numpy)
  bins = tf.constant(density.settings.density_bin_ranges, tf.float32)
  np.testing.assert_array_equal(graph, tf.searchsorted(bins, rates,
                                                       side='right'))
  np.testing.assert_array_equal(graph[0], ours['note_density'])
  rows = tf.constant([weights] * 2, tf.float32)
  graph = histogram.input_for_value(rows, xp=tf.experimental.numpy)
  np.testing.assert_allclose(
      graph, rows / tf.reduce_sum(rows, -1, keepdims=True), rtol=1e-6)
  np.testing.assert_allclose(graph[0], ours['pitch_histogram'], rtol=1e-6)


def test_writer_takes_only_control_names():
  with pytest.raises(TypeError, match='tempo'):
    schema.serialize_sequence_example(
        source_id='x', example_id='x', encoding_spec={}, transposition=0,
        stretch=1.0, tokens=np.array([1, 2]), tempo=np.array([1, 2]))
