"""Frame rolls: one frame per step of a metric grid, each key onset, held
or off (`FrameRollCodec`, the piano-roll LSTM's), or only sounding or not
(`KeyFrameCodec`, the frames of the 2012 polyphonic benchmark and of
Magenta's Pianoroll RNN-NADE).

  frames = FrameRollCodec().encode(sequence)   # uint8 [steps, 2 * 88]
  sequence = FrameRollCodec().decode(frames)
  frames = KeyFrameCodec().encode(sequence)    # uint8 [steps, 88]

A piece is quantized on the metric grid (its own tempo, 4 steps a quarter
by default; see quantize.py). Each frame holds two bits per key of the
range (88 keys, A0-C8, by default): columns [0, keys) are the onsets (a
note starts on this step), columns [keys, 2 * keys) the held keys (a note
started earlier still sounds). A key's (onset, held) pair is (1, 0), (0, 1)
or (0, 0): the onset / held / off states of a frame-wise piano roll.

Semantics worth knowing:
  - A re-struck key is an onset again, so two notes of one pitch that touch
    stay two notes. Notes of one pitch that overlap sound as one key: the
    later onset ends the earlier note.
  - Drum notes and notes outside [min_pitch, max_pitch] are left out.
  - The sounding keys of a frame (onset or held) are the active pitches of
    `note_seq.pianoroll_lib.PianorollSequence` on the same grid, and the
    onsets its quantized note starts (tests check both on real MIDI).
  - `vocab_size` is the frame's width, 2 * keys: the model predicts each of
    those bits.

Refusals (codec.EncodingError reasons): those of quantize.py, plus
'too_short' (no step at all).
"""

import abc
import dataclasses

from note_seq import constants
import numpy as np

from musicrnn.encodings import codec
from musicrnn.encodings import quantize

REASON_TOO_SHORT = 'too_short'
# Velocity of every decoded note.
DECODE_VELOCITY = 100


@dataclasses.dataclass(frozen=True)
class FrameRollSettings:
  """Settings of the frame-roll codec (saved with every dataset).

  Attributes:
    steps_per_quarter: metric grid, steps per quarter note (4: sixteenths).
    min_pitch: MIDI pitch of the first key (inclusive); 21 is A0.
    max_pitch: MIDI pitch of the last key (inclusive); 108 is C8.
    qpm: tempo used by `decode` only, quarter notes per minute.
  """
  steps_per_quarter: int = 4
  min_pitch: int = 21
  max_pitch: int = 108
  qpm: float = constants.DEFAULT_QUARTERS_PER_MINUTE

  def __post_init__(self):
    if self.steps_per_quarter <= 0:
      raise ValueError(f'steps_per_quarter must be > 0, got {self.steps_per_quarter}')
    codec.check_pitch_range(self.min_pitch, self.max_pitch)
    if not self.qpm > 0:
      raise ValueError(f'qpm must be > 0, got {self.qpm}')

  @property
  def num_keys(self):
    return self.max_pitch - self.min_pitch + 1


class KeyFramesEncoding(abc.ABC):
  """A codec that also encodes frames of sounding keys directly (the 2012
  benchmark's piano rolls, which have no NoteSequence): `KeyFrameCodec` and
  `FrameEventCodec`."""

  @abc.abstractmethod
  def encode_key_frames(self, frames):
    """What `encode` gives for 0/1 [steps, keys] frames of its key range."""


