"""The console of a musicrnn program: its own lines and real warnings only.

Libraries write to the terminal in ways Python's logging cannot reach:
TensorFlow's C++ runtime logs its start-up (`cudart_stub`, `cuInit`,
`absl::InitializeLog`) straight to file descriptor 2 when it is imported,
and Beam's worker processes (`--direct_running_mode=multi_processing`)
inherit the terminal and print their own `INFO:` lines. So a program routes
descriptor 2, its children's included, through `StderrFilter`, which drops
those known lines and passes everything else; `--verbose` turns it off.

Importing this module changes nothing: a program calls `quiet` when it
starts, and `restore` puts the process back as it was (for a program run
in-process, by a test or a notebook).
"""

import atexit
import os
import re
import sys
import threading
import warnings

# Lines of library start-up and chatter, never musicrnn's own or a real
# problem. Matched against each line written to stderr.
_NOISE = re.compile('|'.join([
    # TensorFlow / XLA C++ logging before absl::InitializeLog, and its
    # start-up notes: no CUDA driver, no GPU, CPU features, oneDNN.
    r'^WARNING: All log messages before absl::InitializeLog\(\) is called',
    r'^I\d{4} [\d:.]+\s+\d+ \S+:\d+\]',
    r'^[WE]\d{4} [\d:.]+\s+\d+ (cudart_stub|cuda_platform|cuda_executor|'
    r'cuda_diagnostics|cpu_feature_guard|port)\.cc:\d+\]',
    r'^To enable the following instructions: .* rebuild TensorFlow',
    # On CPUs without AVX-512 (seen as an error line, though TensorFlow
    # only falls back to Eigen).
    r'^E\d{4} [\d:.]+\s+\d+ util\.cc:\d+\] oneDNN supports \S+ only on platforms',
    # Python logging of Beam's worker processes (logging's default format).
    r'^(INFO|DEBUG):',
    r'^WARNING:root:apitools not found',
    r'^WARNING:\S+:No semi_persistent_directory found',
    r'^WARNING:apache_beam\.options\.pipeline_options:Discarding unparseable args',
    # note-seq imports pydub, which warns (with its source line) that ffmpeg
    # is absent; musicrnn never asks pydub for audio.
    r"RuntimeWarning: Couldn't find ffmpeg or avconv",
    r"^\s+warn\(\"Couldn't find ffmpeg or avconv",
]))

# Written to the pipe by `drain`; when the pump reaches it, everything
# written before it has been passed on.
_DRAIN_MARKER = b'\x00musicrnn-stderr-drained\x00'

# The warning filter, for child processes (Beam workers, readers) too.
_PYDUB_WARNING = "ignore:Couldn't find ffmpeg or avconv:RuntimeWarning"


def is_noise(line):
  """True for a stderr line that only libraries' start-up or chatter makes."""
  return bool(_NOISE.search(line))


def _flush_stderr():
  try:
    sys.stderr.flush()
  except (OSError, ValueError):
    pass   # closed at exit


class StderrFilter:
  """Sends file descriptor 2 through a pipe; a thread passes on the lines
  that are not noise to the original stderr.

  Children started after `start` write to the same pipe. `stop` (also run
  at exit) puts the original descriptor back and passes on what is left.
  `drain` waits until what was written so far is passed on, so that a line
  printed to stdout next comes after it, as it was written.
  """

  def __init__(self):
    self._original = None        # the terminal's descriptor, which the pump writes
    self._running = False
    self._read_end = None
    self._thread = None
    self._drained = []          # threading.Events, one per drain waiting
    self._lock = threading.Lock()
    self._broken = False

  def start(self):
    sys.stderr.flush()
    self._original = os.dup(2)
    self._running = True
    self._read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    self._thread = threading.Thread(target=self._pump, daemon=True,
                                    name='musicrnn-stderr-filter')
    self._thread.start()
    atexit.register(self.stop)
    return self

  def _pump(self):
    pending = b''
    while True:
      try:
        chunk = os.read(self._read_end, 65536)
      except OSError:
        chunk = b''
      if not chunk:
        break
      pending += chunk
      *lines, pending = pending.split(b'\n')
      self._write(lines)
    if pending:
      self._write([pending])

  def _write(self, lines):
    out, reached = [], 0
    for line in lines:
      if _DRAIN_MARKER in line:
        reached += line.count(_DRAIN_MARKER)
        line = line.replace(_DRAIN_MARKER, b'')
        if not line:
          continue
      if not is_noise(line.decode('utf-8', 'replace')):
        out.append(line)
    self._flush(out)
    for _ in range(reached):
      with self._lock:
        waiter = self._drained.pop(0) if self._drained else None
      if waiter is not None:
        waiter.set()

  def _flush(self, out):
    if out and not self._broken:
      data = b'\n'.join(out) + b'\n'
      try:
        while data:
          data = data[os.write(self._original, data):]
      except OSError:
        # The terminal or pipe went away (`| head`, a dropped session): keep
        # reading, so that writers never block on a full pipe.
        self._broken = True

  def drain(self, timeout=1.0):
    """Waits (at most `timeout` seconds) until what this process wrote to
    stderr so far has been passed on."""
    if not self._running or self._broken:
      return
    _flush_stderr()
    done = threading.Event()
    with self._lock:
      self._drained.append(done)
    os.write(2, _DRAIN_MARKER + b'\n')
    done.wait(timeout)

  def stop(self):
    if not self._running:
      return
    self._running = False
    atexit.unregister(self.stop)   # a program run in-process stops it early
    _flush_stderr()
    # Closing our write end lets the pump see the end of the pipe (once any
    # child still holding it has exited).
    os.dup2(self._original, 2)
    self._thread.join(timeout=2.0)
    if not self._thread.is_alive():
      os.close(self._original)   # else a child still holds the pipe: leave it


