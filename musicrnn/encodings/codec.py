"""The codec contract every musicrnn encoding follows (numpy only, no TF).

A codec turns an *unquantized* NoteSequence (times in seconds, as
`musicrnn_convert` writes them) into numpy arrays and back:

  codec = PerformanceCodec(PerformanceSettings(num_velocity_bins=32))
  ids = codec.encode(sequence)        # np.ndarray, dtype int32
  sequence2 = codec.decode(ids)       # NoteSequence (times in seconds)
  codec.vocab_size                    # token ids are in [0, vocab_size)
  codec.spec()                        # JSON-able: {'name': ..., 'settings': {...}}
  codec_from_spec(codec.spec())       # an equal codec

- `settings` is a frozen dataclass; `spec()` is saved with every dataset so
  the trainer and generator rebuild the same codec.
- Each codec quantizes for itself, vectorised with numpy, with the same
  rounding as note-seq (`int(seconds * steps_per_second + 0.5)`, a zero-length
  note lengthened to one step).
- A codec says how its ids keep time (`timing`): in seconds, or at the
  tempo its settings hold, on a metric grid or not; `tempo_settings()`,
  `with_qpm(qpm)` and `steps_per_bar()` answer from it.
- A sequence the codec cannot encode raises `EncodingError` with a short
  `reason` (used as a Beam counter name by the dataset pipeline).
- A codec that `extracts` (Melody, Drums and Improv RNN) also reads a
  sequence as Magenta's extractors do: `extract(sequence, settings)` gives
  an `Extraction`, an example per track and the reason each track was
  left out.
"""

import abc
import dataclasses
import json

import numpy as np


# How a grammar's masks renormalise (`Codec.grammar`).
RENORMALISE_BY_TYPE = 'by_type'
RENORMALISE_ALL = 'all'
RENORMALISE = (RENORMALISE_BY_TYPE, RENORMALISE_ALL)

# How a codec's ids keep time (`Codec.timing`): in seconds, with no tempo
# (performance events); at the tempo `qpm` of its settings, the quarter notes
# per minute `decode` writes; or at that tempo on a metric grid of the
# settings' `steps_per_quarter`.
TIMING_SECONDS = 'seconds'
TIMING_TEMPO = 'tempo'
TIMING_METRIC = 'metric'
# A 4/4 bar, the meter of every metric encoding without its own bar length
# (Magenta's default).
DEFAULT_QUARTERS_PER_BAR = 4


class EncodingError(ValueError):
  """A NoteSequence this codec cannot encode; `reason` names why."""

  def __init__(self, reason, message):
    super().__init__(message)
    self.reason = reason


class Specified:
  """An object that is its frozen settings (a codec, a control signal):
  made from them (default: `settings_class`'s defaults), equal and hashed by
  them, and saved as its JSON spec {'name', 'settings'}."""

  name = None
  settings_class = None

  def __init__(self, settings=None):
    self.settings = settings if settings is not None else self.settings_class()

  def __eq__(self, other):
    return type(other) is type(self) and other.settings == self.settings

  def __hash__(self):
    return hash((type(self), self.settings))

  def __repr__(self):
    return f'{type(self).__name__}({self.settings!r})'

  def spec(self):
    """JSON-able {'name', 'settings'}; `from_spec` with the class's registry
    rebuilds the object (`codec_from_spec`, `controls.control_from_spec`)."""
    return spec_of(self)


