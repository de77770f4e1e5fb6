r"""musicrnn_quickstart: the whole musicrnn path on the bundled corpus.

  musicrnn_quickstart --output_dir=/tmp/musicrnn_quickstart

Stages, each printed with its progress and outputs:
  1. convert: the twelve bundled piano-midi.de pieces (see
     musicrnn/quickstart_corpus/README.md) -> NoteSequence TFRecords, with
     the dead-letter, duplicates and summary files beside them.
Later stages (dataset, training, generation) join as they are built.
"""

import os
import time

from absl import flags

from musicrnn import cli
from musicrnn.pipelines import beam_utils
from musicrnn.pipelines import convert

QUICKSTART_CORPUS = os.path.join(os.path.dirname(__file__), 'quickstart_corpus')

flags.DEFINE_string('output_dir', None,
                    'Folder for everything the quick start writes.')
flags.DEFINE_bool('overwrite', False,
                  'Replace the outputs of an earlier quick start in '
                  '--output_dir instead of refusing to run.')

FLAGS = flags.FLAGS


def _stage(number, title):
  print(f'\n== [{number}] {title}', flush=True)


def run_quickstart(output_dir, overwrite=False, pipeline_options=None):
  """Runs every quick-start stage into `output_dir`.

  Returns:
    dict of what was written, stage name -> summary.
  """
  start = time.time()
  os.makedirs(output_dir, exist_ok=True)
  _stage(1, f'convert {QUICKSTART_CORPUS} -> NoteSequences')
  notesequences = os.path.join(output_dir, 'notesequences.tfrecord')
  summary = convert.convert_directory(
      QUICKSTART_CORPUS, notesequences, collection_name='quickstart',
      overwrite=overwrite, pipeline_options=pipeline_options)
  print(summary.line(), flush=True)
  print(f'\nquick start done in {time.time() - start:.0f} s; outputs in '
        f'{os.path.abspath(output_dir)}:')
  for path in summary.output_files:
    print(f'  {path}')
  return {'convert': summary}


def main(argv):
  cli.require('output_dir')
  options = beam_utils.make_pipeline_options(
      argv[1:], own_flags=cli.own_flag_names(__name__))
  run_quickstart(FLAGS.output_dir, FLAGS.overwrite, options)


def run():
  cli.run(main, beam=True)


if __name__ == '__main__':
  run()
