"""What musical metrics of generated MIDI are compared with: reading the
generated files and the real NoteSequences, their split and chunks, and the
report as JSON and a figure.

  report = musicrnn.runs.evaluate.evaluate_samples('/tmp/samples',
                                                   run_dir='/tmp/perf_run')
  samples.write_figure(report, '/tmp/samples/musical_metrics.png')

The real data are the NoteSequences the run's dataset was built from (its
dataset.json names them; or `notesequences=`), split again by the dataset's
hash: the eval split is the reference, the train split the source of n-grams
for the memorisation check. Reference pieces are cut into chunks as long as
the median generated file, so that length-dependent statistics (pitch range,
pitches used) compare like with like, and get the same sustain-pedal
extension as the training data.
"""

import json
import os

import numpy as np
from note_seq import sequences_lib

from musicrnn import splits
from musicrnn.errors import UsageError
from musicrnn.metrics import music
from musicrnn.pipelines import convert

MIDI_EXTENSIONS = ('.mid', '.midi')


def read_midi_dir(samples_dir):
  """NoteSequences of the MIDI files of `samples_dir` (sorted; recursive).

  Raises:
    UsageError: no folder, no MIDI file, or a file that does not read.
  """
  import note_seq  # pylint: disable=import-outside-toplevel
  if not os.path.isdir(samples_dir):
    raise UsageError(f'--samples_dir={samples_dir} is not a directory')
  paths = sorted(os.path.join(d, f) for d, _, files in os.walk(samples_dir)
                 for f in files if f.lower().endswith(MIDI_EXTENSIONS))
  if not paths:
    raise UsageError(f'no MIDI files (.mid, .midi) under {samples_dir}')
  sequences = []
  for path in paths:
    try:
      sequences.append(note_seq.midi_file_to_note_sequence(path))
    except Exception as e:  # pylint: disable=broad-except
      raise UsageError(f'{path} is not a readable MIDI file: {e}') from e
  return sequences


def read_notesequences(pattern):
  """Every NoteSequence of the TFRecord files matching `pattern`."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from note_seq.protobuf import music_pb2  # pylint: disable=import-outside-toplevel
  files = convert.notesequence_files(pattern)
  return [music_pb2.NoteSequence.FromString(r.numpy())
          for r in tf.data.TFRecordDataset(files)]


def split_real_data(sequences, eval_ratio, split_by='id'):
  """(eval, train) by the dataset pipeline's hash split."""
  eval_sequences, train_sequences = [], []
  for sequence in sequences:
    if splits.split_of(sequence, eval_ratio, split_by) == 'eval':
      eval_sequences.append(sequence)
    else:
      train_sequences.append(sequence)
  return eval_sequences, train_sequences


def chunk(sequences, seconds):
  """Cuts each sequence into `seconds`-long pieces; drops pieces without
  notes and a final piece shorter than half of `seconds`."""
  out = []
  for sequence in sequences:
    pieces = sequences_lib.split_note_sequence(sequence, seconds)
    for piece in pieces:
      if piece.notes and piece.total_time >= seconds / 2:
        out.append(piece)
  return out


def to_json(report):
  """The report as JSON text (the figure's numpy data left out)."""
  return json.dumps({k: v for k, v in report.items() if not k.startswith('_')},
                    indent=2, sort_keys=True)


def write_figure(report, path):
  """A PNG of generated vs reference: the four histograms (pitch class,
  velocity, inter-onset interval, note duration) and four per-file
  distributions (notes per second, polyphony, pitch range, long-note
  share)."""
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  pooled = report['_pooled']
  fig, axes = plt.subplots(2, 4, figsize=(20, 8))
  labels = {'generated': 'generated', 'reference': 'eval data'}
  panels = [
      ('pitch_class_histogram', 'pitch class',
       ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B']),
      ('velocity_histogram', 'velocity',
       [f'{a}-{b - 1}' for a, b in zip(music.VELOCITY_BIN_EDGES[:-1],
                                       music.VELOCITY_BIN_EDGES[1:])]),
      ('ioi_histogram', 'inter-onset interval (s, bin start)',
       [f'{e:.2g}' for e in music.IOI_BIN_EDGES[:-1]]),
      ('duration_histogram', 'note duration (s, bin start; the last bin: '
       'ended by the note cap)',
       [f'{e:.2g}' for e in music.DURATION_BIN_EDGES[:-1]]),
  ]
  for ax, (name, xlabel, ticks) in zip(axes[0], panels):
    x = np.arange(len(ticks))
    for offset, key in ((-0.2, 'generated'), (0.2, 'reference')):
      values = report[name][key]
      if values is not None:
        ax.bar(x + offset, values, width=0.4, label=labels[key])
    ax.set_xticks(x, ticks, rotation=60 if len(ticks) > 12 else 0, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_title(f'{name.replace("_", " ")}: distance '
                 f'{report[name]["distance"]:.3f}')
    ax.legend()
  for ax, name in zip(axes[1], ('notes_per_second', 'polyphony', 'pitch_range',
                                 'long_note_share')):
    values = [pooled[k][name] for k in ('generated', 'reference')]
    finite = np.concatenate(values)
    bins = np.linspace(finite.min(), finite.max() + 1e-9, 20) if len(finite) else 10
    for key, v in zip(('generated', 'reference'), values):
      ax.hist(v, bins=bins, density=True, alpha=0.6, label=labels[key])
    ax.set_title(f'{name.replace("_", " ")} per file')
    ax.legend()
  fig.suptitle(f'{report["sequences"]["generated"]} generated files vs '
               f'{report["sequences"]["reference"]} eval chunks')
  fig.tight_layout()
  fig.savefig(path, dpi=80)
  plt.close(fig)
  return path
