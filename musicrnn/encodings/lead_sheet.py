"""Magenta's Improv RNN encodings: a melody over chords, id for id note-seq's.

A lead sheet is a melody (melody.py: one event id per step) and a chord
symbol per step ('C', 'Am7', 'G/B', note-seq's NO_CHORD 'N.C.'). The model
predicts the melody; the chords, known in advance, condition it. Its input
at step i is note-seq's `ConditionalEventSequenceEncoderDecoder`'s: the
chord input of step i + 1 (the chord under the event being predicted), then
the melody input of step i:

  input(i) = [chord_input(chords[i + 1]), melody_input(i)]

and the labels are the melody's. The chord input is one of note-seq's
(`LeadSheetSettings.chord_encoding`):

  'triad'        TriadChordOneHotEncoding, one-hot of 49: 0 no chord, then
                 12 major, 12 minor, 12 augmented, 12 diminished triads by
                 root (basic_improv, attention_improv)
  'major_minor'  MajorMinorChordOneHotEncoding, one-hot of 25: no chord, 12
                 major, 12 minor
  'pitches'      PitchChordsEncoderDecoder, 37: no chord, root one-hot (12),
                 the pitch classes of the chord (12), bass one-hot (12)
                 (chord_pitches_improv)

Magenta's configs (`MAGENTA_CONFIGS`; melody 48..84, not transposed to a
key): basic_improv input 49 + 38 = 87, 38 classes; attention_improv 49 + 74
= 123, 40 classes; chord_pitches_improv 37 + 38 = 75, 38 classes.

Chord symbols are read with note-seq's `chord_symbols_lib` (once per
distinct symbol); a symbol it cannot read, or a chord the one-hot encoding
has no id for (a sus chord in 'triad'), is refused, as Magenta's pipeline
drops such a lead sheet.
"""

import dataclasses

import note_seq
from note_seq import chord_inference
from note_seq import chord_symbols_lib
from note_seq import chords_encoder_decoder
from note_seq import constants
from note_seq import sequences_lib
from note_seq.protobuf import music_pb2
import numpy as np

from musicrnn.encodings import codec
from musicrnn.encodings import melody as melody_lib
from musicrnn.encodings import quantize

NO_CHORD = constants.NO_CHORD
TRIAD = 'triad'
MAJOR_MINOR = 'major_minor'
PITCHES = 'pitches'
CHORD_ENCODINGS = (TRIAD, MAJOR_MINOR, PITCHES)

REASON_BAD_CHORD_SYMBOL = 'bad_chord_symbol'
REASON_CHORD_NOT_ENCODABLE = 'chord_not_encodable'
REASON_COINCIDENT_CHORDS = 'coincident_chords'
# Reasons `LeadSheetCodec.extract` leaves a lead sheet out, beside the
# melody's and the chords' above.
REASON_NO_CHORDS = 'no_chords'
REASON_CHORD_INFERENCE_FAILED = 'chord_inference_failed'
# Magenta's twelve transpositions of a lead sheet (all_transpositions).
ALL_TRANSPOSITIONS = tuple(range(-6, 6))

_CHORD_SYMBOL = music_pb2.NoteSequence.TextAnnotation.CHORD_SYMBOL


@dataclasses.dataclass(frozen=True)
class LeadSheetSettings:
  """A Magenta lead-sheet encoding (saved with every dataset).

  Attributes:
    chord_encoding: 'triad', 'major_minor' or 'pitches' (module docstring).
    melody: the melody's MelodySettings (its encoder, range, key, grid and
      qpm); Improv RNN keeps the melody's key (transpose_to_key None).
  """
  chord_encoding: str = TRIAD
  melody: melody_lib.MelodySettings = melody_lib.MelodySettings(
      transpose_to_key=None)

  def __post_init__(self):
    if isinstance(self.melody, dict):  # from a JSON spec
      object.__setattr__(self, 'melody',
                         melody_lib.MelodySettings(**self.melody))
    if self.chord_encoding not in CHORD_ENCODINGS:
      raise ValueError(f'unknown chord_encoding {self.chord_encoding!r}; '
                       f'known: {", ".join(CHORD_ENCODINGS)}')


# Magenta's Improv RNN configs (improv_rnn_model.py's default_configs).
MAGENTA_CONFIGS = {
    'basic_improv': LeadSheetSettings(),
    'attention_improv': LeadSheetSettings(melody=melody_lib.MelodySettings(
        encoder=melody_lib.KEY, transpose_to_key=None)),
    'chord_pitches_improv': LeadSheetSettings(chord_encoding=PITCHES),
}


