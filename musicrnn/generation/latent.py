"""The latent space of a latent-variable model (MusicVAE): music to z and
back, interpolation, attribute vectors.

  run = run_dir.load_run('/tmp/vae_run')
  z = latent.encode(run, ['a.mid', 'b.mid'])          # mu, [2, z_size]
  sequences = latent.decode(run, z, temperature=0.5, seed=1)
  steps = latent.interpolate(run, 'a.mid', 'b.mid', 5, greedy=True)
  windows, skipped = latent.file_windows(run, 'melodies/')   # a folder's
  vector, summary = latent.attribute_vector(run, windows, 'note_density')

- A file's windows are the examples the eval split of a dataset of the
  run's config would hold for it (`pipelines.dataset.ExampleMaker`: the
  codec's extraction with the config's `data.extraction`, e.g. the 2-bar
  melodies of cat-mel_2bar_small), kept when they span the model's
  `max_seq_len` steps. Music given to encode is its first window, in the
  extractor's order (Magenta's music_vae_generate reads one); music that
  gives none is a UsageError that says why (the extractor's reason).
- z of given music is the mean of its posterior, mu, as Magenta's
  interpolation takes it.
- Interpolation is Magenta's: spherical (`slerp`) between the two inputs'
  latents, `num` points from one to the other, both included; each decoded
  on its own, and `join` puts the decodings one after another.
- An attribute vector is the mean latent of windows with an attribute
  minus the mean latent of windows without it (Roberts et al. 2018, 5.4);
  `attribute_vector` ranks windows by a measured attribute (`ATTRIBUTES`,
  e.g. note density: the upper half of the windows minus the lower), or
  `difference_of_means` takes two sets of latents. Generation adds
  `scale` times the vector to z.
"""

import collections
import os

from note_seq import sequences_lib
from note_seq.protobuf import music_pb2
import numpy as np
import tensorflow as tf

from musicrnn import configs
from musicrnn import encodings
from musicrnn.errors import UsageError
from musicrnn.generation import sampler
from musicrnn.pipelines import readers
from musicrnn.tfrecords import sources as sources_lib

# |sin(angle)| below which two latents are taken as parallel, and slerp
# falls back to the straight line between them.
_PARALLEL = 1e-6


# --- Music to windows ------------------------------------------------------

def read_music(path, flag='--input_midi'):
  """The NoteSequences of a music file (MIDI, MusicXML or ABC; an ABC
  file's tunes), read as musicrnn_convert reads it.

  Raises:
    UsageError: no such file, not a music file, or one that cannot be read
      (naming `flag`).
  """
  path = os.path.expanduser(path)
  if not tf.io.gfile.exists(path):
    raise UsageError(f'{flag}={path} does not exist')
  if readers.music_format(path) is None:
    raise UsageError(f'{flag}={path} is not a music file (one of '
                     f'{", ".join(readers.MUSIC_EXTENSIONS)})')
  try:
    return _read(path)
  except readers.ConversionError as e:
    raise UsageError(f'{flag}={path} cannot be read ({e.reason}): {e}') from e


def _read(path):
  with tf.io.gfile.GFile(path, 'rb') as f:
    sequences, _ = readers.read_music_bytes(f.read(), path)
  return sequences


class Windows:
  """The windows of music a run's model reads (see the module docstring):
  `of(sequence)` gives (windows [int32 ids of `length`], why): `why` says
  why there are none, '' when there are some.

  Args:
    run: a loaded run of a latent-variable model.
  """

  def __init__(self, run):
    # Here, not at the top: pipelines.dataset imports Beam (seconds), which
    # every importer of the tasks would pay for.
    from musicrnn.pipelines import dataset  # pylint: disable=import-outside-toplevel
    self._maker = dataset.ExampleMaker(configs.to_json(run.config))
    self._feature = self._maker.codec.sequence_feature
    self._codec = run.codec
    self.length = run.model.max_seq_len
    bar = run.codec.steps_per_bar()
    self._span = (f'{self.length} steps' if not bar or self.length % bar else
                  f'{self.length // bar} bars of {bar} steps')

  def of(self, sequence):
    counts = collections.Counter()
    found = [np.asarray(features[self._feature], np.int32)
             for features in self._maker.make_features(
                 sequence, 'eval', lambda name, n=1: counts.update({name: n}))]
    windows = [ids for ids in found if len(ids) == self.length]
    if windows:
      return windows, ''
    if found:
      lengths = sorted({len(ids) for ids in found})
      return [], (f'its {self._codec.name} windows span '
                  f'{", ".join(map(str, lengths))} steps, not the '
                  f'{self._span} the model reads (bars of another meter are '
                  'shorter or longer)')
    reasons = [name.split('_', 3)[3] for name in counts
               if name.startswith('sequences_without_examples_')]
    reasons += [name[len('encode_failed_'):] for name in counts
                if name.startswith('encode_failed_')]
    reason = reasons[0] if reasons else 'nothing_extracted'
    extraction = dict(self._maker.config.data.get('extraction') or {})
    settings = ', '.join(f'{k}={_setting(v)}'
                         for k, v in sorted(extraction.items()))
    return [], (f'no {self._codec.name} track of {self._span} '
                f'({reason.replace("_", " ")}; the config\'s data.extraction: '
                f'{settings or "the defaults"})')


