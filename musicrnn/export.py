r"""musicrnn_export: a trained run as one file to hand on.

  musicrnn_export --run_dir=/tmp/perf_run --output=/tmp/perf.mrnn

The .mrnn file holds the run's config, codec spec and latest weights (JSON
and a TensorFlow tensor bundle in a zip; no pickles, nothing executed on
load). Others generate from it (musicrnn_generate --bundle_file=perf.mrnn)
or fine-tune it (musicrnn_train --init_from=perf.mrnn).

  musicrnn_export --run_dir=/tmp/perf_run --format=saved_model \
    --output=/tmp/perf_saved_model

writes a TensorFlow SavedModel whose "generate" signature (primer token ids,
num_steps, temperature, top_k, top_p, seed; for a conditioned model, a value
per output of each control, named as musicrnn_generate's flag for it)
returns sampled token ids, with the codec spec in assets/musicrnn_codec.json:
it loads where musicrnn is not installed (TF Serving, another language).
"""


from absl import flags

from musicrnn import cli

# Run as `python -m musicrnn.export`: the console is quiet before the
# imports below load TensorFlow or Beam.
cli.quiet_when_run(__name__)

# pylint: disable=wrong-import-position
from musicrnn.errors import UsageError
from musicrnn.runs import model_file
from musicrnn.runs import saved_model
# pylint: enable=wrong-import-position

flags.DEFINE_string('run_dir', None, 'A run folder of musicrnn_train (or of '
                    'musicrnn_import_magenta).')
flags.DEFINE_string('output', None, 'The file (.mrnn) or, with '
                    '--format=saved_model, the folder to write.')
flags.DEFINE_enum('format', 'mrnn', ['mrnn', 'saved_model'],
                  'mrnn: one file for musicrnn (generate, fine-tune); '
                  'saved_model: a TensorFlow SavedModel whose "generate" '
                  'signature samples token ids, for TF Serving and other '
                  'languages (token models only).')

FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    raise UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  cli.require('run_dir', 'output')
  if FLAGS.format == 'saved_model':
    print(saved_model.export(FLAGS.run_dir, FLAGS.output))
  else:
    path, step = model_file.export_run(FLAGS.run_dir, FLAGS.output)
    print(f'{path} (step {step})')


def run():
  cli.run(main)


if __name__ == '__main__':
  run()
