"""Performance control signals: note density and pitch-class histogram.

Conditional Performance RNN (Magenta's `density_conditioned_...`,
`pitch_conditioned_...` and `multiconditioned_...` configs) feeds the model,
beside each performance token, a control computed from the music that follows
it. These classes compute them from token ids of a `PerformanceCodec`, with
the values of note-seq's `NoteDensityPerformanceControlSignal` and
`PitchHistogramPerformanceControlSignal` (`extract`, then the signal's
encoder), vectorised with prefix sums and `searchsorted` instead of note-seq's
scan of the window at every event.

note-seq's semantics, which these reproduce:

- A window starts at an event and takes the events from it on until their
  TIME_SHIFTs add up to `window_size_seconds` (rounded to steps), the last
  shift included, or the performance ends.
- The value is only recomputed at the first event and at each event right
  after a TIME_SHIFT; any other event repeats the previous event's value.
- Note density: NOTE_ONs in the window / the window's length in seconds (the
  shifts in it, at most the window size; 0 when that is 0). Its class k
  covers [density_bin_ranges[k-1], density_bin_ranges[k]) notes per second,
  class 0 from 0, the last class unbounded.
- Pitch histogram: `prior_count` plus, for every pitch class, the seconds each
  sounding pitch of that class sounds in the window, summed over its pitches
  (so two octaves of C count twice); a pitch sounds from a NOTE_ON to the next
  NOTE_OFF of that pitch, a repeated NOTE_ON not stacking. The model sees it
  normalised to sum to 1.
"""

import dataclasses
import numbers

import numpy as np

from musicrnn.encodings import codec as codec_lib
from musicrnn.encodings import performance

NOTES_PER_OCTAVE = 12
# note-seq's defaults for a control the user does not set.
DEFAULT_NOTE_DENSITY = 15.0
DEFAULT_PITCH_HISTOGRAM = (1.0,) * NOTES_PER_OCTAVE


@dataclasses.dataclass(frozen=True)
class NoteDensitySettings:
  """Note density control (Magenta's defaults).

  Attributes:
    window_size_seconds: length of the window after each event, in seconds.
    density_bin_ranges: increasing bin boundaries, in notes per second;
      len + 1 classes, the first from 0.
  """
  window_size_seconds: float = 3.0
  density_bin_ranges: tuple = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)

  def __post_init__(self):
    # A list (e.g. read back from JSON) becomes a tuple: settings stay
    # hashable and compare equal.
    object.__setattr__(self, 'density_bin_ranges',
                       tuple(float(b) for b in self.density_bin_ranges))
    if not self.window_size_seconds > 0:
      raise ValueError(
          f'window_size_seconds must be > 0: {self.window_size_seconds}')
    if np.any(np.diff(self.density_bin_ranges) <= 0):
      raise ValueError(f'density_bin_ranges must increase: '
                       f'{self.density_bin_ranges}')


@dataclasses.dataclass(frozen=True)
class PitchHistogramSettings:
  """Pitch-class histogram control (Magenta's defaults).

  Attributes:
    window_size_seconds: length of the window after each event, in seconds.
    prior_count: added to every pitch class, in seconds (smooths the
      histogram; note-seq's default).
  """
  window_size_seconds: float = 5.0
  prior_count: float = 0.01

  def __post_init__(self):
    if not self.window_size_seconds > 0:
      raise ValueError(
          f'window_size_seconds must be > 0: {self.window_size_seconds}')
    if self.prior_count < 0:
      raise ValueError(f'prior_count must be >= 0: {self.prior_count}')


def _as_codec(codec_or_settings):
  if isinstance(codec_or_settings, performance.PerformanceSettings):
    return performance.PerformanceCodec(codec_or_settings)
  return codec_or_settings


