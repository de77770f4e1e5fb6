"""NoteSequence -> MIDI, a piano-roll PNG to read, and WAV audio.

The picture is a piano roll as a musician reads one: time in seconds along
the bottom, note names (C4 is middle C) up the side, each note a bar whose
colour is its velocity, and the primer, when there is one, shaded.

Audio is rendered by midirenderer (a pip package, no system library) with
the General MIDI soundfont that pretty_midi ships (TimGM6mb.sf2): nothing is
downloaded and nothing needs installing by hand.
"""

import io
import os
import wave

from note_seq import midi_io
from note_seq import sequences_lib
from note_seq.protobuf import music_pb2
import numpy as np
import pretty_midi

LOWEST_PITCH, HIGHEST_PITCH = 21, 108   # the piano's range, A0..C8
_NAMES = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B']
_BLACK_KEYS = {1, 3, 6, 8, 10}
_CHORD_SYMBOL = music_pb2.NoteSequence.TextAnnotation.CHORD_SYMBOL


def write_midi(sequence, path):
  """Writes `sequence` as a MIDI file (note-seq's writer); its chord symbols
  (a lead sheet's) as MIDI text events, which note-seq's writer leaves out
  and a DAW shows above the notes. Returns the path."""
  midi = midi_io.note_sequence_to_pretty_midi(sequence)
  for annotation in sequence.text_annotations:
    if annotation.annotation_type == _CHORD_SYMBOL:
      midi.text_events.append(pretty_midi.Text(annotation.text,
                                               annotation.time))
  midi.write(path)
  return path


def pitch_name(pitch):
  """MIDI pitch -> scientific pitch name: 60 -> 'C4', 61 -> 'C#4'."""
  return f'{_NAMES[pitch % 12]}{pitch // 12 - 1}'


def pitch_span(sequence, min_octave=12):
  """(low, high) MIDI pitches to show: the notes' range plus a margin, at
  least an octave, within the piano's keys unless notes lie outside them."""
  pitches = [n.pitch for n in sequence.notes] or [60]
  low, high = min(pitches) - 2, max(pitches) + 2
  if high - low < min_octave:
    middle = (low + high) // 2
    low, high = middle - min_octave // 2, middle + min_octave // 2
  low = max(low, min(LOWEST_PITCH, min(pitches)))
  high = min(high, max(HIGHEST_PITCH, max(pitches)))
  return low, high


def pianoroll_figure(sequence, title=None, primer_seconds=0.0):
  """A matplotlib Figure of `sequence` as a piano roll (a lead sheet's
  chord symbols named along its top).

  Args:
    sequence: a NoteSequence (times in seconds).
    title: the figure's title (default: notes and length).
    primer_seconds: the first seconds that came from the primer, shaded and
      labelled (0: no primer).
  """
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use('Agg')
  from matplotlib import collections  # pylint: disable=import-outside-toplevel
  from matplotlib import patches  # pylint: disable=import-outside-toplevel
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

  duration = max(sequence.total_time, max((n.end_time for n in sequence.notes),
                                          default=0.0), 1.0)
  low, high = pitch_span(sequence)
  width = float(np.clip(3.0 + duration * 0.45, 8.0, 24.0))
  height = float(np.clip(2.0 + (high - low) * 0.07, 4.0, 8.0))
  fig, ax = plt.subplots(figsize=(width, height))
  # Black-key rows shaded, as on a keyboard; a line under every C.
  for pitch in range(low, high + 1):
    if pitch % 12 in _BLACK_KEYS:
      ax.axhspan(pitch - 0.5, pitch + 0.5, color='0.93', zorder=0, lw=0)
    if pitch % 12 == 0:
      ax.axhline(pitch - 0.5, color='0.75', lw=0.6, zorder=0)
  colormap = plt.get_cmap('viridis')
  norm = matplotlib.colors.Normalize(vmin=1, vmax=127)
  bars = [patches.Rectangle((n.start_time, n.pitch - 0.4),
                            max(n.end_time - n.start_time, 0.01), 0.8)
          for n in sequence.notes]
  velocities = np.array([n.velocity for n in sequence.notes], dtype=float)
  roll = collections.PatchCollection(bars, cmap=colormap, norm=norm,
                                     edgecolor='black', linewidth=0.2, zorder=2)
  roll.set_array(velocities)
  ax.add_collection(roll)
  colorbar = fig.colorbar(roll, ax=ax, pad=0.01, fraction=0.03)
  colorbar.set_label('velocity')
  if primer_seconds > 0:
    shown = min(primer_seconds, duration)
    ax.axvspan(0, shown, color='tab:orange', alpha=0.15, zorder=1, lw=0)
    ax.axvline(shown, color='tab:orange', lw=1.2, zorder=3)
    # Labelled at the top (x in seconds, y in axes): inside the span, or
    # beside it when it is too narrow for the word.
    narrow = shown < 0.1 * duration
    ax.text(shown if narrow else shown / 2, 0.99,
            ' \u2190 primer' if narrow else 'primer',
            ha='left' if narrow else 'center', va='top', color='tab:orange',
            fontsize=9, transform=ax.get_xaxis_transform(), zorder=4,
            bbox=dict(facecolor='white', edgecolor='none', alpha=0.7, pad=1))
  ax.set_xlim(0, duration)
  chords = [(a.time, a.text) for a in sequence.text_annotations
            if a.annotation_type == _CHORD_SYMBOL]
  if chords:
    # A lead sheet's chord symbols along the top, where each one starts.
    top = ax.secondary_xaxis('top')
    top.set_xticks([time for time, _ in chords],
                   [text for _, text in chords], fontsize=9)
    top.tick_params(length=0)
  ax.set_ylim(low - 0.5, high + 0.5)
  octave_cs = [p for p in range(low, high + 1) if p % 12 == 0]
  minor = [p for p in range(low, high + 1) if p % 12 in (4, 7)]   # E and G
  ax.set_yticks(octave_cs, [pitch_name(p) for p in octave_cs])
  ax.set_yticks(minor, [pitch_name(p) for p in minor], minor=True, fontsize=7,
                color='0.4')
  ax.set_xlabel('time (seconds)')
  ax.set_ylabel('pitch')
  ax.grid(axis='x', color='0.85', lw=0.5, zorder=0)
  ax.set_axisbelow(True)
  if title is None:
    title = f'{len(sequence.notes)} notes, {duration:.1f} s'
  ax.set_title(title)
  fig.tight_layout()
  return fig


