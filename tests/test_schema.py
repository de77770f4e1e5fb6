"""The SequenceExample writer produces what TensorFlow's protobuf reads."""

import json

import numpy as np
import pytest
import tensorflow as tf

from musicrnn.tfrecords import schema


def _reference(tokens, density, histogram, transposition):
  """The same example built through the protobuf API, field by field."""
  example = tf.train.SequenceExample()
  context = example.context.feature
  context['id'].bytes_list.value.append(b'abc')
  context['example_id'].bytes_list.value.append(b'abc:0')
  context['encoding'].bytes_list.value.append(
      json.dumps({'name': 'performance', 'settings': {'a': 1}}, sort_keys=True).encode())
  context['transposition'].int64_list.value.append(transposition)
  context['stretch'].float_list.value.append(1.025)
  context['length'].int64_list.value.append(len(tokens))
  lists = example.feature_lists.feature_list
  for t in tokens:
    lists['tokens'].feature.add().int64_list.value.append(int(t))
  for d in density:
    lists['note_density'].feature.add().int64_list.value.append(int(d))
  for row in histogram:
    lists['pitch_histogram'].feature.add().float_list.value.extend(row.tolist())
  return example


@pytest.mark.parametrize('transposition', [-3, 0, 2])
def test_serialized_example_equals_the_protobuf_built_one(transposition):
  rng = np.random.default_rng(0)
  tokens = rng.integers(0, 388, size=300)
  tokens[:3] = [0, 127, 128]            # one- and two-byte varints
  density = rng.integers(0, 8, size=300)
  histogram = rng.random((300, 12)).astype(np.float32)
  data = schema.serialize_sequence_example(
      source_id='abc', example_id='abc:0',
      encoding_spec={'name': 'performance', 'settings': {'a': 1}},
      transposition=transposition, stretch=1.025, tokens=tokens,
      note_density=density, pitch_histogram=histogram)
  parsed = tf.train.SequenceExample.FromString(data)
  assert parsed == _reference(tokens, density, histogram, transposition)


def test_pianoroll_rows_round_trip_through_tf_parsing():
  from musicrnn.tfrecords import sources  # pylint: disable=import-outside-toplevel
  rng = np.random.default_rng(1)
  roll = rng.random((64, 84)) < 0.1
  data = schema.serialize_sequence_example(
      source_id='x', example_id='x:0', encoding_spec={}, transposition=0,
      stretch=1.0, pianoroll=roll)
  features = sources.parse_fn((schema.PIANOROLL,), 84)(tf.constant(data))
  np.testing.assert_array_equal(features[schema.PIANOROLL].numpy(), roll.astype(np.float32))
  assert int(features[schema.LENGTH]) == 64


def test_empty_and_bad_inputs():
  data = schema.serialize_sequence_example(
      source_id='x', example_id='x', encoding_spec={}, transposition=0,
      stretch=1.0, tokens=np.array([], np.int64))
  assert tf.train.SequenceExample.FromString(data).context.feature['length'].int64_list.value == [0]
  with pytest.raises(ValueError):
    schema.serialize_sequence_example(
        source_id='x', example_id='x', encoding_spec={}, transposition=0,
        stretch=1.0, tokens=np.array([1, -2]))