class Codec(Specified):
  """Base of every codec: settings, equality, hash, repr and spec
  (`Specified`).

  Subclasses set `settings_class` and `timing` (whether their settings hold
  a tempo and a metric grid) and implement `vocab_size`, `encode` and
  `decode`; `register(name)` sets `name`. Token encodings that models
  generate also set `end_id` and implement `empty_primer` (and
  `decode_generated` where a note can be left on).
  """

  # The feature list of `musicrnn.tfrecords.schema` that holds what `encode`
  # gives, a row per step: 'tokens' (ids) or 'pianoroll' (0/1 cells).
  sequence_feature = 'tokens'
  # Whether `encode` gives fixed-size segments [segments, steps, ...], each
  # an example of its own (the GAN's piano rolls), rather than one sequence
  # that the dataset pipeline cuts to length.
  segmented = False
  # What one step of `encode` is called in logs and summaries.
  step_name = 'events'
  # Whether the dataset pipeline reads each sequence as Magenta's extractors
  # do (`extract`: several tracks, each an example, each track left out
  # counted with its reason) rather than through `encode`.
  extracts = False
  # Feature lists an example holds beside `sequence_feature`, a row per
  # step (`musicrnn.tfrecords.schema`), e.g. Improv RNN's 'chords'.
  extra_features = ()

  @property
  def part_sizes(self):
    """The vocabularies of the parts one id packs, first to last: a
    MusicVAE trio's (melody, bass, drums), each id (melody * 90 + bass) *
    512 + drums (`trio.TrioCodec`); (vocab_size,) for ids of one part. A
    model of such ids has an output per part (MusicVAE's `part_sizes`)."""
    return (self.vocab_size,)

  # The id that ends every encoded sequence (generation bans it and a primer
  # drops it), None when the encoding has none.
  end_id = None
  # The id that ends each frame of an encoding whose tokens spell out frames
  # (`frames.FrameEventCodec`): the evaluation then scores whole frames.
  frame_end_id = None

  def encoder_spec(self):
    """What a model needs to build note-seq's encoder-decoder inputs from
    this encoding's ids itself (Magenta's Melody, Drums and Improv RNN
    encodings: `event_sequence.SequenceEncoder.spec`)."""
    raise NotImplementedError(f'the {self.name} encoding is not one of '
                              "Magenta's event-sequence encodings")

  def extra_input_sizes(self):
    """{extra feature (`extra_features`): the width of the vector a model
    reads of it at each step} (a lead sheet's chords: the chord encoding's
    input); empty for a codec without extra features."""
    return {}

  def extra_inputs(self, name, values):
    """float32 [steps, size]: what a model reads of the extra feature
    `name` at each step, from the values the dataset stores (NumPy; UTF-8
    bytes for chord symbols)."""
    raise NotImplementedError(f'the {self.name} encoding has no extra '
                              f'feature {name!r}')

  # The kinds of fixed input vector per id this encoding has
  # (`input_vectors`), beside the one-hot id every encoding has.
  input_vector_kinds = ()

  def input_vectors(self, kind):
    """float32 [vocab_size, width]: a fixed vector per id that a model reads
    in place of the one-hot id (note-seq's other input encodings, e.g. the
    performance encoding's 'modulo'); `kind` one of `input_vector_kinds`."""
    raise ValueError(
        f'the {self.name} encoding has no {kind!r} input vectors'
        + (f'; it has {", ".join(map(repr, self.input_vector_kinds))}'
           if self.input_vector_kinds else
           ': a model reads its ids one-hot or embedded'))

  def empty_primer(self):
    """The ids a generated sequence starts from when there is no primer."""
    raise NotImplementedError(f'the {self.name} encoding is not generated '
                              'token by token')

  def decode_generated(self, ids, max_note_duration=None,
                       restrike_ends_note=True):
    """Ids a model generated -> NoteSequence. `max_note_duration` (seconds)
    ends a note the ids leave on that long; `restrike_ends_note` reads a
    note struck again while it sounds as `grammar()` does (ending it).
    Encodings whose ids always end their notes, once each, ignore both."""
    del max_note_duration, restrike_ends_note
    return self.decode(ids)

  def grammar(self, max_polyphony=0, max_note_duration=None,
              renormalise=RENORMALISE_BY_TYPE):
    """What the ids a model generates may say next (`Grammar`): generation
    masks what cannot mean anything in the state of the music so far.

    Args:
      max_polyphony: above 0, no note starts while this many sound.
      max_note_duration: seconds after which a note the ids leave on ends
        (as `decode_generated` ends it); 0 or None: never.
      renormalise: RENORMALISE_BY_TYPE keeps the grammar's `type_groups`;
        RENORMALISE_ALL spreads every masked probability over all allowed
        ids.
    """
    del max_polyphony, max_note_duration, renormalise
    raise NotImplementedError(f'the {self.name} encoding has no grammar for '
                              'the state masks (generate with --nostate_masks)')

  # Settings the dataset pipeline learns from the training split (a
  # vocabulary), empty in the config until then: it counts
  # `vocabulary_items` of every training sequence (augmentations included)
  # and builds the data with `with_counts`' codec, whose spec dataset.json
  # keeps.
  learned_settings = ()

  @property
  def needs_counts(self):
    """Whether a learned setting is still empty (to be counted from data)."""
    return any(not getattr(self.settings, name) for name in self.learned_settings)

  def vocabulary_items(self, sequence):
    """The hashable items one sequence adds to the counts (codecs with
    `learned_settings` only)."""
    raise NotImplementedError(f'the {self.name} encoding learns nothing from data')

  def with_counts(self, counts):
    """This codec with its learned settings made from {item: count}."""
    raise NotImplementedError(f'the {self.name} encoding learns nothing from data')

  def describe_learned(self, counts):
    """One line for the log: what this codec learned from {item: count}."""
    raise NotImplementedError(f'the {self.name} encoding learns nothing from data')

  def extract(self, sequence, settings):
    """The examples Magenta's extractor reads from one sequence (codecs
    with `extracts` only).

    Args:
      sequence: an unquantized NoteSequence of one tempo and meter.
      settings: `ExtractionSettings`.

    Returns:
      `Extraction`.

    Raises:
      EncodingError: the sequence cannot be read at all (not quantizable).
    """
    raise NotImplementedError(f'the {self.name} encoding extracts no tracks')

  def decode_example(self, features):
    """A NoteSequence of one stored example ({feature: its rows, as
    `extract` made them}): by default `decode` of its ids."""
    return self.decode(features[self.sequence_feature])

  def check_extraction(self, settings):
    """Raises ValueError for `ExtractionSettings` this codec's `extract`
    does not read (codecs with `extracts`; by default it reads all)."""
    del settings

  # How the ids keep time (TIMING_SECONDS, TIMING_TEMPO or TIMING_METRIC),
  # read by `tempo_settings`, `with_qpm` and `steps_per_bar`: a codec of
  # TIMING_TEMPO or TIMING_METRIC has settings with a `qpm` field (and with
  # TIMING_METRIC a `steps_per_quarter` one). A codec whose tempo lies
  # deeper in its settings overrides the three methods (the lead sheet's
  # melody), one with its own bar length `steps_per_bar` (the piano roll).
  timing = TIMING_SECONDS

  def tempo_settings(self):
    """The frozen settings that hold the tempo `decode` writes (their `qpm`,
    quarter notes per minute): `settings` unless the codec keeps time in
    seconds (performance events), then None."""
    return None if self.timing == TIMING_SECONDS else self.settings

  def with_qpm(self, qpm):
    """A codec of this class whose `decode` writes at `qpm` quarter notes per
    minute: its settings with that tempo (`dataclasses.replace`, checked
    again by their __post_init__).

    Raises:
      ValueError: the codec holds no tempo (`tempo_settings` None), or qpm
        is not > 0.
    """
    if self.tempo_settings() is None:
      raise ValueError(f'the {self.name} encoding holds no tempo (qpm): it '
                       'keeps time in seconds')
    return type(self)(dataclasses.replace(self.settings, qpm=qpm))

  def steps_per_bar(self):
    """Steps of one bar of the metric grid: `steps_per_quarter` times the
    quarters of a 4/4 bar; None for an encoding without a metric grid
    (`timing` not TIMING_METRIC)."""
    if self.timing != TIMING_METRIC:
      return None
    return self.settings.steps_per_quarter * DEFAULT_QUARTERS_PER_BAR

  def seconds_per_step(self):
    """Seconds of one step of the metric grid at the tempo `decode` writes
    (60 / qpm / steps_per_quarter); None for an encoding without a metric
    grid."""
    if self.timing != TIMING_METRIC:
      return None
    tempo = self.tempo_settings()
    return 60.0 / tempo.qpm / tempo.steps_per_quarter

  # Metric encodings count quantized steps in their tokens (Magenta measures
  # polyphonic sequences in steps); they set this and define `num_steps`.
  counts_steps = False

  def num_steps(self, ids):
    """The number of quantized steps `ids` spans (metric encodings only)."""
    raise NotImplementedError(f'the {self.name} encoding counts no steps')