def write_png(sequence, path, title=None, primer_seconds=0.0):
  """Writes the piano roll of `sequence` as a PNG; returns the path."""
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  if title is None:
    title = (f'{os.path.basename(path)[:-4]}: {len(sequence.notes)} notes, '
             f'{sequence.total_time:.1f} s')
  fig = pianoroll_figure(sequence, title=title, primer_seconds=primer_seconds)
  fig.savefig(path, dpi=100)
  plt.close(fig)
  return path


def soundfont_path():
  """The General MIDI soundfont pretty_midi ships (TimGM6mb.sf2)."""
  return os.path.join(os.path.dirname(pretty_midi.__file__), 'TimGM6mb.sf2')


def synthesize(sequence):
  """(audio, sample_rate): float32 [samples, channels] in [-1, 1] of
  `sequence`, sustain pedal applied, as long as `sequence.total_time`.

  midirenderer renders the MIDI that note-seq writes with pretty_midi's
  General MIDI soundfont (each instrument's program, drums on their bank).
  """
  import midirenderer  # pylint: disable=import-outside-toplevel
  sustained = sequences_lib.apply_sustain_control_changes(sequence)
  midi = io.BytesIO()
  midi_io.note_sequence_to_pretty_midi(sustained).write(midi)
  with open(soundfont_path(), 'rb') as f:
    soundfont = f.read()
  rendered = midirenderer.render_wave_from(soundfont, midi.getvalue())
  with wave.open(io.BytesIO(rendered)) as f:
    rate, channels = f.getframerate(), f.getnchannels()
    if f.getsampwidth() != 2:
      raise ValueError(f'midirenderer wrote {8 * f.getsampwidth()}-bit audio; '
                       'expected 16-bit')
    frames = f.readframes(f.getnframes())
  audio = np.frombuffer(frames, '<i2').reshape(-1, channels).astype(np.float32)
  # The renderer stops at the last note's end; the sequence may end later.
  missing = int(round(sequence.total_time * rate)) - len(audio)
  if missing > 0:
    audio = np.concatenate([audio, np.zeros((missing, channels), np.float32)])
  peak = float(np.abs(audio).max()) if audio.size else 0.0
  return (audio * (0.9 / peak) if peak > 0 else audio), rate


def write_wav(sequence, path):
  """Writes `sequence` as 16-bit WAV (the renderer's rate and channels);
  returns the path."""
  audio, rate = synthesize(sequence)
  samples = np.round(np.clip(audio, -1.0, 1.0) * 32767).astype('<i2')
  with wave.open(path, 'wb') as f:
    f.setnchannels(audio.shape[1])
    f.setsampwidth(2)
    f.setframerate(rate)
    f.writeframes(samples.tobytes())
  return path
