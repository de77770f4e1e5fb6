"""Control signals: what a conditional model is told about the music ahead.

Conditional Performance RNN (Magenta's `density_conditioned_...`,
`pitch_conditioned_...` and `multiconditioned_...` configs) feeds the model,
beside each performance token, a control computed from the music that follows
it; when generating, the user sets its value. Each control is one `Control`
subclass, listed in `CONTROLS`; everything that handles controls iterates
over that list. Under one name (`Control.name`: its switch in a config's
`controls` section, its SequenceExample feature and its model input) a
control owns:

  settings     a frozen dataclass, read from and written to the config's
               `controls` section (`config_keys`: config key -> field)
  feature      its feature list (`feature`: dtype, per-step shape, TFDS
               dtype), computed from token ids by `compute`
  model input  per step: a class the model one-hot encodes, or a vector
               (`input_dtype`, `input_shape`, `size`)
  user value   its musicrnn_generate flag (`flag`, `flag_help`), parsed by
               `parse_flag` and checked by `check_value`, `default_value`,
               and `input_for_value`: the model input for values, one
               definition run by numpy and, in a SavedModel's graph, by
               tf.experimental.numpy (`value_spec` is that input's signature)

  controls = controls_from_config(config)       # [(name, control)]
  inputs = user_inputs(controls, {'notes_per_second': 4.0}, config.name)
  # {name: the model's input at every step}, defaults for values not given

The two controls here compute from token ids of a `PerformanceCodec` the
values of note-seq's `NoteDensityPerformanceControlSignal` and
`PitchHistogramPerformanceControlSignal` (`extract`, then the signal's
encoder), vectorised with prefix sums and `searchsorted` instead of
note-seq's scan of the window at every event.

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

import abc
import ast
import dataclasses
import numbers

import numpy as np

from musicrnn.encodings import codec as codec_lib
from musicrnn.encodings import performance
from musicrnn.errors import UsageError

NOTES_PER_OCTAVE = 12
# note-seq's defaults for a control the user does not set.
DEFAULT_NOTE_DENSITY = 15.0
DEFAULT_PITCH_HISTOGRAM = (1.0,) * NOTES_PER_OCTAVE


@dataclasses.dataclass(frozen=True)
class Feature:
  """A control's SequenceExample feature list, as plain data: no TensorFlow
  here, `musicrnn.tfrecords` builds the writer, the parser and the TFDS
  feature from it.

  Attributes:
    dtype: what each step stores: 'int64' (one int, e.g. a class) or
      'float32' (floats of `shape`). Its parsing spec is
      tf.io.FixedLenSequenceFeature(shape, dtype).
    shape: the shape of one step: () or (size,).
    tfds_dtype: the numpy dtype of its TFDS feature, a Tensor of shape
      (None,) + shape.
    doc: what it holds, for the TFDS metadata.
    bytes_factor: about how many bytes it adds to a serialized example per
      event, as a multiple of a note's bytes in a NoteSequence (to size
      shards).
  """
  dtype: str
  shape: tuple
  tfds_dtype: str
  doc: str
  bytes_factor: float

  def __post_init__(self):
    # The writer stores an int64 feature as one int per step.
    if self.dtype not in ('int64', 'float32') or (
        self.dtype == 'int64' and self.shape != ()):
      raise ValueError(f'a control feature is int64 of shape () or float32, '
                       f'not {self.dtype} of shape {self.shape}')


# The attributes every control sets (the base leaves them None).
_REQUIRED = ('name', 'flag', 'flag_help', 'title', 'settings_class',
             'config_keys', 'feature', 'input_dtype', 'value_shape',
             'default_value')


class Control(codec_lib.Specified, abc.ABC):
  """Base of every control signal (see the module docstring).

  A subclass sets every attribute the base leaves None (`_REQUIRED`) and
  implements every abstract method; one that misses any fails where it is
  defined. The bases give construction from settings (`codec.Specified`)
  or a config, equality, `spec`, flag parsing, the SavedModel input
  signature and the input for a user's value.
  """

  # The canonical name: the switch in `config.controls`, the feature name in
  # SequenceExamples and the key of the model's input.
  name = None
  # musicrnn_generate's flag for the user's value, and its help.
  flag = None
  flag_help = None
  # What messages call it: "not trained with a <title> control".
  title = None
  settings_class = None
  # {key in the config's `controls` section: field of `settings_class`}.
  config_keys = None
  # Its SequenceExample feature list (`Feature`).
  feature = None
  # The model's input per step: 'int32' (a class, which the model one-hot
  # encodes to `size`) or 'float32' (a vector of `size`).
  input_dtype = None
  # The shape of one user value: () a number, (n,) a list of n numbers.
  value_shape = None
  # The value when the user gives none.
  default_value = None
  # The dtype of a value in a SavedModel's signature.
  value_dtype = 'float32'

  def __init_subclass__(cls, **kwargs):
    super().__init_subclass__(**kwargs)
    missing = [name for name in _REQUIRED if getattr(cls, name) is None]
    # abc only refuses to instantiate such a class; say so where it is made.
    missing += [name for name in sorted(Control.__abstractmethods__)
                if getattr(getattr(cls, name), '__isabstractmethod__', False)]
    if missing:
      raise TypeError(f'control {cls.__name__} lacks {", ".join(missing)}')
    if cls.input_dtype not in ('int32', 'float32'):
      raise TypeError(f'control {cls.__name__}: input_dtype is int32 or '
                      f'float32, not {cls.input_dtype!r}')
    fields = {f.name for f in dataclasses.fields(cls.settings_class)}
    unknown = sorted(set(cls.config_keys.values()) - fields)
    if unknown:
      raise TypeError(f'control {cls.__name__}: config_keys name no field of '
                      f'{cls.settings_class.__name__}: {unknown}')

  @classmethod
  def from_config(cls, config):
    """This control with the settings of `config.controls`; None when the
    config does not switch it on. A settings key the section lacks (a config
    written before the setting existed) keeps the dataclass default."""
    section = config.controls
    if not section.get(cls.name, False):
      return None
    return cls(cls.settings_class(**{
        field: section[key] for key, field in cls.config_keys.items()
        if key in section}))

  def config_values(self):
    """{key: value} of this control in a config's `controls` section: its
    switch, on, and its settings; `from_config` reads them back."""
    values = {self.name: True}
    for key, field in self.config_keys.items():
      values[key] = getattr(self.settings, field)
    return values

  @property
  @abc.abstractmethod
  def size(self):
    """The width of the model's input: classes, or the vector's length."""

  @property
  def input_shape(self):
    """The shape of the model's input at one step: () for a class, (size,)
    for a vector."""
    return () if self.input_dtype == 'int32' else (self.size,)

  @abc.abstractmethod
  def compute(self, ids, codec):
    """The feature at each event of a performance.

    Args:
      ids: int array [n] of token ids.
      codec: the codec (or its settings) that made them.

    Returns:
      array [n] + feature.shape: int32 classes or float32 vectors.
    """

  @classmethod
  def parse_flag(cls, text):
    """The value of `--flag=text`: a float, or a list of floats for a vector
    (e.g. "[2,0,1]"); None for None. Its range is `check_value`'s to check.

    Raises:
      UsageError: text that is not a Python number (list) of `value_shape`.
    """
    if text is None:
      return None
    what = ('a number' if cls.value_shape == ()
            else f'a list of {" x ".join(map(str, cls.value_shape))} numbers')
    try:
      value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError) as e:
      raise UsageError(f'--{cls.flag}={text} is not {what}') from e
    array = np.asarray(value, dtype=object)
    if array.shape != cls.value_shape or not all(
        isinstance(v, numbers.Real) and not isinstance(v, bool)
        for v in array.flat):
      raise UsageError(f'--{cls.flag}={text} is not {what}')
    return array.astype(np.float64).tolist()

  @classmethod
  @abc.abstractmethod
  def check_value(cls, value):
    """A user's value as a float64 array of `value_shape`.

    Raises:
      UsageError: a value out of range, naming the flag.
    """

  @abc.abstractmethod
  def input_for_value(self, value, xp=np):
    """The model's input at a step for values of the control, the same code
    in numpy and, inside a TensorFlow graph, tf.experimental.numpy.

    Args:
      value: float array [...] + value_shape: checked values (a SavedModel's
        batch [batch] + value_shape).
      xp: the array namespace, numpy or tf.experimental.numpy; only what
        both have, behaving alike, is used.

    Returns:
      [...] + input_shape of `input_dtype`.
    """

  def user_input(self, value=None):
    """numpy `input_for_value` of a user's value (None: `default_value`).

    Raises:
      UsageError: a value out of range (`check_value`).
    """
    return self.input_for_value(self.check_value(
        self.default_value if value is None else value))

  @classmethod
  def value_spec(cls):
    """The SavedModel signature's input for this control's values, in plain
    data: {'name': flag, 'shape': [None] + value_shape (a value per output),
    'dtype'}; e.g. tf.TensorSpec(spec['shape'], spec['dtype'],
    name=spec['name'])."""
    return {'name': cls.flag, 'shape': [None, *cls.value_shape],
            'dtype': cls.value_dtype}


def _float_array(value):
  """`value` as a float64 array, None when it is not numbers."""
  if isinstance(value, (str, bytes)):
    return None
  try:
    return np.asarray(value, np.float64)
  except (TypeError, ValueError):
    return None


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


class NoteDensityControl(Control):
  """Notes per second in a window after each event, and its class.

  Example:
    control = NoteDensityControl()
    classes = control.compute(ids, codec)       # int32 [n], in [0, size)
    x = control.input_for_value(4.0)            # int32 [], the class: 3
  """

  name = 'note_density'
  flag = 'notes_per_second'
  flag_help = ('Conditioned models: the note density to generate, in notes '
               'per second (default 15, as Magenta).')
  title = 'note-density'
  settings_class = NoteDensitySettings
  config_keys = {'note_density_window_seconds': 'window_size_seconds',
                 'note_density_bins': 'density_bin_ranges'}
  feature = Feature(dtype='int64', shape=(), tfds_dtype='int32',
                    doc='note-density bin at each event', bytes_factor=0.3)
  input_dtype = 'int32'
  value_shape = ()
  default_value = DEFAULT_NOTE_DENSITY

  @property
  def size(self):
    """Number of classes (model input width): len(density_bin_ranges) + 1."""
    return len(self.settings.density_bin_ranges) + 1

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
    """Density (notes/s; number or array) -> int32 class, note-seq's
    encode_event: `input_for_value` in float64."""
    return self.input_for_value(np.asarray(notes_per_second, np.float64))

  def classes(self, ids, codec):
    """int32 [n]: the density class at each event."""
    return self.class_of(self.values(ids, codec))

  def compute(self, ids, codec):
    """int32 [n]: the density class at each event (`classes`)."""
    return self.classes(ids, codec)

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

  @classmethod
  def check_value(cls, value):
    """A user's notes per second -> float64 []; UsageError unless >= 0."""
    array = _float_array(value)
    if array is None or array.shape != () or not array >= 0:
      raise UsageError(f'--{cls.flag} must be a number >= 0 (notes per '
                       f'second), got {value!r}')
    return array

  def input_for_value(self, value, xp=np):
    """Notes per second -> the class the model gets, note-seq's encode_event.

    Args:
      value: float [...] notes per second, e.g. [] or [batch]; float32 or
        float64 (the bins are compared in its dtype).
      xp: numpy, or tf.experimental.numpy inside a TensorFlow graph.

    Returns:
      int32 [...]: class k covers [density_bin_ranges[k-1],
      density_bin_ranges[k]), class 0 starts at 0, the last is unbounded.
    """
    value = xp.asarray(value)
    bins = xp.asarray(self.settings.density_bin_ranges, dtype=value.dtype)
    # The number of boundaries at or below the value: numpy's
    # searchsorted(side='right') on the increasing bins, which
    # tf.experimental.numpy lacks.
    reached = xp.asarray(xp.expand_dims(value, -1) >= bins, dtype=xp.int32)
    return xp.asarray(xp.sum(reached, axis=-1), dtype=xp.int32)