@dataclasses.dataclass(frozen=True)
class ExtractionSettings:
  """How Magenta's extractors read tracks from a sequence (`Codec.extract`;
  a config's `data.extraction`). Defaults: Melody RNN's MelodyExtractor.

  Attributes:
    min_bars: a track shorter than this many bars is left out.
    max_steps: a longer track is cut to this many steps (0: never).
    gap_bars: bars of silence that end a track.
    min_unique_pitches: a melody with fewer pitch classes is left out
      (counted after the cut, as Magenta's); Improv RNN's is 3.
    ignore_polyphonic_notes: keep the highest of notes starting together;
      False (Magenta's): leave out the rest of that instrument.
    require_chords: leave out a lead sheet without a chord.
    infer_chords: infer a sequence's chords (note-seq's chord inference)
      where it has no chord symbols.

  MusicVAE's converters (melody and drums codecs; `windows`):
    pad_end: a track runs to the end of its last bar (note-seq's pad_end).
    programs: only notes of these MIDI programs are read (Magenta's
      valid_programs, e.g. MEL_PROGRAMS 0-31); empty: every program.
    drop_unencodable_notes: notes the encoding cannot hold (a pitch outside
      a melody's range, a drum pitch of no drum type) are taken out before
      the tracks are read, as Magenta's converters do; False: the codec's
      own rule (a melody is moved by octaves into its range).
    quarters_per_bar: read only sequences whose bar is this many quarter
      notes (4: 4/4 and 2/2, Magenta's check of steps per bar); a sequence
      of another meter gives nothing (reason 'wrong_meter'); 0: any meter.
    window_bars: each track's examples are the windows of this many bars
      that slide over it a bar at a time (Magenta's slice_bars); 0: the
      track is one example.
    dedupe: of a sequence's windows, each distinct one once (Magenta's
      converters keep a set); the others are counted as duplicates.
  """
  min_bars: int = 7
  max_steps: int = 512
  gap_bars: float = 1.0
  min_unique_pitches: int = 5
  ignore_polyphonic_notes: bool = False
  require_chords: bool = True
  infer_chords: bool = True
  pad_end: bool = False
  programs: tuple = ()
  drop_unencodable_notes: bool = False
  quarters_per_bar: float = 0.0
  window_bars: int = 0
  dedupe: bool = False

  def __post_init__(self):
    object.__setattr__(self, 'programs', tuple(int(p) for p in self.programs))
    if self.min_bars < 0 or self.max_steps < 0 or self.min_unique_pitches < 0:
      raise ValueError('min_bars, max_steps and min_unique_pitches must be '
                       f'>= 0, got {self}')
    if not self.gap_bars > 0:
      raise ValueError(f'gap_bars must be > 0, got {self.gap_bars}')
    if self.window_bars < 0 or self.quarters_per_bar < 0:
      raise ValueError('window_bars and quarters_per_bar must be >= 0, got '
                       f'{self.window_bars} and {self.quarters_per_bar}')
    if any(not 0 <= p <= 127 for p in self.programs):
      raise ValueError(f'programs must be MIDI programs 0..127, got '
                       f'{self.programs}')

  @property
  def converts(self):
    """Whether any of MusicVAE's converter settings is on (codecs that
    read only Magenta's RNN extractors refuse them)."""
    return bool(self.pad_end or self.programs or self.drop_unencodable_notes
                or self.quarters_per_bar or self.window_bars or self.dedupe)