@codec.register('frame_roll')
class FrameRollCodec(codec.Codec):
  """NoteSequence ⇄ frames of onset and held bits (see the module docstring)."""

  settings_class = FrameRollSettings
  timing = codec.TIMING_METRIC
  sequence_feature = 'pianoroll'
  step_name = 'frames'
  # A frame is the onset bits of every key, then its held bits; a key is
  # held only after it sounded.
  onset_bits = True

  @property
  def vocab_size(self):
    """Bits per frame: an onset and a held bit for each key (176 for 88)."""
    return 2 * self.settings.num_keys

  def empty_primer(self):
    """One silent frame."""
    return np.zeros((1, self.vocab_size), np.uint8)

  def encode(self, sequence):
    """Encodes a NoteSequence (seconds) as frames.

    Args:
      sequence: an unquantized NoteSequence with one tempo and one time
        signature.

    Returns:
      uint8 array [steps, 2 * keys]: onset bits, then held bits.

    Raises:
      codec.EncodingError: reasons in the module docstring.
    """
    settings = self.settings
    notes = quantize.quantize_sequence(sequence, settings.steps_per_quarter)
    if notes.total_steps <= 0:
      raise codec.EncodingError(REASON_TOO_SHORT, 'the sequence has no step')
    keep = ((notes.pitch >= settings.min_pitch)
            & (notes.pitch <= settings.max_pitch) & ~notes.is_drum)
    held, onset = quantize.held_cells(
        notes.pitch[keep] - settings.min_pitch, notes.start_step[keep],
        notes.end_step[keep], notes.total_steps, settings.num_keys)
    return np.concatenate([onset, held & ~onset], axis=1).astype(np.uint8)

  def decode(self, frames, threshold=0.5):
    """Decodes frames to a NoteSequence in seconds.

    A note starts at an onset and lasts while its key is held; a held key
    with no onset before it starts a note too.

    Args:
      frames: [steps, 2 * keys] array, 0/1, bool or probabilities.
      threshold: a bit is set where frames > threshold.

    Returns:
      NoteSequence with times in seconds at `settings.qpm`, a 4/4 time
      signature, velocity 100, `total_time` covering every frame.

    Raises:
      ValueError: frames of another shape.
    """
    settings = self.settings
    frames = np.asarray(frames)
    if frames.ndim != 2 or frames.shape[1] != self.vocab_size:
      raise ValueError(f'frames must be [steps, {self.vocab_size}], got shape '
                       f'{frames.shape}')
    bits = frames > threshold
    keys = settings.num_keys
    onset = bits[:, :keys]
    return self._notes(onset | bits[:, keys:], onset)

  def _notes(self, sounding, onset):
    """The NoteSequence of bool [steps, keys] sounding keys and onsets."""
    settings = self.settings
    column, start, end, _ = quantize.runs_to_notes(sounding, onset)
    return quantize.steps_to_sequence(
        column + settings.min_pitch, start, end, settings.steps_per_quarter,
        settings.qpm, total_steps=len(sounding), velocity=DECODE_VELOCITY)


@codec.register('key_frames')
class KeyFrameCodec(FrameRollCodec, KeyFramesEncoding):
  """NoteSequence ⇄ frames of one bit per key: sounding or not.

  The frames of Boulanger-Lewandowski et al. (2012) and of Magenta's
  `PianorollEncoderDecoder`: what `FrameRollCodec` gives with its onset and
  held bits of a key merged. Without onsets a re-struck key and a held key
  look the same: notes of one pitch that touch decode as one note.
  """

  onset_bits = False

  @property
  def vocab_size(self):
    """Bits per frame: one per key (88 by default)."""
    return self.settings.num_keys

  def encode(self, sequence):
    """uint8 [steps, keys]: 1 where a key sounds during a step (onset or
    held); refusals as `FrameRollCodec.encode`."""
    bits = super().encode(sequence)
    keys = self.settings.num_keys
    return bits[:, :keys] | bits[:, keys:]

  def encode_key_frames(self, frames):
    return np.asarray(frames, np.uint8)

  def decode(self, frames, threshold=0.5):
    """A NoteSequence in seconds: each run of frames in which a key is set
    is one note; otherwise as `FrameRollCodec.decode`.

    Args:
      frames: [steps, keys] array, 0/1, bool or probabilities.
      threshold: a bit is set where frames > threshold.
    """
    frames = np.asarray(frames)
    if frames.ndim != 2 or frames.shape[1] != self.vocab_size:
      raise ValueError(f'frames must be [steps, {self.vocab_size}], got shape '
                       f'{frames.shape}')
    sounding = frames > threshold
    # Each run starts with an onset and is held after it.
    starts = sounding & ~np.concatenate(
        [np.zeros_like(sounding[:1]), sounding[:-1]])
    return self._notes(sounding, starts)


