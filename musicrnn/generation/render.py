"""NoteSequence -> MIDI, piano-roll PNG, and WAV (FluidSynth) files."""

import logging
import wave

from note_seq import midi_io
import numpy as np

PIXELS_PER_SECOND = 50
LOWEST_PITCH, HIGHEST_PITCH = 21, 108   # the piano's range, A0..C8


def write_midi(sequence, path):
  midi_io.note_sequence_to_midi_file(sequence, path)
  return path


def pianoroll_image(sequence, pixels_per_second=PIXELS_PER_SECOND):
  """uint8 RGB array [pitches * 2, seconds * pixels_per_second, 3]: notes in
  dark blue over a white grid with C rows shaded; velocity sets the shade."""
  low = min([LOWEST_PITCH] + [n.pitch for n in sequence.notes])
  high = max([HIGHEST_PITCH] + [n.pitch for n in sequence.notes])
  rows = (high - low + 1) * 2
  width = max(1, int(np.ceil(sequence.total_time * pixels_per_second)) + 1)
  image = np.full((rows, width, 3), 255, np.uint8)
  for pitch in range(low, high + 1):
    if pitch % 12 == 0:
      y = (high - pitch) * 2
      image[y:y + 2] = 235
  for note in sequence.notes:
    y = (high - note.pitch) * 2
    x0 = int(note.start_time * pixels_per_second)
    x1 = max(x0 + 1, int(note.end_time * pixels_per_second))
    shade = 200 - int(150 * note.velocity / 127)
    image[y:y + 2, x0:x1] = (shade // 3, shade // 2, 160)
  return image


def write_png(sequence, path):
  """Writes the piano roll as PNG; returns the path, or None without Pillow."""
  try:
    from PIL import Image  # pylint: disable=import-outside-toplevel
  except ImportError:
    logging.warning('musicrnn generate: no .png written: Pillow is not '
                    'installed (pip install pillow)')
    return None
  Image.fromarray(pianoroll_image(sequence)).save(path)
  return path


def fluidsynth_available():
  """(True, '') when note-seq can render audio, else (False, why)."""
  try:
    import fluidsynth  # noqa: F401 pylint: disable=import-outside-toplevel,unused-import
  except (ImportError, OSError) as e:
    return False, (f'FluidSynth is not available ({type(e).__name__}: {e}); '
                   'install it with: apt-get install fluidsynth && pip install '
                   'pyfluidsynth')
  return True, ''


def write_wav(sequence, path, sample_rate=16000):
  """Renders with FluidSynth and pretty_midi's General MIDI soundfont.

  Returns:
    the path, or None (with a warning saying why) when FluidSynth is absent.
  """
  ok, why = fluidsynth_available()
  if not ok:
    logging.warning('musicrnn generate: no .wav written: %s', why)
    return None
  import note_seq  # pylint: disable=import-outside-toplevel
  audio = note_seq.fluidsynth(sequence, sample_rate=sample_rate)
  peak = float(np.abs(audio).max()) if len(audio) else 0.0
  scale = 0.9 * 32767 / peak if peak else 0.0
  samples = (np.asarray(audio) * scale).astype('<i2')
  with wave.open(path, 'wb') as f:
    f.setnchannels(1)
    f.setsampwidth(2)
    f.setframerate(sample_rate)
    f.writeframes(samples.tobytes())
  return path