class _DrainingStdout:
  """sys.stdout that first lets the stderr filter pass on what came before,
  so that stdout and stderr lines reach a terminal in the order written."""

  def __init__(self, stream, stderr_filter):
    self._stream = stream
    self._filter = stderr_filter

  def write(self, text):
    self._filter.drain()
    return self._stream.write(text)

  def __getattr__(self, name):
    return getattr(self._stream, name)


def verbose_requested(argv):
  """True when argv asks for --verbose (read before flags are parsed:
  TensorFlow's start-up lines come at import)."""
  return any(arg in ('--verbose', '--verbose=true', '--verbose=True', '--verbose=1')
             for arg in argv[1:])


class _Changes:
  """What `quiet` changed in this process, for `restore` to put back."""

  def __init__(self):
    self.environ = {}          # {name: (value before or None, value set)}
    self.stderr_filter = None
    self.stdout = None         # sys.stdout before `quiet` wrapped it
    self.wrapper = None        # the _DrainingStdout that replaced it
    self.warning_filters = None   # warnings.catch_warnings saving the filters

  def set_environ(self, name, value):
    self.environ[name] = (os.environ.get(name), value)
    os.environ[name] = value


_QUIETED = None   # a _Changes while a program's console is quiet


def quiet(argv):
  """Quiets library start-up lines and chatter for this program and the
  processes it starts, unless argv has --verbose; `restore` undoes it.

  A program calls this before it imports TensorFlow (`musicrnn.programs`,
  an entry point run as `python -m`), else `cli.run` does; importing a
  musicrnn module never does. It sets TF_CPP_MIN_LOG_LEVEL (unless set) and
  PYTHONWARNINGS, which TensorFlow and child processes read at their start,
  filters pydub's warning about ffmpeg in this process, routes descriptor 2
  through a `StderrFilter` and wraps sys.stdout to keep its lines in order
  with the filtered stderr.

  Returns:
    False, changing nothing, when the console is quiet already.
  """
  global _QUIETED
  if _QUIETED is not None:
    return False
  changes = _Changes()
  verbose = verbose_requested(argv)
  if 'TF_CPP_MIN_LOG_LEVEL' not in os.environ:
    changes.set_environ('TF_CPP_MIN_LOG_LEVEL', '0' if verbose else '2')
  if not verbose:
    warnings_env = os.environ.get('PYTHONWARNINGS')
    if _PYDUB_WARNING not in (warnings_env or ''):
      changes.set_environ('PYTHONWARNINGS',
                          ','.join(filter(None, [warnings_env, _PYDUB_WARNING])))
    # This process has read PYTHONWARNINGS already: note-seq imports pydub
    # for audio it never uses here, and pydub warns at import when ffmpeg is
    # absent, which says nothing about musicrnn's work.
    changes.warning_filters = warnings.catch_warnings()
    changes.warning_filters.__enter__()   # pylint: disable=unnecessary-dunder-call
    warnings.filterwarnings('ignore', message="Couldn't find ffmpeg or avconv",
                            category=RuntimeWarning)
    if sys.stderr is not None and sys.stdout is not None:
      changes.stderr_filter = StderrFilter().start()
      changes.stdout = sys.stdout
      changes.wrapper = _DrainingStdout(sys.stdout, changes.stderr_filter)
      sys.stdout = changes.wrapper
  _QUIETED = changes
  return True


def restore():
  """Passes on what is left of stderr, stops the filter and puts back
  sys.stdout and the environment variables `quiet` set (also before a
  program leaves with os._exit, which skips atexit) and the warning filters."""
  global _QUIETED
  changes, _QUIETED = _QUIETED, None
  if changes is None:
    return
  if changes.stderr_filter is not None:
    changes.stderr_filter.stop()
  if changes.warning_filters is not None:
    changes.warning_filters.__exit__(None, None, None)
  # Something that replaced sys.stdout since (a test's capture) keeps it.
  if sys.stdout is changes.wrapper:
    sys.stdout = changes.stdout
  for name, (before, value) in changes.environ.items():
    if os.environ.get(name) != value:
      continue   # the program set it since: its value stays
    if before is None:
      del os.environ[name]
    else:
      os.environ[name] = before
