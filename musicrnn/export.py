r"""musicrnn_export: a trained run as one file to hand on.

  musicrnn_export --run_dir=/tmp/perf_run --output=/tmp/perf.mrnn

The .mrnn file holds the run's config, codec spec and latest weights (JSON
and a TensorFlow tensor bundle in a zip; no pickles, nothing executed on
load). Others generate from it (musicrnn_generate --bundle_file=perf.mrnn)
or fine-tune it (musicrnn_train --init_from=perf.mrnn).
"""

from absl import flags

from musicrnn import cli
from musicrnn.errors import UsageError
from musicrnn.training import model_file

flags.DEFINE_string('run_dir', None, 'A run folder of musicrnn_train (or of '
                    'musicrnn_import_magenta).')
flags.DEFINE_string('output', None, 'The file to write (.mrnn).')

FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    raise UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  cli.require('run_dir', 'output')
  path, step = model_file.export_run(FLAGS.run_dir, FLAGS.output)
  print(f'{path} (step {step})')


def run():
  cli.run(main)


if __name__ == '__main__':
  run()
