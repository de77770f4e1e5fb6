"""What every musicrnn entry point shares: flag parsing, logging, errors.

Entry points (`musicrnn/convert.py`, ...) define their flags and call
`run(main)` or `run(main, beam=True)`:
- with `beam=True`, args that are not the program's own flags are handed to
  `main` for Beam (`--runner`, `--direct_num_workers`, Dataflow options, ...);
- console logging is set to INFO for musicrnn and WARNING for Beam and
  TensorFlow internals, and the start-up lines of TensorFlow's C++ runtime
  and Beam's worker processes are dropped (`musicrnn.console`), unless
  `--verbose` is given; a console script (`musicrnn.programs`) or an entry
  point run as `python -m` quiets the console before its imports load
  TensorFlow, else `run` quiets it for the run only;
- a `UsageError` (or a flag error) is printed as one line, without a
  traceback, and the program exits with status 2.
"""

import logging
import os
import sys

from absl import app
from absl import flags

from musicrnn import console
from musicrnn.errors import OutOfMemoryError
from musicrnn.errors import UsageError

flags.DEFINE_bool('verbose', False,
                  'Also show what libraries log (Beam, TensorFlow, TFDS) and '
                  'TensorFlow\'s C++ start-up lines.')

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class _QuietLibraries(logging.Filter):
  """Drops library chatter below WARNING; keeps musicrnn's own lines.

  A line is musicrnn's when it was logged from a file of this package
  (TensorFlow and TFDS log through absl, so the logger name cannot tell).
  In Beam's multi-processing mode each worker process prints its own log to
  the same terminal, and Beam's job service relays a second copy of every
  worker line to the driver's logger: the relayed copies are dropped.
  """

  def __init__(self):
    super().__init__()
    self._main_file = os.path.abspath(sys.argv[0]) if sys.argv else ''

  def filter(self, record):
    if record.name.endswith('local_job_service') and record.levelno < logging.ERROR:
      return False
    if record.levelno >= logging.WARNING:
      return True
    path = record.pathname or ''
    return path.startswith(_PACKAGE_DIR) or path == self._main_file


def quiet_when_run(module_name):
  """Quiets the console now when `module_name` (an entry point's
  `__name__`) is '__main__', the entry point run as `python -m
  musicrnn.<name>`: TensorFlow and Beam log while they are imported, so this
  comes before the entry point's own imports. A console script is quieted
  by `musicrnn.programs`, a `main` called from Python by `run`; importing an
  entry point changes nothing."""
  if module_name == '__main__':
    console.quiet(sys.argv)


def _configure_logging(verbose):
  handler = logging.StreamHandler(sys.stderr)
  handler.setFormatter(logging.Formatter('%(asctime)s %(message)s', '%H:%M:%S'))
  if not verbose:
    handler.addFilter(_QuietLibraries())
  root = logging.getLogger()
  root.handlers[:] = [handler]
  root.setLevel(logging.INFO)
  # TensorFlow's own Python logger prints INFO lines through a handler of
  # its own (per-step collective all-reduce notes under multi-worker).
  logging.getLogger('tensorflow').setLevel(logging.WARNING)


def _program_name():
  return sys.argv[0].rsplit('/', 1)[-1] if sys.argv else 'musicrnn'


def usage_exit(message):
  """Prints one line `<program>: error: <message>` and exits with status 2."""
  print(f'{_program_name()}: error: {message}', file=sys.stderr)
  sys.exit(2)


def run(main, beam=False, aliases=None):
  """Runs an absl `main(argv)`.

  Args:
    main: the entry point's main; receives the unparsed args (Beam options)
      when `beam` is True, else the positional args.
    beam: pass unknown flags through to `main` instead of refusing them.
    aliases: {flag another binary uses: this binary's flag for the same
      thing}, suggested when the other name is given.

  Dotted config overrides (`--config.train.batch_size=32`) are taken out of
  the args before parsing; `config_overrides()` returns them during the run.
  """
  global _CONFIG_OVERRIDES

  def parse(argv):
    global _CONFIG_OVERRIDES
    argv, _CONFIG_OVERRIDES = _take_config_overrides(argv)
    try:
      if beam:
        return flags.FLAGS(argv, known_only=True)
      return flags.FLAGS(argv)
    except flags.UnrecognizedFlagError as e:
      if e.flagname in (aliases or {}):
        usage_exit(f'unknown flag --{e.flagname}; this program calls it '
                   f'--{aliases[e.flagname]}')
      usage_exit(str(e))
    except flags.Error as e:
      usage_exit(str(e))

  def wrapped(argv):
    _configure_logging(flags.FLAGS.verbose)
    try:
      return main(argv)
    except OutOfMemoryError as e:
      print(f'{_program_name()}: error: {e}', file=sys.stderr)
      sys.stdout.flush()
      console.restore()
      os._exit(2)  # pylint: disable=protected-access
    except UsageError as e:
      usage_exit(str(e))

  # False when a launcher quieted the console already: it stays quiet until
  # the process exits.
  quieted_here = console.quiet(sys.argv)
  try:
    app.run(wrapped, flags_parser=parse)
  finally:
    # Another run in this process (a test's) starts from no overrides, with
    # sys.stdout and the environment as they were.
    _CONFIG_OVERRIDES = {}
    if quieted_here:
      console.restore()


def own_flag_names(module_name):
  """Names of the flags an entry-point module defined."""
  return [f.name for f in flags.FLAGS.get_flags_for_module(module_name)]


# The running program's overrides: set by each parse, emptied when its run ends.
_CONFIG_OVERRIDES = {}


def config_overrides():
  """The dotted `--config.a.b=value` args of the running program's command
  line: {'a.b': 'value'} (values as strings)."""
  return dict(_CONFIG_OVERRIDES)


def _take_config_overrides(argv):
  """(argv without its `--config.path=value` args, {path: value} of them)."""
  rest, overrides = [argv[0]], {}
  for arg in argv[1:]:
    if arg.startswith('--config.'):
      if '=' not in arg:
        usage_exit(f'{arg} needs a value: --config.path=value')
      key, value = arg[len('--config.'):].split('=', 1)
      overrides[key] = value
    else:
      rest.append(arg)
  return rest, overrides


def require(*names):
  """Raises UsageError naming the first required flag that was not given."""
  for name in names:
    if flags.FLAGS[name].value in (None, ''):
      raise UsageError(f'--{name} is required ({flags.FLAGS[name].help})')