def _setting(value):
  """An extraction setting as a person reads it: a run of numbers as
  'first-last'."""
  if isinstance(value, (list, tuple)) and len(value) > 2 and list(value) == (
      list(range(value[0], value[0] + len(value)))):
    return f'{value[0]}-{value[-1]}'
  return value


def first_window(run, source, flag='--input_midi', windows=None):
  """The ids [max_seq_len] of the first window of `source` (a music file's
  path, a NoteSequence, or the ids of a window).

  Raises:
    UsageError: the file is missing or unreadable, or gives no window
      (saying why), or ids of another length.
  """
  if isinstance(source, (str, os.PathLike)):
    path = os.fspath(source)
    sequences = read_music(path, flag)
    name = f'{flag}={path}'
  elif isinstance(source, music_pb2.NoteSequence):
    sequences = [source]
    ident = source.id or source.filename
    name = f'{flag} (a NoteSequence{" " + ident if ident else ""})'
  else:
    ids = np.asarray(source, np.int32)
    if ids.shape != (run.model.max_seq_len,):
      raise UsageError(f'{flag}: a window of ids is {run.model.max_seq_len} '
                       f'steps, got shape {list(ids.shape)}')
    return ids
  windows = windows or Windows(run)
  why = ''
  for sequence in sequences:
    found, why = windows.of(sequence)
    if found:
      return found[0]
  raise UsageError(f'{name} gives no window {run.config.name!r} reads: {why}')


def file_windows(run, paths, max_windows=None, flag='--input_dir'):
  """(windows, skipped) of music files: every window (`Windows`) of each
  file, in order, up to `max_windows`; `skipped` {reason: files} counts the
  files that gave none ('unreadable (midi_parse_error)', 'no window').

  Args:
    paths: a folder (every music file under it, `flag` naming it in
      errors) or a list of files.

  Raises:
    UsageError: a folder that is missing or holds no music file.
  """
  if isinstance(paths, (str, os.PathLike)):
    folder = os.path.expanduser(os.fspath(paths))
    if not tf.io.gfile.isdir(folder):
      raise UsageError(f'{flag}={folder} is not a folder')
    # Beam's file systems list any folder (gs://...); imported here, as in
    # `Windows`.
    from musicrnn.pipelines import convert  # pylint: disable=import-outside-toplevel
    paths = convert.list_music_files(folder).music_files
  reader = Windows(run)
  found, skipped = [], collections.Counter()
  for path in paths:
    try:
      sequences = _read(path)
    except readers.ConversionError as e:
      skipped[f'unreadable ({e.reason})'] += 1
      continue
    before = len(found)
    for sequence in sequences:
      windows, _ = reader.of(sequence)
      found.extend(windows)
    if len(found) == before:
      skipped['no window'] += 1
    if max_windows and len(found) >= max_windows:
      return found[:max_windows], dict(skipped)
  return found, dict(skipped)


def dataset_windows(data, split, length, max_windows=None):
  """The windows of `length` ids of one split of a dataset (anything
  `tfrecords.sources.open_source` opens: a musicrnn_create_dataset folder,
  a TFDS one), in the order stored, up to `max_windows`."""
  source = sources_lib.open_source(data)
  feature = encodings.codec.codec_from_spec(
      source.description['encoding']).sequence_feature
  found = []
  for record in source.records(split, shuffle=False, repeat=False):
    ids = np.asarray(record[feature]).astype(np.int32).reshape(-1)
    if len(ids) == length:
      found.append(ids)
      if max_windows and len(found) >= max_windows:
        break
  return found


# --- Latents ---------------------------------------------------------------

def encode(run, sources, flag='--input_midi'):
  """mu float32 [n, z_size]: the posterior mean of each source's first
  window (`first_window`: a path, a NoteSequence or a window's ids)."""
  windows = Windows(run)
  ids = [first_window(run, source, flag, windows) for source in sources]
  return encode_windows(run, ids)


def encode_windows(run, windows):
  """mu float32 [n, z_size] of windows of ids [n, max_seq_len]."""
  if not len(windows):
    return np.zeros((0, run.model.z_size), np.float32)
  mu, _ = sampler.posterior(run.model, np.stack(windows))
  return mu


