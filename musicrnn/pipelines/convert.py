"""Beam pipeline: a folder of music files -> NoteSequence TFRecords.

    folder ─ ListFolder ─ Reshuffle ─ HashFile ─ GroupByKey(content hash) ─ PickCanonical
                                         │                                   │      │
                                     dead letter                      duplicates  ConvertFile
                                                                                   │      │
                                                                NoteSequence TFRecord  dead letter

The folder is listed inside the pipeline, by a worker: the job holds the
folder's name, not its files, however many there are. Every music file
found ends up converted, counted as a duplicate of a byte-identical file
(the first path in sorted order is converted), or written to the
dead-letter JSONL with its reason. The NoteSequence id is the SHA-256 of the
file's bytes (plus '#<X number>' per ABC tune), so it is stable across runs,
machines and renames.

Outputs, beside `output_file`:
  output_file                  (or output_file-SSSSS-of-NNNNN with num_shards>1)
  output_file.deadletter.jsonl one JSON object per failed file or ABC tune
  output_file.duplicates.jsonl one per duplicate file, naming the one kept
  output_file.summary.json     counts, written last: its presence means the
                               run completed.
"""

import dataclasses
import json
import logging
import os
import time

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io import tfrecordio
from apache_beam.io.filesystems import FileSystems
from note_seq.protobuf import music_pb2

from musicrnn import paths
from musicrnn.errors import UsageError
from musicrnn.errors import first_line
from musicrnn.pipelines import beam_utils
from musicrnn.pipelines import isolation
from musicrnn.pipelines import progress
from musicrnn.pipelines import readers
from musicrnn.pipelines import shuffle

NAMESPACE = 'musicrnn.convert'
DEADLETTER_SUFFIX = '.deadletter.jsonl'
DUPLICATES_SUFFIX = '.duplicates.jsonl'
SUMMARY_SUFFIX = '.summary.json'
_SHARD_NAME = 'notesequences'   # staged shards: notesequences-SSSSS
_DEADLETTER_TAG = 'deadletter'
_DUPLICATE_TAG = 'duplicate'


@dataclasses.dataclass(frozen=True)
class FileListing:
  """The files under an input folder, split by whether we can read them."""
  input_dir: str
  music_files: tuple
  other_files: tuple


def input_folder(input_dir):
  """`input_dir` made absolute (local) and without a trailing '/'.

  Raises:
    UsageError: a local folder that does not exist.
  """
  if '://' not in input_dir:
    input_dir = os.path.abspath(os.path.expanduser(input_dir))
    if not os.path.isdir(input_dir):
      raise UsageError(f'--input_dir={input_dir} is not a directory')
  return input_dir.rstrip('/')


def walk_files(input_dir):
  """Yields the path of every file under `input_dir` (an `input_folder`),
  recursively, on any Beam file system, in no particular order."""
  if '://' in input_dir:
    result = FileSystems.match([beam_utils.join(input_dir, '**')])[0]
    for metadata in result.metadata_list:
      yield metadata.path
    return
  # Beam's local file system does not follow symlinked folders; people
  # often link their corpora into one folder, so walk it ourselves.
  for folder, _, names in os.walk(input_dir, followlinks=True):
    for name in names:
      yield os.path.join(folder, name)


def no_music_files(input_dir):
  return UsageError(
      f'no music files under {input_dir} (looked for '
      f'{", ".join(readers.MUSIC_EXTENSIONS)}, in any letter case)')


def list_music_files(input_dir):
  """Lists music files under `input_dir`, recursively (any Beam file system),
  on this machine (pipelines list theirs with `ListMusicFiles`).

  Returns:
    FileListing with sorted absolute paths.

  Raises:
    UsageError: the folder does not exist or holds no music file.
  """
  input_dir = input_folder(input_dir)
  paths = sorted(walk_files(input_dir))
  music = tuple(p for p in paths if readers.music_format(p))
  other = tuple(p for p in paths if not readers.music_format(p))
  if not music:
    raise no_music_files(input_dir)
  return FileListing(input_dir, music, other)


class _ListFolder(beam.DoFn):
  """A folder -> the paths of its music files, recursively; the files that
  are not music are counted (ignored_files), the music ones too
  (music_files), and the latter are the progress line's total."""

  def __init__(self, progress_dir):
    self._progress_dir = progress_dir
    self._tally = beam_utils.Tally(NAMESPACE)

  def setup(self):
    self._progress = progress.Counter(self._progress_dir, 'convert', 'files')

  def process(self, input_dir):
    music = other = 0
    for path in walk_files(input_dir):
      if readers.music_format(path):
        music += 1
        yield path
        if music % 1000 == 0:
          self._progress.add_total(1000)
      else:
        other += 1
    self._progress.add_total(music % 1000)
    self._progress.flush()
    yield self._tally('music_files', music)
    yield self._tally('ignored_files', other)