REASON_WRONG_METER = 'wrong_meter'
REASON_SHORTER_THAN_WINDOW = 'track_shorter_than_window'


def check_meter(notes, settings):
  """Raises EncodingError('wrong_meter') where `settings.quarters_per_bar`
  is set and the bar of `notes` (`quantize.QuantizedNotes`) holds another
  number of quarter notes."""
  if not settings.quarters_per_bar:
    return
  quarters = 4.0 * notes.numerator / notes.denominator
  if quarters != settings.quarters_per_bar:
    raise EncodingError(
        REASON_WRONG_METER,
        f'{notes.numerator}/{notes.denominator} has {quarters:g} quarter '
        f'notes a bar, the config reads {settings.quarters_per_bar:g}')


def program_mask(notes, settings):
  """[num_notes] bool: the notes of `settings.programs` (all where empty)."""
  if not settings.programs:
    return np.ones(len(notes.program), bool)
  return np.isin(notes.program, settings.programs)


def window_key(features, amount=0):
  """What makes two windows one (`ExtractionSettings.dedupe`): their
  feature lists' values and their transposition."""
  return tuple((name, np.asarray(rows).tobytes())
               for name, rows in sorted(features.items())) + (amount,)


def windows(examples, dropped, bar, settings):
  """The windows of `settings.window_bars` bars (of `bar` steps) sliding a
  bar at a time over each track's example (Magenta's MusicVAE converters:
  a window ending at every bar line from the window's length on), and with
  `settings.dedupe` each distinct window once.

  Args:
    examples: [(features, transposition)] of `Extraction`, a row per step.
    dropped: the extraction's reasons so far (a track shorter than a window
      adds 'track_shorter_than_window').
    bar: steps in a bar.
    settings: `ExtractionSettings`.

  Returns:
    (examples, dropped, duplicates): the windows, the reasons, and how many
    windows were left out as repeats of another.
  """
  if not settings.window_bars:
    return examples, dropped, 0
  size = settings.window_bars * bar
  found, seen, duplicates = [], set(), 0
  dropped = list(dropped)
  for features, amount in examples:
    length = len(next(iter(features.values())))
    if length < size:
      dropped.append(REASON_SHORTER_THAN_WINDOW)
      continue
    for end in range(size, length + 1, bar):
      window = {name: rows[end - size:end] for name, rows in features.items()}
      if settings.dedupe:
        key = window_key(window, amount)
        if key in seen:
          duplicates += 1
          continue
        seen.add(key)
      found.append((window, amount))
  return found, dropped, duplicates