def decode(run, z, *, num_steps=None, temperature=1.0, greedy=False,
           seed=None, jit_compile=True):
  """NoteSequences of latents z [n, z_size], decoded one token a step at
  `temperature` (or the likeliest, `greedy`), `num_steps` steps (default
  the model's max_seq_len), the draws reproducible for a `seed`, in one
  loop XLA compiles (`jit_compile`; `sampler.sample_latent`)."""
  tokens = decode_ids(run, z, num_steps=num_steps, temperature=temperature,
                      greedy=greedy, seed=seed, jit_compile=jit_compile)
  return [run.codec.decode(ids) for ids in tokens]


def decode_ids(run, z, *, num_steps=None, temperature=1.0, greedy=False,
               seed=None, jit_compile=True):
  """The token ids int32 [n, num_steps] `decode` decodes to music."""
  z = np.asarray(z, np.float32)
  if z.ndim != 2 or z.shape[1] != run.model.z_size:
    raise ValueError(f'z is [n, {run.model.z_size}], got {list(z.shape)}')
  return sampler.sample_latent(run.model, z,
                               num_steps or run.model.max_seq_len,
                               temperature=temperature, greedy=greedy,
                               seed=seed, jit_compile=jit_compile)


def slerp(p0, p1, t):
  """Spherical interpolation from p0 to p1 [z_size] at fractions t (a
  number or [k]): [z_size] or [k, z_size]. Along the great circle of their
  directions, the norm going from |p0| to |p1| as sines of the angle
  (Magenta's `_slerp`); at t = 0 and 1 exactly p0 and p1. Parallel latents
  (the angle's sine below 1e-6) are joined by the straight line."""
  p0, p1 = np.asarray(p0, np.float64), np.asarray(p1, np.float64)
  t = np.asarray(t, np.float64)
  ts = t.reshape(-1, 1)
  norms = np.linalg.norm(p0) * np.linalg.norm(p1)
  cos = np.dot(p0, p1) / norms if norms else 1.0
  omega = np.arccos(np.clip(cos, -1.0, 1.0))
  so = np.sin(omega)
  if abs(so) < _PARALLEL:
    points = (1.0 - ts) * p0 + ts * p1
  else:
    points = (np.sin((1.0 - ts) * omega) / so * p0
              + np.sin(ts * omega) / so * p1)
  points[ts[:, 0] == 0] = p0
  points[ts[:, 0] == 1] = p1
  points = points.astype(np.float32)
  return points.reshape(p0.shape) if t.ndim == 0 else points


def interpolation(z0, z1, num):
  """`num` (>= 2) latents from z0 to z1 [z_size] by `slerp`, at evenly
  spaced fractions, both ends included: [num, z_size]."""
  if num < 2:
    raise UsageError(f'an interpolation takes 2 points or more (both ends '
                     f'included), got {num}')
  return slerp(z0, z1, np.linspace(0.0, 1.0, num))


def interpolate(run, source_1, source_2, num, *, flags=('--input_midi_1',
                                                        '--input_midi_2'),
                **decoding):
  """NoteSequences of `num` points from the latent of source_1 to that of
  source_2 (`interpolation` of their `encode`), each decoded (`decode`'s
  keyword arguments)."""
  windows = Windows(run)
  z = encode_windows(run, [first_window(run, source, flag, windows)
                           for source, flag in zip((source_1, source_2),
                                                   flags)])
  return decode(run, interpolation(z[0], z[1], num), **decoding)


def join(sequences, seconds_each=None):
  """One NoteSequence of `sequences` one after another, each taking
  `seconds_each` (its window's length; None: its own total_time)."""
  sequences = list(sequences)
  if seconds_each is None:
    return sequences_lib.concatenate_sequences(sequences)
  # A decoding ends by the end of its window (a float's rounding aside).
  durations = [max(float(seconds_each), sequence.total_time)
               for sequence in sequences]
  joined = sequences_lib.concatenate_sequences(sequences, durations)
  joined.total_time = sum(durations)
  return joined


# --- Attribute vectors -----------------------------------------------------

def note_density(codec, ids, sequence):
  """Notes started a bar (of the codec's grid; a step where it has no
  bars)."""
  bar = codec.steps_per_bar() or 1
  return len(sequence.notes) * bar / max(len(ids), 1)


def average_interval(codec, ids, sequence):
  """The mean distance in semitones between one note's pitch and the next's
  (by onset); 0 with fewer than two notes."""
  del codec, ids
  pitches = [note.pitch for note in sorted(sequence.notes,
                                           key=lambda n: (n.start_time,
                                                          -n.pitch))]
  if len(pitches) < 2:
    return 0.0
  return float(np.mean(np.abs(np.diff(pitches))))