class ListMusicFiles(beam.PTransform):
  """Pipeline start -> the paths of the music files under `input_dir` (an
  `input_folder`), listed by a worker, and their counts.

  Returns a dict: 'paths' and beam_utils.COUNTS_TAG (music_files,
  ignored_files).
  """

  def __init__(self, input_dir, progress_dir=None):
    super().__init__()
    self._input_dir = input_dir
    self._progress_dir = progress_dir

  def expand(self, pbegin):
    listed = (pbegin
              | 'Folder' >> beam.Create([self._input_dir])
              | 'ListFolder' >> beam_utils.ParDoWithOutputs(
                  _ListFolder(self._progress_dir), beam_utils.COUNTS_TAG,
                  main='paths'))
    return listed


def relative_path(path, input_dir):
  """`path` relative to `input_dir`, with '/' separators."""
  rel = path[len(input_dir):] if path.startswith(input_dir) else path
  return rel.lstrip('/').replace(os.sep, '/')


def _read_bytes(path):
  with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
    return f.read()


def _dead_letter(path, input_dir, error):
  return {
      'path': path,
      'filename': relative_path(path, input_dir),
      'reason': error.reason,
      'exception_type': error.exception_type,
      'message': str(error),
  }


class _HashFile(beam.DoFn):
  """path -> (content hash, path); unreadable files go to the dead letter."""

  def __init__(self, input_dir, limits):
    self._input_dir = input_dir
    self._limits = limits
    self._tally = beam_utils.Tally(NAMESPACE)

  def process(self, path):
    try:
      data = _read_bytes(path)
    except Exception as e:  # pylint: disable=broad-except
      error = readers.ConversionError(readers.REASON_READ_ERROR, str(e),
                                      type(e).__name__)
      yield beam.pvalue.TaggedOutput(
          _DEADLETTER_TAG, _dead_letter(path, self._input_dir, error))
      yield self._tally('failed_files')
      yield self._tally('failed_' + error.reason)
      return
    yield readers.content_hash(data), path


class _PickCanonical(beam.DoFn):
  """(hash, [paths]) -> (hash, first path); the other paths are duplicates."""

  def __init__(self):
    self._tally = beam_utils.Tally(NAMESPACE)

  def process(self, element):
    digest, paths = element
    paths = sorted(paths)
    yield digest, paths[0]
    for path in paths[1:]:
      yield beam.pvalue.TaggedOutput(
          _DUPLICATE_TAG, {'path': path, 'duplicate_of': paths[0], 'id': digest})
      yield self._tally('duplicate_files')


class _ConvertFile(beam.DoFn):
  """(hash, path) -> NoteSequence(s); failures go to the dead letter.

  Files are parsed by an isolation.IsolatedReader (a child process per DoFn
  instance), so a hostile file fails as timeout, out_of_memory or
  reader_crashed instead of hanging or killing the worker.
  """

  def __init__(self, input_dir, collection_name, limits, progress_dir):
    self._input_dir = input_dir
    self._collection_name = collection_name
    self._limits = limits
    self._progress_dir = progress_dir
    self._tally = beam_utils.Tally(NAMESPACE)

  def setup(self):
    self._progress = progress.Counter(self._progress_dir, 'convert', 'files')
    # One child process per DoFn instance, reused for every file; parsing in
    # it bounds each file's time and memory (readers.ReadLimits).
    self._reader = isolation.IsolatedReader(self._limits)

  def teardown(self):
    self._reader.close()

  def process(self, element):
    digest, path = element
    try:
      data = _read_bytes(path)
      sequences, tune_failures = self._reader.read(data, path, digest=digest)
    except isolation.ReaderStartError:
      raise
    except Exception as e:  # pylint: disable=broad-except
      if not isinstance(e, readers.ConversionError):
        e = readers.ConversionError(
            readers.REASON_READ_ERROR if isinstance(e, OSError)
            else readers.REASON_UNEXPECTED_ERROR, str(e), type(e).__name__)
      self._progress.add(failed=1)
      yield beam.pvalue.TaggedOutput(
          _DEADLETTER_TAG, _dead_letter(path, self._input_dir, e))
      yield self._tally('failed_files')
      yield self._tally('failed_' + e.reason)
      return
    filename = relative_path(path, self._input_dir)
    for sequence in sequences:
      sequence.filename = filename
      sequence.collection_name = self._collection_name
      yield sequence
    for failure in tune_failures:
      entry = _dead_letter(path, self._input_dir, failure)
      entry['tune_failure'] = True
      yield beam.pvalue.TaggedOutput(_DEADLETTER_TAG, entry)
      yield self._tally('failed_tunes')
    yield self._tally('converted_files')
    yield self._tally('notesequences', len(sequences))
    for name, n in self._reader.counts.items():
      yield self._tally(name, n)
    self._reader.counts.clear()
    self._progress.add()

  def finish_bundle(self):
    self._progress.flush()


