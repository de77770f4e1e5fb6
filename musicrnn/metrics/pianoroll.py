"""MuseGAN's objective metrics for binary piano rolls (Dong et al. 2018).

  metrics = pianoroll_metrics(rolls, steps_per_bar=16, min_pitch=24)
  # rolls: 0/1 array [segments, steps, pitches]
  # {'empty_bar_rate': ..., 'used_pitch_classes': ...,
  #  'qualified_note_rate': ..., 'bars': ..., 'notes': ...}

- empty-bar rate (EB): the share of bars with no sounding cell;
- used pitch classes (UPC): distinct pitch classes sounding in a bar,
  averaged over the non-empty bars (an empty bar is counted by EB, not as
  zero pitch classes here);
- qualified-note rate (QN): the share of notes lasting at least
  `min_qualified_steps` steps (MuseGAN's three; on musicrnn's grid of 4
  steps a quarter that is a dotted eighth, where MuseGAN's 24 steps a beat
  made it a 32nd note). A note is a run of sounding cells of one pitch; a
  run cut by the end of a segment ends there;
- tonal distance (TD) between two tracks (`tonal_distance`): per bar, the
  Euclidean distance between the 6-D tonal centroids (Harte et al. 2006) of
  the two tracks' pitch-class profiles, averaged over the bars where both
  sound. musicrnn's piano rolls hold one (merged) track, so TD applies
  where a caller has several tracks.

All of it is numpy; rolls may be bool, integers or probabilities already
binarised.
"""

import numpy as np

from musicrnn.encodings import quantize

MIN_QUALIFIED_STEPS = 3

# Radii of the three circles of the tonal centroid: fifths, minor thirds,
# major thirds (Harte, Sandler and Gasser 2006).
_CENTROID_RADII = (1.0, 1.0, 0.5)
_CENTROID_ANGLES = (7 * np.pi / 6, 3 * np.pi / 2, 2 * np.pi / 3)


def _as_bars(rolls, steps_per_bar):
  """[segments, steps, pitches] -> bool [bars, steps_per_bar, pitches]."""
  rolls = np.asarray(rolls) > 0
  if rolls.ndim == 2:
    rolls = rolls[None]
  if rolls.ndim != 3:
    raise ValueError(f'rolls must be [segments, steps, pitches], got {rolls.shape}')
  segments, steps, pitches = rolls.shape
  if steps % steps_per_bar:
    raise ValueError(f'{steps} steps are not whole bars of {steps_per_bar}')
  return rolls.reshape(segments * steps // steps_per_bar, steps_per_bar, pitches)


def _pitch_classes(bars, min_pitch):
  """bool [bars, 12]: which pitch classes sound in each bar."""
  sounding = bars.any(axis=1)                                  # [bars, pitches]
  classes = (np.arange(bars.shape[-1]) + min_pitch) % 12
  profile = np.zeros((bars.shape[0], 12), bool)
  for pitch_class in range(12):
    profile[:, pitch_class] = sounding[:, classes == pitch_class].any(axis=1)
  return profile


def empty_bar_rate(rolls, steps_per_bar):
  bars = _as_bars(rolls, steps_per_bar)
  return float(np.mean(~bars.any(axis=(1, 2)))) if len(bars) else float('nan')


def used_pitch_classes(rolls, steps_per_bar, min_pitch):
  bars = _as_bars(rolls, steps_per_bar)
  counts = _pitch_classes(bars, min_pitch).sum(axis=1)
  non_empty = bars.any(axis=(1, 2))
  return float(counts[non_empty].mean()) if non_empty.any() else float('nan')


def note_lengths(rolls):
  """Lengths in steps of every note (run of sounding cells) of every segment."""
  rolls = np.asarray(rolls) > 0
  if rolls.ndim == 2:
    rolls = rolls[None]
  lengths = []
  for segment in rolls:
    _, start, end, _ = quantize.runs_to_notes(segment)
    lengths.append(np.asarray(end) - np.asarray(start))
  return np.concatenate(lengths) if lengths else np.zeros(0, np.int64)


def qualified_note_rate(rolls, min_steps=MIN_QUALIFIED_STEPS):
  lengths = note_lengths(rolls)
  return float(np.mean(lengths >= min_steps)) if len(lengths) else float('nan')


def tonal_centroids(pitch_class_weights):
  """[..., 12] pitch-class weights -> [..., 6] tonal centroids (zero where
  nothing sounds)."""
  weights = np.asarray(pitch_class_weights, np.float64)
  pitch_class = np.arange(12)
  basis = []
  for radius, angle in zip(_CENTROID_RADII, _CENTROID_ANGLES):
    basis.append(radius * np.sin(pitch_class * angle))
    basis.append(radius * np.cos(pitch_class * angle))
  basis = np.stack(basis, axis=1)                               # [12, 6]
  total = weights.sum(axis=-1, keepdims=True)
  return (weights @ basis) / np.where(total > 0, total, 1.0)


def tonal_distance(rolls_a, rolls_b, steps_per_bar, min_pitch):
  """Mean per-bar distance between the tonal centroids of two tracks of the
  same shape; bars where either track is silent are skipped."""
  bars_a = _as_bars(rolls_a, steps_per_bar)
  bars_b = _as_bars(rolls_b, steps_per_bar)
  if bars_a.shape != bars_b.shape:
    raise ValueError(f'tracks differ in shape: {bars_a.shape} vs {bars_b.shape}')
  # Weight each pitch class by the cells it sounds in the bar.
  def profile(bars):
    cells = bars.sum(axis=1)                                    # [bars, pitches]
    classes = (np.arange(bars.shape[-1]) + min_pitch) % 12
    return np.stack([cells[:, classes == c].sum(axis=1) for c in range(12)], 1)
  profile_a, profile_b = profile(bars_a), profile(bars_b)
  both = (profile_a.sum(1) > 0) & (profile_b.sum(1) > 0)
  if not both.any():
    return float('nan')
  distance = np.linalg.norm(tonal_centroids(profile_a[both])
                            - tonal_centroids(profile_b[both]), axis=1)
  return float(distance.mean())


def pianoroll_metrics(rolls, steps_per_bar, min_pitch,
                      min_qualified_steps=MIN_QUALIFIED_STEPS):
  """The single-track MuseGAN metrics of a batch of piano rolls, and the
  counts they come from."""
  bars = _as_bars(rolls, steps_per_bar)
  lengths = note_lengths(rolls)
  return {
      'empty_bar_rate': empty_bar_rate(rolls, steps_per_bar),
      'used_pitch_classes': used_pitch_classes(rolls, steps_per_bar, min_pitch),
      'qualified_note_rate': qualified_note_rate(rolls, min_qualified_steps),
      'bars': int(len(bars)),
      'notes': int(len(lengths)),
  }