@dataclasses.dataclass
class Extraction:
  """What `Codec.extract` read from one sequence.

  Attributes:
    examples: [(features, transposition)]: each example's feature lists
      ({`sequence_feature`: ids, and each of `extra_features`}, a row per
      step) and the semitones it was moved (its key, a transposition).
    dropped: the reason of each track (or lead-sheet transposition) left
      out, e.g. 'melody_too_short'; a sequence with no track at all gives
      one reason ('no_melody', 'no_drums').
    truncated: tracks cut to `max_steps`.
    duplicates: windows left out as repeats (`ExtractionSettings.dedupe`).
    reason: why nothing could come out of the sequence, where one reason
      says it whatever the tracks' (a trio without a bass instrument);
      empty: the most common of `dropped`.
  """
  examples: list
  dropped: list
  truncated: int = 0
  duplicates: int = 0
  reason: str = ''

  def nothing_reason(self):
    """Why no example came out: `reason`, else the most common reason a
    track was left out (the first of equals)."""
    if self.reason:
      return self.reason
    if not self.dropped:
      return 'nothing_extracted'
    return max(self.dropped, key=self.dropped.count)


class Grammar(abc.ABC):
  """The state of the music a token stream has written so far, and the ids
  that can mean something next in it (a codec's `grammar()`).

  Generation keeps one state per sequence of the batch, updates it with
  every token (the primer's and the drawn ones) and gives the ids that are
  not `allowed` probability zero before it draws: conditioning on validity,
  not a change of the model (a model that never proposes a disallowed id
  samples exactly as without the grammar). A state is a tuple of arrays
  whose first axis is the batch, so beam search reorders it as it reorders
  the model's states.

  Every method is written once against an array namespace `xp`: NumPy
  (tests, decoding) or tf.experimental.numpy inside the compiled sampling
  loop and the SavedModel. Settings such as `max_polyphony` may be numbers
  or scalar tensors (a SavedModel's inputs).
  """

  # The logits the mask covers: the vocabulary, or the heads side by side
  # for a multi-head model.
  width = None
  # Id ranges [(first, last + 1)] whose masked probability stays within the
  # range (renormalised over its allowed ids, in the model's proportions)
  # rather than going to every allowed id: an event type the model chose,
  # whose value the grammar corrects. Empty: every masked probability is
  # spread over all allowed ids.
  type_groups = ()

  @abc.abstractmethod
  def key(self):
    """What makes two grammars mask alike (hashable): grammars are equal
    and hashed by it, so that generation reuses a loop compiled for an
    equal grammar."""

  def __eq__(self, other):
    return type(other) is type(self) and other.key() == self.key()

  def __hash__(self):
    return hash((type(self), self.key()))

  @abc.abstractmethod
  def initial_state(self, batch, xp):
    """The state before any token, for `batch` sequences."""

  @abc.abstractmethod
  def allowed(self, state, xp):
    """bool [batch, width]: the ids that can mean something next."""

  @abc.abstractmethod
  def update(self, state, tokens, xp):
    """The state after int [batch] `tokens`."""

  def allows(self, state, tokens):
    """bool [batch]: whether each of int [batch] `tokens` is allowed in
    `state` (NumPy; for checks)."""
    allowed = self.allowed(state, np)
    return allowed[np.arange(len(allowed)), np.asarray(tokens)]

  def states(self, ids, xp=None):
    """The states before each id of int [batch, length] `ids` and after the
    last: a list of length + 1 states (NumPy; for tests and decoding)."""
    xp = xp or np
    ids = np.asarray(ids, np.int32)
    state = self.initial_state(ids.shape[0], xp)
    result = [state]
    for t in range(ids.shape[1]):
      state = self.update(state, ids[:, t], xp)
      result.append(state)
    return result