# The outputs of ReadMusicFiles.
SEQUENCES = 'sequences'
DEADLETTERS = 'deadletters'
DUPLICATES = 'duplicates'


class ReadMusicFiles(beam.PTransform):
  """PCollection of paths -> NoteSequences, dead letters, duplicates, counts.

  The reading half of `convert_directory`, reusable in other pipelines (the
  TFDS builders): every path ends up as NoteSequence(s), as a duplicate of a
  byte-identical file, or as a dead letter with its reason.

  Returns a dict of PCollections: SEQUENCES (NoteSequence protos, id = content
  hash, filename relative to `input_dir`), DEADLETTERS and DUPLICATES (JSON-able
  dicts), and beam_utils.COUNTS_TAG ((name, n) pairs for `total_counts`).
  `progress_dir`: a `progress.Reporter`'s folder (None: each worker logs its
  own progress).
  """

  def __init__(self, input_dir, collection_name, limits, progress_dir=None):
    super().__init__()
    self._input_dir = input_dir
    self._collection_name = collection_name
    self._limits = limits
    self._progress_dir = progress_dir

  def expand(self, paths):
    hashed = (
        paths
        | 'Spread' >> beam.Reshuffle()
        | 'HashFile' >> beam_utils.ParDoWithOutputs(
            _HashFile(self._input_dir, self._limits),
            _DEADLETTER_TAG, beam_utils.COUNTS_TAG, main='hashed'))
    picked = (
        hashed['hashed']
        | 'GroupByContent' >> beam.GroupByKey()
        | 'PickCanonical' >> beam_utils.ParDoWithOutputs(
            _PickCanonical(), _DUPLICATE_TAG, beam_utils.COUNTS_TAG,
            main='canonical'))
    converted = (
        picked['canonical']
        | 'ConvertFile' >> beam_utils.ParDoWithOutputs(
            _ConvertFile(self._input_dir, self._collection_name, self._limits,
                         self._progress_dir),
            _DEADLETTER_TAG, beam_utils.COUNTS_TAG, main='sequences'))
    return {
        SEQUENCES: converted['sequences'],
        DEADLETTERS: ((hashed[_DEADLETTER_TAG], converted[_DEADLETTER_TAG])
                      | 'FlattenDeadLetters' >> beam.Flatten()),
        DUPLICATES: picked[_DUPLICATE_TAG],
        beam_utils.COUNTS_TAG: ((hashed[beam_utils.COUNTS_TAG],
                                 picked[beam_utils.COUNTS_TAG],
                                 converted[beam_utils.COUNTS_TAG])
                                | 'FlattenCounts' >> beam.Flatten()),
    }


def output_paths(output_file, num_shards):
  """The final paths a conversion writes, TFRecord shards first."""
  if num_shards == 1:
    shards = [output_file]
  else:
    shards = [f'{output_file}-{i:05d}-of-{num_shards:05d}'
              for i in range(num_shards)]
  return shards + [output_file + DEADLETTER_SUFFIX,
                   output_file + DUPLICATES_SUFFIX,
                   output_file + SUMMARY_SUFFIX]


def is_side_file(path):
  """True for the dead-letter, duplicates and summary files that a
  conversion writes beside its output (`ns.tfrecord*` matches them too)."""
  return path.endswith((DEADLETTER_SUFFIX, DUPLICATES_SUFFIX, SUMMARY_SUFFIX))