def _read_chord(read, symbol):
  """`read(symbol)` with note-seq's chord errors as EncodingErrors."""
  try:
    return read(symbol)
  except chord_symbols_lib.ChordSymbolError as e:
    raise codec.EncodingError(REASON_BAD_CHORD_SYMBOL,
                              f'chord symbol {symbol!r}: {e}') from e
  except chords_encoder_decoder.ChordEncodingError as e:
    raise codec.EncodingError(REASON_CHORD_NOT_ENCODABLE, str(e)) from e


def _per_symbol(chords, compute):
  """[len(chords), ...] of `compute(symbol)`, computed once per symbol."""
  symbols, inverse = np.unique(np.asarray([str(c) for c in chords], object),
                               return_inverse=True)
  values = np.asarray([compute(str(symbol)) for symbol in symbols])
  return values[inverse.reshape(-1)] if len(symbols) else values


class ChordEncoding:
  """One of note-seq's chord encodings (`LeadSheetSettings.chord_encoding`),
  over chord symbols: `inputs` for every encoding, `ids` for the one-hot
  ones."""

  def __init__(self, name):
    self.name = name
    if name == PITCHES:
      self._note_seq = chords_encoder_decoder.PitchChordsEncoderDecoder()
      self.num_ids = None
    else:
      self._note_seq = (chords_encoder_decoder.TriadChordOneHotEncoding()
                        if name == TRIAD else
                        chords_encoder_decoder.MajorMinorChordOneHotEncoding())
      self.num_ids = self._note_seq.num_classes
    self.input_size = (self._note_seq.input_size if name == PITCHES
                       else self.num_ids)

  def ids(self, chords):
    """int32 [steps]: each chord symbol's id (one-hot encodings only).

    Raises:
      codec.EncodingError: 'bad_chord_symbol', 'chord_not_encodable'.
    """
    if self.num_ids is None:
      raise ValueError(f'the {self.name} chord encoding has no ids')
    ids = _per_symbol(chords, lambda symbol: _read_chord(
        self._note_seq.encode_event, symbol))
    return np.asarray(ids, np.int32).reshape(-1)

  def symbols(self, ids):
    """Chord symbols of ids (one-hot encodings only), note-seq's names."""
    return [self._note_seq.decode_event(int(i)) for i in ids]

  def inputs(self, chords):
    """float32 [steps, input_size]: each chord symbol's input vector.

    Raises:
      codec.EncodingError: 'bad_chord_symbol', 'chord_not_encodable'.
    """
    if self.num_ids is not None:
      ids = self.ids(chords)
      rows = np.zeros((len(ids), self.num_ids), np.float32)
      rows[np.arange(len(ids)), ids] = 1.0
      return rows
    rows = _per_symbol(chords, lambda symbol: _read_chord(
        lambda s: self._note_seq.events_to_input([s], 0), symbol))
    return np.asarray(rows, np.float32).reshape(-1, self.input_size)


def transpose_chords(chords, amount):
  """Chord symbols transposed by `amount` semitones as note-seq's
  `ChordProgression.transpose` writes them (every symbol but NO_CHORD is
  re-spelled, even for 0).

  Raises:
    codec.EncodingError: 'bad_chord_symbol'.
  """
  def move(symbol):
    if symbol == NO_CHORD:
      return symbol
    return _read_chord(lambda s: chord_symbols_lib.transpose_chord_symbol(
        s, amount % constants.NOTES_PER_OCTAVE), symbol)
  moved = _per_symbol(chords, move)
  return [str(symbol) for symbol in moved]