class PitchHistogramControl(Control):
  """Pitch-class histogram of a window after each event.

  Example:
    control = PitchHistogramControl()
    x = control.compute(ids, codec)    # float32 [n, 12], rows sum to 1
    c_major = control.input_for_value([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1])
  """

  name = 'pitch_histogram'
  flag = 'pitch_class_histogram'
  flag_help = ('Conditioned models: how much of each pitch class to play, 12 '
               'weights >= 0 from C, e.g. "[2,0,1,0,1,1,0,1,0,1,0,1]" '
               '(default: uniform).')
  title = 'pitch-histogram'
  settings_class = PitchHistogramSettings
  config_keys = {'pitch_histogram_window_seconds': 'window_size_seconds'}
  feature = Feature(dtype='float32', shape=(NOTES_PER_OCTAVE,),
                    tfds_dtype='float32',
                    doc='pitch-class histogram at each event', bytes_factor=8.0)
  input_dtype = 'float32'
  value_shape = (NOTES_PER_OCTAVE,)
  default_value = DEFAULT_PITCH_HISTOGRAM
  size = NOTES_PER_OCTAVE

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

  def input_for_value(self, value, xp=np):
    """Histograms -> what the model gets: normalised, note-seq's encoder.

    Args:
      value: float [..., 12] weights >= 0, C first (e.g. [12] or
        [batch, 12]).
      xp: numpy, or tf.experimental.numpy inside a TensorFlow graph.

    Returns:
      float32 [..., 12], each row summing to 1; an all-zero row becomes
      uniform (1/12 each). The division is in the dtype of `value`.
    """
    value = xp.asarray(value)
    total = xp.sum(value, axis=-1, keepdims=True)
    normal = xp.where(total > 0, value / xp.where(total > 0, total, 1),
                      xp.ones_like(value) / NOTES_PER_OCTAVE)
    return xp.asarray(normal, dtype=xp.float32)

  def inputs(self, ids, codec):
    """float32 [n, 12]: normalised histograms, note-seq's `events_to_input`."""
    histogram, anchor_of = self._anchor_values(ids, codec)
    return self.input_for_value(histogram)[anchor_of]

  def compute(self, ids, codec):
    """float32 [n, 12]: the normalised histogram at each event (`inputs`)."""
    return self.inputs(ids, codec)

  def constant_inputs(self, histogram=DEFAULT_PITCH_HISTOGRAM):
    """float32 [12]: the input for a user's histogram (12 weights >= 0, C
    first), normalised as note-seq's encoder does."""
    histogram = np.asarray(histogram, np.float64)
    if histogram.shape != (NOTES_PER_OCTAVE,) or np.any(histogram < 0):
      raise ValueError(f'a pitch class histogram is {NOTES_PER_OCTAVE} '
                       f'weights >= 0, got {histogram.tolist()!r}')
    return self.input_for_value(histogram)

  @classmethod
  def check_value(cls, value):
    """A user's histogram -> float64 [12]; UsageError unless 12 weights >= 0,
    not all zero (an all-zero histogram asks for no pitch at all)."""
    array = _float_array(value)
    if (array is None or array.shape != cls.value_shape or np.any(array < 0)
        or not array.sum() > 0):
      raise UsageError(f'--{cls.flag} needs {NOTES_PER_OCTAVE} non-negative '
                       f'weights, not all zero; got {value}')
    return array