def notesequence_files(pattern):
  """The NoteSequence TFRecord files a conversion's output `pattern` names.

  Args:
    pattern: the output file of musicrnn_convert, a glob of its shards, or
      any glob of NoteSequence TFRecords; relative to the current folder.

  Returns:
    Sorted absolute paths, without convert's side files.

  Raises:
    UsageError: nothing matches, a set of shards is incomplete, or a file is
      not a TFRecord of NoteSequences (one line naming it).
  """
  pattern = paths.absolute(pattern)
  try:
    matched = beam_utils.matching(pattern)
  except Exception as e:  # pylint: disable=broad-except
    # No file system for the scheme (gs:// without apache-beam[gcp]), or no
    # access to it.
    raise UsageError(f'cannot list {pattern} ({first_line(e)})') from e
  files = [p for p in matched if not is_side_file(p)]
  if not files:
    raise UsageError(
        f'{pattern} matches no NoteSequence file'
        + (' (only musicrnn_convert\'s side files)' if matched else '')
        + '; give the --output_file of musicrnn_convert or a glob of its shards')
  beam_utils.check_whole_shard_sets(files)
  for path in files:
    _check_notesequence_file(path)
  return files


def _check_notesequence_file(path):
  """Raises UsageError unless the first record of `path` (if any) is a
  NoteSequence with notes, as musicrnn_convert writes."""
  try:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
      record = tfrecordio._TFRecordUtil.read_record(f)  # pylint: disable=protected-access
    if record is None:
      return   # an empty shard: a conversion may write one
    sequence = music_pb2.NoteSequence.FromString(record)
  except Exception as e:  # pylint: disable=broad-except
    raise UsageError(f'{path} is not a TFRecord file of NoteSequences '
                     f'({first_line(e)}); give musicrnn_convert\'s output') from e
  if not sequence.notes:
    raise UsageError(f'{path} is not a TFRecord file of NoteSequences (its first '
                     'record has no notes); give musicrnn_convert\'s output')


def _existing_output_patterns(output_file):
  return [output_file, output_file + '-?????-of-?????',
          output_file + DEADLETTER_SUFFIX, output_file + DUPLICATES_SUFFIX,
          output_file + SUMMARY_SUFFIX]


@dataclasses.dataclass
class ConversionSummary:
  """What a conversion did. files_seen == converted + duplicates + failed."""
  input_dir: str
  output_file: str
  files_seen: int
  converted: int
  duplicates: int
  failed: int
  notesequences: int
  failed_tunes: int
  failed_by_reason: dict
  ignored_files: int
  seconds: float
  files_per_second: float
  output_files: list
  # The MIDI parser (readers.ReadLimits.midi_reader), and the MIDI files
  # the symusic one left to note-seq's, by reason (fast_midi).
  midi_reader: str = 'symusic'
  read_by_note_seq: dict = dataclasses.field(default_factory=dict)

  def adds_up(self):
    return self.files_seen == self.converted + self.duplicates + self.failed

  def line(self):
    reasons = ', '.join(f'{k} {v}' for k, v in sorted(self.failed_by_reason.items()))
    fallbacks = ', '.join(f'{k} {v}' for k, v in sorted(self.read_by_note_seq.items()))
    return (
        f'files seen {self.files_seen} = converted {self.converted} + '
        f'duplicates {self.duplicates} + failed {self.failed}'
        + (f' ({reasons})' if reasons else '')
        + f'; {self.notesequences} NoteSequences written'
        + (f', {self.failed_tunes} ABC tunes failed' if self.failed_tunes else '')
        + f'; {self.ignored_files} non-music files ignored'
        + (f'; {sum(self.read_by_note_seq.values())} MIDI files read by '
           f'note-seq ({fallbacks})' if self.read_by_note_seq else '')
        + f'; {self.seconds:.1f} s, {self.files_per_second:.1f} files/s')