class _Windows:
  """The control windows of a performance, shared by both controls.

  Attributes:
    types: int8 [n] event types (performance.NOTE_ON, ...).
    values: int64 [n] event values (pitch, steps or velocity bin).
    shifts: int64 [n] steps each event moves time by (0 unless TIME_SHIFT).
    anchors: int64 [a] events whose value is computed: 0 and each event
      right after a TIME_SHIFT.
    anchor_of: int64 [n] index into `anchors` of the anchor each event takes
      its value from.
  """

  def __init__(self, ids, codec):
    codec = _as_codec(codec)
    self.steps_per_second = codec.settings.steps_per_second
    self.types, self.values = codec.events(ids)
    n = len(self.types)
    self.shifts = np.where(self.types == performance.TIME_SHIFT, self.values, 0)
    # shift_sum[k]: steps of the events before event k; [n + 1].
    self.shift_sum = np.concatenate([[0], np.cumsum(self.shifts)])
    is_anchor = np.ones(n, bool)
    is_anchor[1:] = self.types[:-1] == performance.TIME_SHIFT
    self.anchors = np.flatnonzero(is_anchor)
    self.anchor_of = np.cumsum(is_anchor) - 1

  def window_ends(self, window_size_seconds):
    """For each anchor i: (first event after its window, window steps).

    note-seq takes events i, i+1, ... while the shifts taken so far are below
    the window size, so the window ends after the first event at which they
    reach it.
    """
    # Python's round, as note-seq (half to even, like numpy's).
    window_steps = int(round(window_size_seconds * self.steps_per_second))
    n = len(self.types)
    start = self.shift_sum[self.anchors]
    ends = np.searchsorted(self.shift_sum, start + window_steps, side='left')
    return np.clip(ends, self.anchors, n), window_steps


class NoteDensityControl:
  """Notes per second in a window after each event, and its class.

  Example:
    control = NoteDensityControl()
    classes = control.classes(ids, codec)       # int32 [n], in [0, size)
    x = control.constant_inputs(4.0)            # float32 [size], one-hot
  """

  name = 'notes_per_second'
  settings_class = NoteDensitySettings
  default_value = DEFAULT_NOTE_DENSITY
  # A model's input: the class at each step, which the model one-hot encodes.
  input_dtype = 'int32'

  def __init__(self, settings=NoteDensitySettings()):
    self.settings = settings

  @property
  def size(self):
    """Number of classes (model input width): len(density_bin_ranges) + 1."""
    return len(self.settings.density_bin_ranges) + 1

  def spec(self):
    return codec_lib.spec_of(self)

  def values(self, ids, codec):
    """Note density at each event, as note-seq's `extract`.

    Args:
      ids: int array [n] of performance token ids.
      codec: the `PerformanceCodec` (or its settings) that made them.

    Returns:
      float64 [n], notes per second.
    """
    w = _Windows(ids, codec)
    ends, window_steps = w.window_ends(self.settings.window_size_seconds)
    onsets = np.concatenate([[0], np.cumsum(w.types == performance.NOTE_ON)])
    count = onsets[ends] - onsets[w.anchors]
    steps = np.minimum(w.shift_sum[ends] - w.shift_sum[w.anchors],
                       window_steps)
    # (count * steps_per_second) / steps, in that order, as note-seq.
    density = np.divide((count * w.steps_per_second).astype(np.float64), steps,
                        out=np.zeros(len(steps)), where=steps > 0)
    return density[w.anchor_of]

  def class_of(self, notes_per_second):
    """Density (notes/s; number or array) -> class, note-seq's encode_event.

    Class k covers [density_bin_ranges[k-1], density_bin_ranges[k]), class 0
    starts at 0 and the last class is unbounded.
    """
    return np.searchsorted(self.settings.density_bin_ranges, notes_per_second,
                           side='right').astype(np.int32)

  def classes(self, ids, codec):
    """int32 [n]: the density class at each event."""
    return self.class_of(self.values(ids, codec))

  def inputs(self, ids, codec):
    """float32 [n, size]: one-hot classes, note-seq's `events_to_input`."""
    return np.eye(self.size, dtype=np.float32)[self.classes(ids, codec)]

  def constant_inputs(self, notes_per_second=DEFAULT_NOTE_DENSITY):
    """float32 [size]: the one-hot input for a user's notes per second."""
    if (not isinstance(notes_per_second, numbers.Real)
        or not notes_per_second >= 0):
      raise ValueError(
          f'notes_per_second must be a number >= 0: {notes_per_second!r}')
    return np.eye(self.size, dtype=np.float32)[self.class_of(notes_per_second)]


