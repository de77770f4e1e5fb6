r"""musicrnn_attribute_vector: a direction in a MusicVAE run's latent space
that adds an attribute, for musicrnn_generate --attribute_vector.

  musicrnn_attribute_vector --run_dir=/tmp/vae_run --output_file=density.npy \
    --attribute=note_density
  musicrnn_attribute_vector --run_dir=/tmp/vae_run --output_file=density.npy \
    --attribute=note_density --input_dir=~/melodies --fraction=0.25
  musicrnn_attribute_vector --run_dir=/tmp/vae_run --output_file=jazz.npy \
    --with_dir=~/jazz --without_dir=~/folk
  musicrnn_generate --run_dir=/tmp/vae_run --output_dir=/tmp/denser \
    --mode=reconstruct --input_midi=a.mid --attribute_vector=density.npy \
    --attribute_scale=1.5

The vector is the mean latent (posterior mean) of windows with the
attribute minus that of windows without it (Roberts et al. 2018): with
--attribute, the windows of the run's dataset (or of --input_dir's music)
ranked by the attribute, the upper half minus the lower half
(--fraction=0.25: the top quarter minus the bottom quarter); with
--with_dir and --without_dir,
every window of the one folder's music minus every window of the other's.
It is written as a NumPy .npy file of the run's latent size, and belongs to
that run: another run's latent space is another.
"""

import json

from absl import flags

from musicrnn import cli

# Run as `python -m musicrnn.attribute_vector`: the console is quiet before
# the imports below load TensorFlow or Beam.
cli.quiet_when_run(__name__)

# pylint: disable=wrong-import-position
from musicrnn.errors import UsageError
from musicrnn.generation import latent
from musicrnn.runs import generate
# pylint: enable=wrong-import-position

flags.DEFINE_string('run_dir', None, 'A MusicVAE run folder of musicrnn_train.')
flags.DEFINE_string('output_file', None, 'The .npy file to write.')
flags.DEFINE_enum('attribute', None, sorted(latent.ATTRIBUTES),
                  'The attribute to measure on each window: note_density '
                  '(notes started a bar), average_interval (semitones from '
                  'one note to the next).')
flags.DEFINE_string('input_dir', None,
                    'With --attribute: a folder of music (MIDI, MusicXML, '
                    'ABC) to measure it on, every window of every file '
                    '(default: the run\'s dataset, --split).')
flags.DEFINE_enum('split', 'train', ['train', 'eval'],
                  'With --attribute and no --input_dir: the split of the '
                  'run\'s dataset to read.')
flags.DEFINE_float('fraction', 0.5,
                   'With --attribute: the share of the windows, ranked by '
                   'it, on each side: the top fraction minus the bottom '
                   'fraction (0.5: the upper half minus the lower; 0.25: '
                   'the top quarter minus the bottom quarter).')
flags.DEFINE_string('with_dir', None,
                    'A folder of music with the attribute (instead of '
                    '--attribute).')
flags.DEFINE_string('without_dir', None, 'A folder of music without it.')
flags.DEFINE_integer('max_windows', 0,
                     'Read at most this many windows of each source (0: all).',
                     lower_bound=0)

FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    raise UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  cli.require('run_dir', 'output_file')
  _, summary = generate.attribute_vector(
      FLAGS.run_dir, FLAGS.output_file, attribute=FLAGS.attribute,
      input_dir=FLAGS.input_dir, split=FLAGS.split, with_dir=FLAGS.with_dir,
      without_dir=FLAGS.without_dir, fraction=FLAGS.fraction,
      max_windows=FLAGS.max_windows or None)
  print(json.dumps(summary, sort_keys=True))
  print(FLAGS.output_file)


def run():
  cli.run(main)


if __name__ == '__main__':
  run()
