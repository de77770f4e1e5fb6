"""Magenta's way of encoding performances, with note-seq: the baselines of
the encoding and dataset benchmarks (no flags; imported by both)."""

import numpy as np


def performance_tokens(sequence, settings):
  """Token ids as Magenta's Performance RNN pipeline makes them: absolute
  quantization, `performance_lib.Performance`, and
  `PerformanceOneHotEncoding.encode_event` once per event.

  Returns:
    (tokens int64 [n], the note_seq Performance).
  """
  # pylint: disable=import-outside-toplevel
  from note_seq import performance_encoder_decoder
  from note_seq import performance_lib
  from note_seq import sequences_lib
  # pylint: enable=import-outside-toplevel
  quantized = sequences_lib.quantize_note_sequence_absolute(
      sequence, settings.steps_per_second)
  perf = performance_lib.Performance(
      quantized, num_velocity_bins=settings.num_velocity_bins,
      max_shift_steps=settings.max_shift_steps)
  encoding = performance_encoder_decoder.PerformanceOneHotEncoding(
      settings.num_velocity_bins, settings.max_shift_steps,
      settings.min_pitch, settings.max_pitch)
  return np.array([encoding.encode_event(e) for e in perf], np.int64), perf


def one_hot_sequence_example(tokens, num_classes):
  """Magenta's training example: a tf.train.SequenceExample of one-hot float
  inputs (events 0..n-2) and int labels (events 1..n-1), one Feature proto
  per event, as magenta.common.sequence_example_lib.make_sequence_example
  built it (note-seq does not ship that module)."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  inputs = []
  for token in tokens[:-1]:
    vector = [0.0] * num_classes
    vector[int(token)] = 1.0
    inputs.append(tf.train.Feature(float_list=tf.train.FloatList(value=vector)))
  labels = [tf.train.Feature(int64_list=tf.train.Int64List(value=[int(t)]))
            for t in tokens[1:]]
  return tf.train.SequenceExample(feature_lists=tf.train.FeatureLists(
      feature_list={'inputs': tf.train.FeatureList(feature=inputs),
                    'labels': tf.train.FeatureList(feature=labels)}))