_REGISTRY = {}


def register(name):
  """Class decorator: makes a codec constructible by `codec_from_spec`."""

  def wrap(cls):
    cls.name = name
    _REGISTRY[name] = cls
    return cls

  return wrap


def spec_of(obj):
  """The spec of a codec or control: its `name` and settings, as JSON gives
  them back (lists, not tuples), so a spec equals the one dataset.json holds."""
  return json.loads(json.dumps({'name': obj.name,
                                'settings': dataclasses.asdict(obj.settings)}))


def from_spec(spec, registry, kind='encoding'):
  """Rebuilds `registry[spec['name']](settings)` from a `spec_of` dict.

  Args:
    spec: {'name', 'settings'}, e.g. read from dataset.json.
    registry: {name: class}; each class has a `settings_class` dataclass.
    kind: what the names name, for error messages ('encoding', 'control').

  Raises:
    ValueError: an unknown name or setting.
  """
  name = spec.get('name')
  if name not in registry:
    raise ValueError(
        f'unknown {kind} {name!r}; known: {", ".join(sorted(registry))}')
  cls = registry[name]
  settings = spec.get('settings', {})
  fields = {f.name for f in dataclasses.fields(cls.settings_class)}
  unknown = set(settings) - fields
  if unknown:
    raise ValueError(f'unknown {name} settings: {sorted(unknown)}')
  return cls(cls.settings_class(**settings))


def codec_from_spec(spec):
  """Rebuilds a codec from `codec.spec()` (e.g. read from dataset.json)."""
  return from_spec(spec, _REGISTRY)


def codec_names():
  """The names of the registered codecs, sorted."""
  return sorted(_REGISTRY)


def codec_class(name):
  """The codec class registered as `name` (ValueError if none is)."""
  if name not in _REGISTRY:
    raise ValueError(
        f'unknown encoding {name!r}; known: {", ".join(codec_names())}')
  return _REGISTRY[name]


def check_pitch_range(min_pitch, max_pitch):
  """Raises ValueError unless 0 <= min_pitch <= max_pitch <= 127 (MIDI)."""
  if not 0 <= min_pitch <= max_pitch <= 127:
    raise ValueError(f'need 0 <= min_pitch <= max_pitch <= 127, got '
                     f'{min_pitch}, {max_pitch}')


def check_metric_grid(steps_per_quarter, qpm):
  """Raises ValueError unless steps_per_quarter > 0 and qpm > 0."""
  if steps_per_quarter <= 0:
    raise ValueError(f'steps_per_quarter must be > 0, got {steps_per_quarter}')
  if not qpm > 0:
    raise ValueError(f'qpm must be > 0, got {qpm}')
