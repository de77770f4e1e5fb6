r"""musicrnn_studio: a page on this machine to continue, generate,
interpolate and listen with trained models.

  musicrnn_studio --run_dir=/tmp/perf_run
  musicrnn_studio --run_dir=/tmp/perf_run --run_dir=/tmp/vae_run \
    --bundle_file=performance_with_dynamics.mag --port=8080

It prints the page's address (http://127.0.0.1:PORT/) and serves until
Ctrl-C. Every model works: runs of musicrnn_train, .mrnn model files and
Magenta .mag bundles (imported when the studio starts). The page listens
on 127.0.0.1 only, unless --host says otherwise; it needs no network.
"""

import os
import shutil
import tempfile

from absl import flags

from musicrnn import cli

cli.quiet_when_run(__name__)

# pylint: disable=wrong-import-position
from musicrnn.errors import UsageError
from musicrnn.runs import generate
from musicrnn.web import server as server_lib
from musicrnn.web import studio as studio_lib
# pylint: enable=wrong-import-position

flags.DEFINE_multi_string('run_dir', [], 'A run directory written by '
                          'musicrnn_train (repeat the flag for several).')
flags.DEFINE_multi_string('bundle_file', [], 'An .mrnn model file or a Magenta '
                          '.mag bundle (repeat the flag for several).')
flags.DEFINE_string('host', '127.0.0.1', 'The address to listen on. The '
                    'default is this machine only; 0.0.0.0 exposes the page '
                    'to the network: do that deliberately.')
flags.DEFINE_integer('port', 0, 'The port to listen on (0: a free one, '
                     'printed at start).')
flags.DEFINE_float('max_upload_mb', studio_lib.DEFAULT_MAX_UPLOAD_BYTES / 2**20,
                   'The largest MIDI file the page takes, in MiB.')
flags.DEFINE_string('work_dir', None, 'Where the uploads and outputs go '
                    '(default: a temporary folder, removed at exit).')

FLAGS = flags.FLAGS


def _labels(paths):
  """{label: path}: each model by its folder's or file's name, numbered
  where two share one."""
  labels = {}
  for path in paths:
    stem = os.path.splitext(os.path.basename(os.path.normpath(path)))[0]
    label, n = stem, 2
    while label in labels:
      label, n = f'{stem}-{n}', n + 1
    labels[label] = path
  return labels


def main(argv):
  if len(argv) > 1:
    raise UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  if not FLAGS.run_dir and not FLAGS.bundle_file:
    raise UsageError('give --run_dir (a musicrnn run) or --bundle_file (an '
                     '.mrnn model file or a Magenta .mag bundle), or several')
  if FLAGS.max_upload_mb <= 0:
    raise UsageError(f'--max_upload_mb must be > 0, got {FLAGS.max_upload_mb}')
  for path in FLAGS.run_dir:
    if not os.path.isdir(path):
      raise UsageError(f'--run_dir={path} is not a folder')
  owned = FLAGS.work_dir is None
  work_dir = FLAGS.work_dir or tempfile.mkdtemp(prefix='musicrnn-studio-')
  try:
    runs = _labels(FLAGS.run_dir)
    for label, path in _labels(FLAGS.bundle_file).items():
      print(f'musicrnn studio: reading {path}', flush=True)
      runs[label if label not in runs else f'{label}-bundle'] = (
          generate.run_of_model_file(path, os.path.join(work_dir, 'models',
                                                         label)))
    studio = studio_lib.Studio(
        runs, work_dir, max_upload_bytes=int(FLAGS.max_upload_mb * 2**20))
    server = server_lib.make_server(studio, FLAGS.host, FLAGS.port)
    print(f'musicrnn studio: {len(runs)} model{"s" if len(runs) > 1 else ""} '
          f'({", ".join(runs)}) at {server.url}  (Ctrl-C stops it)', flush=True)
    if FLAGS.host not in ('127.0.0.1', 'localhost', '::1'):
      print(f'musicrnn studio: listening on {FLAGS.host}: other machines can '
            'use this page', flush=True)
    try:
      server.serve_forever()
    except KeyboardInterrupt:
      print('musicrnn studio: stopped', flush=True)
    finally:
      server.server_close()
      studio.close()
  finally:
    if owned:
      shutil.rmtree(work_dir, ignore_errors=True)


def run():
  cli.run(main)


if __name__ == '__main__':
  run()