def convert_directory(input_dir, output_file, *, num_shards=1,
                      collection_name=None, overwrite=False,
                      limits=readers.ReadLimits(), pipeline_options=None):
  """Converts every music file under `input_dir` to NoteSequence TFRecords.

  Args:
    input_dir: folder searched recursively (local or any Beam file system).
    output_file: TFRecord path; with num_shards > 1, the shard prefix.
    num_shards: number of TFRecord shards (1 writes `output_file` itself).
    collection_name: stored in every NoteSequence; default the basename of
      `input_dir`.
    overwrite: replace existing outputs instead of refusing.
    limits: readers.ReadLimits for sanity checks.
    pipeline_options: Beam PipelineOptions (default: DirectRunner).

  Returns:
    ConversionSummary; also written to `output_file + '.summary.json'`.

  Raises:
    UsageError: bad arguments, no music files, or outputs already exist.
  """
  if num_shards < 1:
    raise UsageError(f'--num_shards must be at least 1, got {num_shards}')
  if '://' not in output_file:
    output_file = os.path.abspath(output_file)
    os.makedirs(os.path.dirname(output_file), exist_ok=True)
  input_dir = input_folder(input_dir)
  if collection_name is None:
    collection_name = os.path.basename(input_dir.rstrip('/'))

  output_dir, name = os.path.split(output_file)
  staged = beam_utils.StagedOutputs(output_dir, name, overwrite,
                                    marker=output_file + SUMMARY_SUFFIX)
  staged.refuse_existing(_existing_output_patterns(output_file))
  logging.info('musicrnn convert: reading the music files under %s', input_dir)

  if pipeline_options is None:
    pipeline_options = beam_utils.make_pipeline_options([])
  start = time.time()
  if beam_utils.runs_in_this_process(pipeline_options):
    # The reader's child imports while Beam builds the pipeline.
    isolation.start_ahead(limits)
  reporter = progress.Reporter('convert', 'files',
                               enabled=beam_utils.is_local(pipeline_options))
  try:
    with reporter, beam_utils.make_pipeline(pipeline_options) as p:
      listed = p | 'ListMusicFiles' >> ListMusicFiles(input_dir, reporter.folder)
      read = (listed['paths']
              | 'ReadMusicFiles' >> ReadMusicFiles(
                  input_dir, collection_name, limits, reporter.folder))
      # Each NoteSequence goes to a shard fixed by its id, on every runner;
      # written without Beam's file sinks (see beam_utils.WriteLines).
      written = (read[SEQUENCES]
                 | 'KeyById' >> beam.Map(
                     lambda sequence: (sequence.id, sequence.SerializeToString()))
                 | 'WriteNoteSequences' >> shuffle.ShuffleToShards(
                     staged.dir, _SHARD_NAME, num_shards, sort=False))
      dead = (read[DEADLETTERS]
              | 'DeadLetterJson' >> beam.Map(json.dumps, sort_keys=True)
              | 'WriteDeadLetters' >> beam_utils.WriteLines(
                  staged.path(name + DEADLETTER_SUFFIX)))
      duplicates = (read[DUPLICATES]
                    | 'DuplicateJson' >> beam.Map(json.dumps, sort_keys=True)
                    | 'WriteDuplicates' >> beam_utils.WriteLines(
                        staged.path(name + DUPLICATES_SUFFIX)))
      counted = beam_utils.total_counts(
          (listed[beam_utils.COUNTS_TAG], read[beam_utils.COUNTS_TAG]),
          staged.path('counts.json'))
      beam_utils.end(written, dead, duplicates, counted)

    seconds = time.time() - start
    counts = beam_utils.read_counts(staged.path('counts.json'))
    files_seen = counts.get('music_files', 0)
    if not files_seen:
      raise no_music_files(input_dir)
    summary = ConversionSummary(
        input_dir=input_dir,
        output_file=output_file,
        files_seen=files_seen,
        converted=counts.get('converted_files', 0),
        duplicates=counts.get('duplicate_files', 0),
        failed=counts.get('failed_files', 0),
        notesequences=counts.get('notesequences', 0),
        failed_tunes=counts.get('failed_tunes', 0),
        failed_by_reason={k[len('failed_'):]: v for k, v in counts.items()
                          if k.startswith('failed_')
                          and k not in ('failed_files', 'failed_tunes')},
        ignored_files=counts.get('ignored_files', 0),
        seconds=round(seconds, 3),
        files_per_second=round(files_seen / max(seconds, 1e-9), 2),
        output_files=output_paths(output_file, num_shards),
        midi_reader=limits.midi_reader,
        read_by_note_seq={
            k[len(readers.FALLBACK_PREFIX):]: v for k, v in counts.items()
            if k.startswith(readers.FALLBACK_PREFIX)})
    if not summary.adds_up():
      raise RuntimeError(f'conversion counts do not add up: {summary.line()}')
    with FileSystems.create(staged.path(name + SUMMARY_SUFFIX)) as f:
      f.write(json.dumps(dataclasses.asdict(summary), indent=2).encode('utf-8'))

    finals = output_paths(output_file, num_shards)
    staged_files = [staged.path(f'{_SHARD_NAME}-{i:05d}') for i in range(num_shards)]
    staged_files += [staged.path(os.path.basename(p)) for p in finals[num_shards:-1]]
    for path in staged_files:
      if not FileSystems.exists(path):   # an empty shard, no dead letter, ...
        FileSystems.create(path).close()
    moves = list(zip(staged_files, finals[:-1]))
    staged.publish(moves, (staged.path(name + SUMMARY_SUFFIX), finals[-1]),
                   _existing_output_patterns(output_file))
  finally:
    staged.cleanup()
  logging.info('musicrnn convert: %s', summary.line())
  return summary

