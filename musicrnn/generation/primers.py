"""What generated music continues: a primer as the codec's ids.

  ids = primers.primer_events(codec, primer_midi='start.mid')
  ids = primers.primer_events(codec, primer_pitches=[60, 64, 67])
  ids = primers.primer_events(codec, primer_frames='chorale_start.npy')
"""

import logging
import os

from note_seq import midi_io
from note_seq import sequences_lib
from note_seq.protobuf import music_pb2
import numpy as np

from musicrnn.encodings import frames as frames_lib
from musicrnn.encodings.codec import EncodingError
from musicrnn.errors import UsageError

PRIMER_VELOCITY = 80


def primer_events(codec, primer_midi=None, primer_pitches=None,
                  primer_frames=None):
  """The primer as the codec's ids (at least one step).

  A MIDI primer is encoded whole; a list of pitches is a chord held for one
  quarter note at 120 qpm (0.5 s), as Magenta's --primer_pitches; frames
  (`primer_frames`: a NumPy .npy file of 0/1 [frames, keys], such as the
  first frames of a piece of the 2012 benchmark) are encoded as they are,
  for an encoding of frames of sounding keys; with none, the codec's empty
  primer (a single shortest time shift for performance events) starts the
  sequence.

  Raises:
    UsageError: two given, a file that is missing or unreadable, a pitch
      outside 0..127, frames of another width or for an encoding of other
      ids, or a primer the codec cannot encode or with no notes.
  """
  if sum(bool(p) for p in (primer_midi, primer_pitches, primer_frames)) > 1:
    raise UsageError('give one of --primer_midi, --primer_pitches and '
                     '--primer_frames')
  if primer_frames:
    return _frames_primer(codec, primer_frames)
  if primer_midi:
    if not os.path.exists(primer_midi):
      raise UsageError(f'--primer_midi={primer_midi} does not exist')
    try:
      sequence = midi_io.midi_file_to_note_sequence(primer_midi)
    except midi_io.MIDIConversionError as e:
      raise UsageError(f'--primer_midi={primer_midi} is not readable MIDI: {e}') from e
  elif primer_pitches:
    sequence = music_pb2.NoteSequence()
    sequence.tempos.add(qpm=120.0)
    for pitch in primer_pitches:
      if not 0 <= int(pitch) <= 127:
        raise UsageError(f'primer pitch {pitch} is outside 0..127')
      sequence.notes.add(pitch=int(pitch), velocity=PRIMER_VELOCITY,
                         start_time=0.0, end_time=0.5)
    sequence.total_time = 0.5
  else:
    sequence = None
  if sequence is None:
    return np.asarray(codec.empty_primer(), np.int32)
  try:
    events = np.asarray(codec.encode(sequence), np.int32)
  except EncodingError as e:
    # Metric encodings take one tempo and meter: a primer that changes
    # either is continued from its first section with notes.
    events = _first_section(codec, sequence)
    if events is None:
      raise UsageError(f'the primer cannot be encoded with '
                       f'{codec.spec()["name"]}: {e}') from e
  if codec.end_id is not None:
    # The primer is continued, not ended (Magenta trims its trailing END).
    events = events[events != codec.end_id] if len(events) > 1 else events
  if len(events) == 0:
    raise UsageError('the primer has no notes')
  return events


def _first_section(codec, sequence):
  """The ids of the first section of `sequence` between tempo and time
  signature changes that has notes and that `codec` encodes, or None."""
  for section in sequences_lib.split_note_sequence_on_time_changes(sequence):
    if not section.notes:
      continue
    try:
      events = np.asarray(codec.encode(section), np.int32)
    except EncodingError:
      continue
    logging.info('musicrnn generate: the primer changes tempo or time signature '
                 '(the %s encoding takes one of each): its first section with '
                 'notes, %.1f s, primes the outputs', codec.spec()['name'],
                 section.total_time)
    return events
  return None


def _frames_primer(codec, path):
  """The ids of the frames in the .npy file `path`."""
  if not isinstance(codec, frames_lib.KeyFramesEncoding):
    raise UsageError(f'--primer_frames primes an encoding of frames of sounding '
                     f'keys (key_frames, frame_events), not {codec.name}; give '
                     '--primer_midi')
  if not os.path.exists(path):
    raise UsageError(f'--primer_frames={path} does not exist')
  try:
    frames = np.load(path, allow_pickle=False)
  except (OSError, ValueError) as e:
    raise UsageError(f'--primer_frames={path} is not a NumPy .npy file: {e}') from e
  keys = codec.settings.num_keys
  if frames.ndim != 2 or frames.shape[1] != keys or not len(frames) or not (
      np.isin(frames, (0, 1)).all()):
    raise UsageError(f'--primer_frames={path} holds {frames.dtype} '
                     f'{list(frames.shape)}: need 0/1 [frames >= 1, {keys}] '
                     f'(the keys of MIDI {codec.settings.min_pitch}-'
                     f'{codec.settings.max_pitch})')
  return np.asarray(codec.encode_key_frames(frames.astype(np.uint8)))
