"""MuseGAN metrics give the known values on hand-built piano rolls."""

import math

import numpy as np
import pytest

from musicrnn.metrics import pianoroll as metrics

STEPS_PER_BAR = 16
MIN_PITCH = 24          # column 0 is C1, so column 36 is C4 (MIDI 60)


def _column(pitch):
  return pitch - MIN_PITCH


def _segment():
  """Three bars: empty; a C major triad held the whole bar plus a one-step
  B; a two-step D then a four-step D an octave up."""
  roll = np.zeros((3 * STEPS_PER_BAR, 84), np.uint8)
  for pitch in (60, 64, 67):
    roll[16:32, _column(pitch)] = 1
  roll[20, _column(71)] = 1
  roll[32:34, _column(62)] = 1
  roll[40:44, _column(74)] = 1
  return roll[None]


def test_known_values_on_a_hand_built_roll():
  roll = _segment()
  assert metrics.empty_bar_rate(roll, STEPS_PER_BAR) == pytest.approx(1 / 3)
  # Bar 2: C, E, G, B -> 4 classes; bar 3: D only -> 1; the empty bar is
  # left to the empty-bar rate.
  assert metrics.used_pitch_classes(roll, STEPS_PER_BAR, MIN_PITCH) == 2.5
  assert sorted(metrics.note_lengths(roll)) == [1, 2, 4, 16, 16, 16]
  assert metrics.qualified_note_rate(roll) == pytest.approx(4 / 6)
  summary = metrics.pianoroll_metrics(roll, STEPS_PER_BAR, MIN_PITCH)
  assert summary['bars'] == 3 and summary['notes'] == 6


def test_notes_end_at_segment_boundaries_and_rates_of_silence():
  held = np.zeros((2, STEPS_PER_BAR, 84), np.uint8)
  held[:, :, _column(60)] = 1          # held through both segments
  assert list(metrics.note_lengths(held)) == [16, 16]
  silent = np.zeros((2, STEPS_PER_BAR, 84))
  assert metrics.empty_bar_rate(silent, STEPS_PER_BAR) == 1.0
  assert math.isnan(metrics.used_pitch_classes(silent, STEPS_PER_BAR, MIN_PITCH))
  assert math.isnan(metrics.qualified_note_rate(silent))
  with pytest.raises(ValueError, match='whole bars'):
    metrics.empty_bar_rate(np.zeros((1, 10, 84)), STEPS_PER_BAR)


def test_tonal_centroid_and_distance():
  # The centroid of one pitch class is its point on the three circles.
  c = metrics.tonal_centroids(np.eye(12)[0])
  np.testing.assert_allclose(c, [0, 1, 0, 1, 0, 0.5], atol=1e-12)
  g = metrics.tonal_centroids(np.eye(12)[7])
  np.testing.assert_allclose(
      g, [math.sin(7 * 7 * math.pi / 6), math.cos(7 * 7 * math.pi / 6),
          math.sin(7 * 3 * math.pi / 2), math.cos(7 * 3 * math.pi / 2),
          0.5 * math.sin(7 * 2 * math.pi / 3), 0.5 * math.cos(7 * 2 * math.pi / 3)],
      atol=1e-12)
  track_c = np.zeros((1, STEPS_PER_BAR, 84))
  track_c[0, :, _column(48)] = 1
  track_g = np.zeros_like(track_c)
  track_g[0, :, _column(55)] = 1
  assert metrics.tonal_distance(track_c, track_c, STEPS_PER_BAR, MIN_PITCH) == 0
  assert metrics.tonal_distance(track_c, track_g, STEPS_PER_BAR, MIN_PITCH) == \
      pytest.approx(float(np.linalg.norm(c - g)))
  assert float(np.linalg.norm(c - g)) == pytest.approx(1.7373, abs=1e-4)
  # The octave does not matter; a silent track gives no distance.
  track_c_high = np.zeros_like(track_c)
  track_c_high[0, :, _column(72)] = 1
  assert metrics.tonal_distance(track_c, track_c_high, STEPS_PER_BAR,
                                MIN_PITCH) == pytest.approx(0)
  assert math.isnan(metrics.tonal_distance(track_c, np.zeros_like(track_c),
                                           STEPS_PER_BAR, MIN_PITCH))