# Every control, in the order of a model's inputs in Magenta's checkpoints
# and of feature lists in examples.
CONTROLS = (NoteDensityControl, PitchHistogramControl)


def _by(attribute):
  """{attribute value: control class} of CONTROLS; each value names one."""
  found = {getattr(cls, attribute): cls for cls in CONTROLS}
  if len(found) != len(CONTROLS):
    raise TypeError(f'two controls share a {attribute}')
  return found


_BY_NAME = _by('name')
_BY_FLAG = _by('flag')


def controls_from_config(config):
  """[(name, control)] of the controls `config.controls` switches on, in
  CONTROLS order; a name is the control's feature and model input."""
  found = [cls.from_config(config) for cls in CONTROLS]
  return [(control.name, control) for control in found if control is not None]


def control_from_spec(spec):
  """Rebuilds a control from its `spec()` (e.g. a SavedModel's asset).

  Specs written before controls were named by their feature carry the
  flag's name ('notes_per_second'), and still load.
  """
  return codec_lib.from_spec(spec, {**_BY_FLAG, **_BY_NAME}, kind='control')


def user_inputs(controls, values, config_name):
  """The model's input at every step for a user's control values.

  Args:
    controls: [(name, control)] a run was trained with
      (`controls_from_config`).
    values: {flag: value or None}, e.g. {'notes_per_second': 4.0,
      'pitch_class_histogram': None}; a control with no value (None or left
      out) takes its `default_value`.
    config_name: the run's config, for messages.

  Returns:
    {name: numpy input}: int32 [] (a class) or float32 [size], per
    `Control.input_for_value`.

  Raises:
    UsageError: a value for a control the run was not trained with, or one
      out of range.
    ValueError: a key that is no control's flag.
  """
  unknown = sorted(set(values) - set(_BY_FLAG))
  if unknown:
    raise ValueError(f'{unknown} are not control flags; they are '
                     f'{", ".join(_BY_FLAG)}')
  trained = {control.flag for _, control in controls}
  for cls in CONTROLS:
    if values.get(cls.flag) is not None and cls.flag not in trained:
      raise UsageError(f'--{cls.flag}: config {config_name!r} was not trained '
                       f'with a {cls.title} control')
  return {name: control.user_input(values.get(control.flag))
          for name, control in controls}