class PitchHistogramControl:
  """Pitch-class histogram of a window after each event.

  Example:
    control = PitchHistogramControl()
    x = control.inputs(ids, codec)     # float32 [n, 12], rows sum to 1
    c_major = control.constant_inputs([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1])
  """

  name = 'pitch_class_histogram'
  settings_class = PitchHistogramSettings
  default_value = DEFAULT_PITCH_HISTOGRAM
  size = NOTES_PER_OCTAVE
  # A model's input: the histogram at each step.
  input_dtype = 'float32'

  def __init__(self, settings=PitchHistogramSettings()):
    self.settings = settings

  def spec(self):
    return codec_lib.spec_of(self)

  def values(self, ids, codec):
    """Unnormalised histograms at each event, as note-seq's `extract`.

    Args:
      ids: int array [n] of performance token ids.
      codec: the `PerformanceCodec` (or its settings) that made them.

    Returns:
      float64 [n, 12]: prior_count + seconds sounded per pitch class.
    """
    histogram, anchor_of = self._anchor_values(ids, codec)
    return histogram[anchor_of]

  def _anchor_values(self, ids, codec):
    """Histograms at the anchors [a, 12], and `_Windows.anchor_of` [n]."""
    w = _Windows(ids, codec)
    is_shift = w.types == performance.TIME_SHIFT
    shift_pos = np.flatnonzero(is_shift)
    # shifts_before[k]: TIME_SHIFTs before event k; [n + 1].
    shifts_before = np.concatenate([[0], np.cumsum(is_shift)])

    # Which NOTE_ON/NOTE_OFF tokens change the set of sounding pitches: an ON
    # unless its pitch's previous ON/OFF token was an ON, an OFF only if it
    # was.
    note = np.flatnonzero((w.types == performance.NOTE_ON)
                          | (w.types == performance.NOTE_OFF))
    # (uint8 keys sort by radix.)
    note = note[np.argsort(w.values[note].astype(np.uint8), kind='stable')]
    pitch = w.values[note]
    is_on = w.types[note] == performance.NOTE_ON
    was_on = np.zeros(len(note), bool)
    was_on[1:] = is_on[:-1] & (pitch[1:] == pitch[:-1])
    change = np.where(is_on, ~was_on, was_on)

    # Sounding pitches per class during each TIME_SHIFT; [12, m] (class
    # major: numpy's running sums are fastest along the last axis). A change
    # counts from the first TIME_SHIFT after it on.
    m = len(shift_pos)
    flat = ((pitch[change] % NOTES_PER_OCTAVE) * (m + 1)
            + shifts_before[note[change]])
    delta = np.bincount(flat, weights=np.where(is_on[change], 1.0, -1.0),
                        minlength=NOTES_PER_OCTAVE * (m + 1))
    sounding = np.cumsum(delta.reshape(NOTES_PER_OCTAVE, m + 1)[:, :m], axis=1)
    # Steps sounded per class before each TIME_SHIFT; [12, m + 1]. Whole
    # numbers in float64, so exact.
    sounded = np.zeros((NOTES_PER_OCTAVE, m + 1))
    np.cumsum(sounding * w.shifts[shift_pos], axis=1, out=sounded[:, 1:])

    ends, _ = w.window_ends(self.settings.window_size_seconds)
    steps = sounded[:, shifts_before[ends]] - sounded[:, shifts_before[
        w.anchors]]
    histogram = self.settings.prior_count + steps.T / w.steps_per_second
    return histogram, w.anchor_of

  def normalize(self, histogram):
    """[..., 12] -> float32 [..., 12] summing to 1, note-seq's encoder.

    All-zero rows become uniform (1/12 each).
    """
    histogram = np.asarray(histogram, np.float64)
    total = histogram.sum(axis=-1, keepdims=True)
    uniform = np.full_like(histogram, 1.0 / NOTES_PER_OCTAVE)
    return np.where(total > 0, histogram / np.where(total > 0, total, 1.0),
                    uniform).astype(np.float32)

  def inputs(self, ids, codec):
    """float32 [n, 12]: normalised histograms, note-seq's `events_to_input`."""
    histogram, anchor_of = self._anchor_values(ids, codec)
    return self.normalize(histogram)[anchor_of]

  def constant_inputs(self, histogram=DEFAULT_PITCH_HISTOGRAM):
    """float32 [12]: the input for a user's histogram (12 weights >= 0, C
    first), normalised as note-seq's encoder does."""
    histogram = np.asarray(histogram, np.float64)
    if histogram.shape != (NOTES_PER_OCTAVE,) or np.any(histogram < 0):
      raise ValueError(f'a pitch class histogram is {NOTES_PER_OCTAVE} '
                       f'weights >= 0, got {histogram.tolist()!r}')
    return self.normalize(histogram)


_CONTROLS = {c.name: c for c in (NoteDensityControl, PitchHistogramControl)}


def control_from_spec(spec):
  """Rebuilds a control from its `spec()` (e.g. read from dataset.json)."""
  return codec_lib.from_spec(spec, _CONTROLS, kind='control')