def chords_at_steps(sequence, notes, steps, start_step=0, end_step=None):
  """The chord symbol at each of `steps`, as Magenta aligns a sequence's
  chords with a melody (note-seq's `event_list_chords`): the sequence's
  CHORD_SYMBOL annotations read as note-seq's
  `ChordProgression.from_quantized_sequence(quantized, 0, total steps)`,
  and steps past its end given the last chord.

  Args:
    sequence: the unquantized NoteSequence.
    notes: its `quantize.QuantizedNotes`.
    steps: int [n] steps from the sequence's start.
    start_step, end_step: the range note-seq reads (end_step None: the
      sequence's end): two chords on one step are refused only inside it,
      as `from_quantized_sequence(quantized, start_step, end_step)`
      refuses them (Magenta reads each melody's range).

  Returns:
    [n] chord symbols (str).

  Raises:
    codec.EncodingError: 'coincident_chords' (two different chords at one
      step, which note-seq refuses).
  """
  annotations = [a for a in sequence.text_annotations
                 if a.annotation_type == _CHORD_SYMBOL]
  rate = quantize.steps_per_second(notes.steps_per_quarter, notes.qpm)
  at = quantize.quantize_seconds([a.time for a in annotations], rate)
  order = np.argsort(at, kind='stable')
  at = at[order]
  text = np.asarray([annotations[i].text for i in order], dtype=object)
  total = notes.total_steps
  inside = (at >= start_step) & (at < (total if end_step is None
                                       else end_step))
  coincident = inside[1:] & (at[1:] == at[:-1]) & (text[1:] != text[:-1])
  if coincident.any():
    i = int(np.flatnonzero(coincident)[0])
    raise codec.EncodingError(
        REASON_COINCIDENT_CHORDS,
        f'chords {text[i]!r} and {text[i + 1]!r} both start at step {at[i]}')
  steps = np.asarray(steps, np.int64)
  if total <= 0:
    return [NO_CHORD] * len(steps)
  # The chord in force at each step: the last one at or before it.
  steps = np.minimum(steps, total - 1)
  latest = np.searchsorted(at, steps, side='right') - 1
  return [str(text[i]) if i >= 0 else NO_CHORD for i in latest.tolist()]


def has_chords(sequence):
  """Whether a NoteSequence holds a chord symbol."""
  return any(a.annotation_type == _CHORD_SYMBOL
             for a in sequence.text_annotations)


def with_inferred_chords(sequence, steps_per_quarter):
  """A copy of an unquantized NoteSequence with the chord symbols note-seq's
  `infer_chords_for_sequence` infers on its quantization (its default
  chords per bar for the meter), at their times.

  Raises:
    codec.EncodingError: 'chord_inference_failed' (an uncommon time
      signature, an empty or too long sequence, ...).
  """
  try:
    quantized = sequences_lib.quantize_note_sequence(sequence,
                                                     steps_per_quarter)
    chord_inference.infer_chords_for_sequence(quantized)
  except (chord_inference.ChordInferenceError,
          sequences_lib.QuantizationStatusError) as e:
    raise codec.EncodingError(REASON_CHORD_INFERENCE_FAILED,
                              f'{type(e).__name__}: {e}') from e
  inferred = music_pb2.NoteSequence()
  inferred.CopyFrom(sequence)
  for annotation in quantized.text_annotations:
    if annotation.annotation_type == _CHORD_SYMBOL:
      inferred.text_annotations.add(time=annotation.time, text=annotation.text,
                                    annotation_type=_CHORD_SYMBOL)
  return inferred


def transpose_melody(events, amount):
  """note-seq's `Melody.transpose(amount)`: pitches moved `amount`
  semitones, those leaving [0, 128) octave-folded back."""
  events = np.array(events, np.int64)
  moved, _ = melody_lib.squash(
      np.where(events >= 0, events + amount, events),
      constants.MIN_MIDI_PITCH, constants.MAX_MIDI_PITCH + 1, None)
  return moved