# attribute name -> fn(codec, window ids, its NoteSequence) -> a number.
ATTRIBUTES = {'note_density': note_density,
              'average_interval': average_interval}


def attribute_values(run, windows, attribute):
  """float64 [n]: `attribute` (a name of ATTRIBUTES) of each window."""
  if attribute not in ATTRIBUTES:
    raise UsageError(f'--attribute={attribute}: one of '
                     f'{", ".join(sorted(ATTRIBUTES))}')
  measure = ATTRIBUTES[attribute]
  return np.array([measure(run.codec, ids, run.codec.decode(ids))
                   for ids in windows], np.float64)


def split_by_value(values, fraction=0.5):
  """(with, without) boolean masks of `values`: the top `fraction` of them
  and the bottom `fraction` (0.5: the upper and the lower half; 0.25: the
  top and bottom quartiles), floor(n * fraction) each, equal values ranked
  in their order in `values`."""
  if not 0 < fraction <= 0.5:
    raise UsageError(f'--fraction must be in (0, 0.5], got {fraction}')
  values = np.asarray(values, np.float64)
  count = int(len(values) * fraction)
  order = np.argsort(values, kind='stable')
  top, bottom = np.zeros(len(values), bool), np.zeros(len(values), bool)
  if count:
    top[order[-count:]] = True
    bottom[order[:count]] = True
  return top, bottom


def difference_of_means(z_with, z_without):
  """The attribute vector float32 [z_size]: the mean of the latents with
  the attribute [n, z_size] minus the mean of those without [m, z_size].

  Raises:
    UsageError: either set is empty.
  """
  z_with, z_without = np.asarray(z_with), np.asarray(z_without)
  if not len(z_with) or not len(z_without):
    raise UsageError(f'an attribute vector needs windows with the attribute '
                     f'and without it, got {len(z_with)} with and '
                     f'{len(z_without)} without')
  return (np.mean(z_with.astype(np.float64), axis=0)
          - np.mean(z_without.astype(np.float64), axis=0)).astype(np.float32)


def attribute_vector(run, windows, attribute, fraction=0.5):
  """(vector float32 [z_size], summary) of an attribute measured on windows
  of ids: the mean latent of the top `fraction` of the windows ranked by
  it minus that of the bottom `fraction` (`split_by_value`). The summary
  holds the attribute, how many windows each side had and their mean
  attribute.

  Raises:
    UsageError: fewer than 2 windows, or the attribute the same on both
      sides.
  """
  values = attribute_values(run, windows, attribute)
  above, below = split_by_value(values, fraction)
  if not above.any() or values[above].mean() <= values[below].mean():
    spread = (f'runs {values.min():g} to {values.max():g}' if len(values) > 1
              else 'has too few windows to compare')
    raise UsageError(f'{attribute} of the {len(values)} windows {spread}: '
                     f'its top {fraction:g} is no higher than its bottom '
                     f'{fraction:g}; give more, or more varied, music')
  z = encode_windows(run, windows)
  vector = difference_of_means(z[above], z[below])
  return vector, {'attribute': attribute, 'fraction': fraction,
                  'windows': len(values),
                  'windows_with': int(above.sum()),
                  'windows_without': int(below.sum()),
                  'mean_with': float(values[above].mean()),
                  'mean_without': float(values[below].mean())}


def save_vector(path, vector):
  """Writes an attribute vector as a NumPy .npy file."""
  folder = os.path.dirname(path)
  if folder:
    tf.io.gfile.makedirs(folder)
  with tf.io.gfile.GFile(path, 'wb') as f:
    np.save(f, np.asarray(vector, np.float32), allow_pickle=False)
  return path


def load_vector(vector, z_size, flag='--attribute_vector'):
  """An attribute vector float32 [z_size]: an array, or a .npy file's path.

  Raises:
    UsageError: a missing or unreadable file, or a vector of another size.
  """
  if isinstance(vector, (str, os.PathLike)):
    path = os.fspath(vector)
    if not tf.io.gfile.exists(path):
      raise UsageError(f'{flag}={path} does not exist')
    try:
      with tf.io.gfile.GFile(path, 'rb') as f:
        vector = np.load(f, allow_pickle=False)
    except (OSError, ValueError) as e:
      raise UsageError(f'{flag}={path} is not a NumPy .npy file: {e}') from e
    name = f'{flag}={path}'
  else:
    name = flag
  vector = np.asarray(vector)
  if vector.shape != (z_size,) or not np.issubdtype(vector.dtype, np.number):
    raise UsageError(f'{name} holds {vector.dtype} {list(vector.shape)}; the '
                     f'model\'s latent is [{z_size}] numbers')
  if not np.all(np.isfinite(vector)):
    raise UsageError(f'{name} holds values that are not finite')
  return vector.astype(np.float32)