@codec.register('frame_events')
class FrameEventCodec(codec.Codec, KeyFramesEncoding):
  """NoteSequence ⇄ a token per sounding key of each frame, then FRAME_END.

  The frames are `KeyFrameCodec`'s; each is written as its sounding keys,
  lowest first (ids 0 .. keys-1, the key's column), then FRAME_END (id
  `keys`). A silent frame is a lone FRAME_END. An event model over these
  tokens predicts a frame's keys jointly, one after another given those
  below (an exact factorisation of the frame, as NADE's key order), and
  the tokens of a frame together score it: `frame_end_id` marks where each
  frame ends, so the evaluation reports nats per frame.

    ids = FrameEventCodec().encode(sequence)   # int32 [tokens]
  """

  settings_class = FrameRollSettings
  timing = codec.TIMING_METRIC
  step_name = 'events'
  counts_steps = True

  @property
  def frame_end_id(self):
    """The id that ends each frame."""
    return self.settings.num_keys

  @property
  def vocab_size(self):
    return self.settings.num_keys + 1

  def empty_primer(self):
    """One silent frame."""
    return np.array([self.frame_end_id], np.int32)

  def encode(self, sequence):
    """int32 [tokens] of a NoteSequence; refusals as `FrameRollCodec.encode`."""
    return self.encode_key_frames(KeyFrameCodec(self.settings).encode(sequence))

  def encode_key_frames(self, frames):
    frames = np.asarray(frames).astype(bool)
    steps, keys = np.nonzero(frames)   # row-major: each frame's keys rising
    ids = np.concatenate([keys, np.full(len(frames), self.frame_end_id)])
    # Each frame's keys, then its FRAME_END (placed after the keys of its
    # frame by a stable sort on the frame index).
    order = np.argsort(np.concatenate([steps, np.arange(len(frames))]),
                       kind='stable')
    return ids[order].astype(np.int32)

  def frames(self, ids):
    """uint8 [frames, keys] of token ids: a frame per FRAME_END, and one
    more for keys after the last."""
    ids = np.asarray(ids, np.int64)
    ends = ids == self.frame_end_id
    frame = np.concatenate([[0], np.cumsum(ends)[:-1]]) if len(ids) else ids
    count = int(ends.sum()) + int(len(ids) > 0 and not ends[-1])
    out = np.zeros((count, self.settings.num_keys), np.uint8)
    keys = (ids >= 0) & (ids < self.frame_end_id)
    out[frame[keys], ids[keys]] = 1
    return out

  def decode(self, ids):
    """A NoteSequence: each run of frames in which a key sounds is a note
    (`KeyFrameCodec.decode`)."""
    return KeyFrameCodec(self.settings).decode(self.frames(ids))

  def num_steps(self, ids):
    return int(np.sum(np.asarray(ids) == self.frame_end_id))

  def grammar(self, max_polyphony=0, max_note_duration=None,
              renormalise=codec.RENORMALISE_BY_TYPE):
    """`FrameEventGrammar`: a frame's keys rising, at most `max_polyphony`."""
    del max_note_duration, renormalise
    return FrameEventGrammar(self.settings.num_keys, max_polyphony)


class FrameEventGrammar(codec.Grammar):
  """What a frame of `FrameEventCodec` may say next: a key above the last
  one of this frame (each key once, in the encoder's order), or FRAME_END;
  with `max_polyphony` N > 0, only FRAME_END once the frame has N keys.
  With it an event model's probabilities of the frames sum to one."""

  def __init__(self, num_keys, max_polyphony=0):
    self.num_keys = num_keys
    self.width = num_keys + 1
    self.max_polyphony = max_polyphony

  def key(self):
    return (self.num_keys, self.max_polyphony)

  def initial_state(self, batch, xp):
    return (xp.full((batch,), -1, dtype=xp.int32),
            xp.zeros((batch,), dtype=xp.int32))

  def update(self, state, tokens, xp):
    last, count = state
    tokens = xp.asarray(tokens, dtype=xp.int32)
    end = tokens >= self.num_keys
    return (xp.asarray(xp.where(end, -1, tokens), dtype=xp.int32),
            xp.asarray(xp.where(end, 0, count + 1), dtype=xp.int32))

  def allowed(self, state, xp):
    last, count = state
    room = xp.logical_or(self.max_polyphony <= 0, count < self.max_polyphony)
    keys = xp.logical_and(
        xp.arange(self.num_keys, dtype=xp.int32)[None] > last[:, None],
        room[:, None])
    return xp.concatenate([keys, xp.ones_like(keys[:, :1])], axis=1)