@codec.register('lead_sheet')
class LeadSheetCodec(codec.Codec):
  """NoteSequence ⇄ melody event ids over chord symbols, and the model's
  inputs and labels (module docstring).

  Example (chord_pitches_improv):
    codec = LeadSheetCodec(MAGENTA_CONFIGS['chord_pitches_improv'])
    ids, chords, _ = codec.encode_lead_sheet(sequence)
    inputs, labels = codec.training_example(ids, chords)  # [n-1, 75], [n-1]
    codec.decode(ids, chords)              # NoteSequence with chord symbols
  """

  settings_class = LeadSheetSettings
  timing = codec.TIMING_METRIC
  step_name = 'steps'
  counts_steps = True

  def __init__(self, settings=None):
    super().__init__(settings)
    self.melody = melody_lib.MelodyCodec(self.settings.melody)
    self.chord_encoding = ChordEncoding(self.settings.chord_encoding)

  def empty_primer(self):
    """Magenta's primer when none is given, improv_rnn_generate's as
    melody_rnn_generate's: a middle C for one step
    (`MelodyCodec.empty_primer`)."""
    return self.melody.empty_primer()

  def tempo_settings(self):
    """The melody's settings, which hold the tempo `decode` writes."""
    return self.melody.tempo_settings()

  def with_qpm(self, qpm):
    """A lead-sheet codec whose melody writes at `qpm`
    (`MelodyCodec.with_qpm`, its ValueErrors)."""
    return type(self)(dataclasses.replace(
        self.settings, melody=self.melody.with_qpm(qpm).settings))

  def steps_per_bar(self):
    """The melody's bar (`MelodyCodec.steps_per_bar`)."""
    return self.melody.steps_per_bar()

  @property
  def vocab_size(self):
    """The number of melody event ids."""
    return self.melody.vocab_size

  @property
  def num_classes(self):
    """The labels the model predicts: the melody encoder's."""
    return self.melody.num_classes

  @property
  def input_size(self):
    """The chord input's size plus the melody input's."""
    return self.chord_encoding.input_size + self.melody.input_size

  def num_steps(self, ids):
    """One step per id."""
    return len(ids)

  def inputs(self, ids, chords):
    """float32 [steps, input_size]: the input of each melody step, note-seq's
    `get_inputs_batch([chords], [melody], full_length=True)[0]`.

    Args:
      ids: int [steps] melody event ids.
      chords: chord symbols, more of them than `ids` (the input of step i
        holds the chord of step i + 1).
    """
    ids = self.melody.check_ids(ids)
    chords = list(chords)
    if len(chords) <= len(ids):
      raise ValueError(f'need more chords than melody steps, got {len(chords)} '
                       f'chords for {len(ids)} steps')
    return np.concatenate([
        self.chord_encoding.inputs(chords[1:len(ids) + 1]),
        self.melody.inputs(ids)], axis=1)

  def labels(self, ids):
    """int32 [steps]: each melody step's label (the melody encoder's)."""
    return self.melody.labels(ids)

  def training_example(self, ids, chords):
    """(inputs [steps - 1, input_size], labels [steps - 1]) of a melody and
    its chords of equal length, note-seq's `encode(chords, melody)`."""
    ids = self.melody.check_ids(ids)
    chords = list(chords)
    if len(chords) != len(ids):
      raise ValueError(f'{len(chords)} chords for {len(ids)} melody steps')
    return self.inputs(ids[:-1], chords), self.labels(ids)[1:]

  def ids_from_labels(self, labels, primer=()):
    """int32: the melody event ids of labels the model gave, after `primer`."""
    return self.melody.ids_from_labels(labels, primer)

  def encode_lead_sheet(self, sequence):
    """A NoteSequence (seconds) holding a melody and chord symbols -> (ids,
    chords, transposition).

    The melody as `MelodyCodec.encode` reads it; the chords of its steps
    from the CHORD_SYMBOL annotations (`chords_at_steps`); both squashed as
    note-seq's `LeadSheet.squash` (melody into the settings' key and range,
    chords transposed with it).

    Returns:
      ids: int32 [steps] melody event ids.
      chords: [steps] chord symbols.
      transposition: the semitones the squash added.

    Raises:
      codec.EncodingError: the melody's reasons, 'coincident_chords',
        'bad_chord_symbol'.
    """
    s = self.settings.melody
    notes = quantize.quantize_sequence(sequence, s.steps_per_quarter)
    extracted = melody_lib.extract_melody(notes.select(~notes.is_drum))
    chords = chords_at_steps(
        sequence, notes, np.arange(extracted.start_step, extracted.end_step))
    events, amount = melody_lib.squash(extracted.events, s.min_note,
                                       s.max_note, s.transpose_to_key)
    return self.melody.event_ids(events), transpose_chords(chords, amount), amount

  def encode(self, sequence):
    """The melody event ids of `encode_lead_sheet` (chords checked)."""
    ids, chords, _ = self.encode_lead_sheet(sequence)
    self.chord_encoding.inputs(chords)
    return ids

  extracts = True
  extra_features = ('chords',)

  def extra_input_sizes(self):
    """The chords: each step's chord input (`ChordEncoding.inputs`)."""
    return {'chords': self.chord_encoding.input_size}

  def extra_inputs(self, name, values):
    """The chord input of each stored chord symbol (UTF-8 bytes or str)."""
    if name != 'chords':
      return super().extra_inputs(name, values)
    symbols = [v.decode('utf-8') if isinstance(v, bytes) else str(v)
               for v in np.asarray(values, object).reshape(-1)]
    return self.chord_encoding.inputs(symbols)

  def encoder_spec(self):
    """The melody encoder's spec (the chords come as an extra input)."""
    return self.melody.encoder_spec()

  def grammar(self, max_polyphony=0, max_note_duration=None,
              renormalise=codec.RENORMALISE_BY_TYPE):
    """The melody's (`melody.MelodyGrammar`)."""
    return self.melody.grammar(max_polyphony, max_note_duration, renormalise)

  def check_extraction(self, settings):
    """Lead sheets are read as Improv RNN's extractor reads them: not with
    MusicVAE's converter settings."""
    if settings.converts:
      raise ValueError(
          f'the {self.name} encoding reads tracks as Improv RNN does; '
          'pad_end, programs, drop_unencodable_notes, quarters_per_bar, '
          'window_bars and dedupe are for the melody and drums encodings')

  def extract(self, sequence, settings):
    """Magenta's Improv RNN data: every melody `melody.extract_melodies`
    reads, over the chords of its steps (the sequence's chord symbols, or
    with `settings.infer_chords` those note-seq infers where it has none);
    a lead sheet without a chord is left out (`require_chords`); kept in
    all twelve keys (Magenta's transpositions -6..5) when the melody keeps
    its key (`transpose_to_key` None), then squashed as note-seq's
    `LeadSheet.squash`. Each is an example ({'tokens': ids, 'chords':
    symbols}, its semitones); a lead sheet whose chords the chord encoding
    cannot read is left out with the reason.

    Raises:
      codec.EncodingError: the sequence cannot be quantized.
    """
    s = self.settings.melody
    notes = quantize.quantize_sequence(sequence, s.steps_per_quarter)
    melodies, dropped, truncated = melody_lib.extract_melodies(notes, settings)
    examples = []
    if melodies and settings.infer_chords and not has_chords(sequence):
      try:
        sequence = with_inferred_chords(sequence, s.steps_per_quarter)
      except codec.EncodingError as e:
        dropped += [e.reason] * len(melodies)
        melodies = []
    amounts = ALL_TRANSPOSITIONS if s.transpose_to_key is None else (0,)
    for found in melodies:
      try:
        chords = chords_at_steps(
            sequence, notes, np.arange(found.start_step, found.end_step),
            found.start_step, found.end_step)
      except codec.EncodingError as e:
        dropped.append(e.reason)
        continue
      if settings.require_chords and all(c == NO_CHORD for c in chords):
        dropped.append(REASON_NO_CHORDS)
        continue
      reasons = set()
      for amount in amounts:
        try:
          events, moved = found.events, chords
          if len(amounts) > 1:
            events = transpose_melody(events, amount)
            moved = transpose_chords(chords, amount)
          events, squashed = melody_lib.squash(events, s.min_note, s.max_note,
                                               s.transpose_to_key)
          moved = transpose_chords(moved, squashed)
          self.chord_encoding.inputs(moved)
        except codec.EncodingError as e:
          reasons.add(e.reason)
          continue
        examples.append(({self.sequence_feature: self.melody.event_ids(events),
                          'chords': moved}, amount + squashed))
      dropped += sorted(reasons)
    return codec.Extraction(examples, dropped, truncated)

  def decode_example(self, features):
    """A stored lead sheet: its melody over its chords."""
    chords = [c.decode() if isinstance(c, bytes) else str(c)
              for c in features['chords']]
    return self.decode(features[self.sequence_feature], chords)

  def decode(self, ids, chords=None, transposition=0):
    """Melody ids and chord symbols -> NoteSequence (note-seq's
    `LeadSheet.to_sequence`: melody notes and CHORD_SYMBOL annotations at the
    melody settings' qpm), moved down `transposition` semitones."""
    ids = self.melody.check_ids(ids)
    chords = [NO_CHORD] * len(ids) if chords is None else list(chords)
    if len(chords) != len(ids):
      raise ValueError(f'{len(chords)} chords for {len(ids)} melody steps')
    spq = self.settings.melody.steps_per_quarter
    lead_sheet = note_seq.LeadSheet(
        self.melody.melody(ids),
        note_seq.ChordProgression(chords, steps_per_quarter=spq,
                                  steps_per_bar=4 * spq))
    if transposition:
      lead_sheet.transpose(-transposition)
    return lead_sheet.to_sequence(qpm=self.settings.melody.qpm)
