r"""musicrnn_convert: a folder of MIDI / MusicXML / ABC files -> NoteSequences.

Runs a Beam pipeline (DirectRunner unless --runner says otherwise); every
Beam pipeline option is passed through. Example:

  musicrnn_convert --input_dir=~/midi --output_file=/tmp/notesequences.tfrecord \
    --direct_running_mode=multi_processing --direct_num_workers=2

Besides the TFRecord it writes <output_file>.deadletter.jsonl (every file that
could not be read, with its reason), <output_file>.duplicates.jsonl and
<output_file>.summary.json (the counts, written last). Files are parsed in a
child process per worker, limited by --max_seconds_per_file and
--max_memory_per_file_mb, so a hostile file is dead-lettered (timeout,
out_of_memory, reader_crashed) instead of hanging or killing the run.
"""


from absl import flags

from musicrnn import cli

# Run as `python -m musicrnn.convert`: the console is quiet before the
# imports below load TensorFlow or Beam.
cli.quiet_when_run(__name__)

# pylint: disable=wrong-import-position
from musicrnn.pipelines import beam_utils
from musicrnn.pipelines import convert
from musicrnn.pipelines import readers
# pylint: enable=wrong-import-position

_DEFAULTS = readers.ReadLimits()

flags.DEFINE_string(
    'input_dir', None,
    'Folder searched recursively for .mid/.midi/.kar, .xml/.mxl/.musicxml and '
    '.abc files (local or any Beam file system, e.g. gs://).')
flags.DEFINE_string(
    'output_file', None,
    'TFRecord file of NoteSequence protos to write; with --num_shards > 1 the '
    'prefix of <output_file>-SSSSS-of-NNNNN shards.')
flags.DEFINE_integer('num_shards', 1, 'Number of TFRecord shards to write.',
                     lower_bound=1)
flags.DEFINE_string(
    'collection_name', None,
    'Collection name stored in every NoteSequence (default: the basename of '
    '--input_dir).')
flags.DEFINE_bool('overwrite', False,
                  'Replace existing outputs instead of refusing to run.')
flags.DEFINE_float('min_qpm', _DEFAULTS.min_qpm,
                   'Files with a slower tempo (quarter notes/minute) fail as '
                   'absurd_tempo.')
flags.DEFINE_float('max_qpm', _DEFAULTS.max_qpm,
                   'Files with a faster tempo fail as absurd_tempo.')
flags.DEFINE_float('max_duration_seconds', _DEFAULTS.max_duration_seconds,
                   'Files longer than this fail as too_long.')
flags.DEFINE_integer('max_file_bytes', _DEFAULTS.max_file_bytes,
                     'Files larger than this fail as too_large.',
                     lower_bound=0)
flags.DEFINE_float(
    'max_seconds_per_file', _DEFAULTS.max_seconds_per_file,
    'Wall-clock seconds a file may take to parse; files are parsed in a '
    'separate process, stopped past this, and fail as timeout. 0: no limit.',
    lower_bound=0)
flags.DEFINE_integer(
    'max_memory_per_file_mb', _DEFAULTS.max_memory_per_file_mb,
    'MiB of memory the parsing process may allocate for one file (Linux '
    'RLIMIT_AS); files needing more fail as out_of_memory. 0: no limit. With '
    'this and --max_seconds_per_file both 0, files are parsed in-process.',
    lower_bound=0)

flags.DEFINE_enum(
    'midi_reader', _DEFAULTS.midi_reader, readers.MIDI_READERS,
    'MIDI parser: symusic (C++, about 100x faster; NoteSequences equal to '
    'note-seq\'s, and a file it cannot reproduce is read with note-seq and '
    'counted) or note_seq (pretty_midi, pure Python).')

FLAGS = flags.FLAGS


def main(argv):
  cli.require('input_dir', 'output_file')
  options = beam_utils.make_pipeline_options(
      argv[1:], own_flags=cli.own_flag_names(__name__))
  limits = readers.ReadLimits(
      min_qpm=FLAGS.min_qpm, max_qpm=FLAGS.max_qpm,
      max_duration_seconds=FLAGS.max_duration_seconds,
      max_file_bytes=FLAGS.max_file_bytes,
      max_seconds_per_file=FLAGS.max_seconds_per_file,
      max_memory_per_file_mb=FLAGS.max_memory_per_file_mb,
      midi_reader=FLAGS.midi_reader)
  summary = convert.convert_directory(
      FLAGS.input_dir, FLAGS.output_file, num_shards=FLAGS.num_shards,
      collection_name=FLAGS.collection_name, overwrite=FLAGS.overwrite,
      limits=limits, pipeline_options=options)
  print(f'wrote {", ".join(summary.output_files)}')


def run():
  cli.run(main, beam=True)


if __name__ == '__main__':
  run()
