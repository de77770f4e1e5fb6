"""Reading music files in a child process with a time and a memory limit.

note-seq's parsers (mido and pretty_midi for MIDI, its own MusicXML and ABC
code) are pure Python: a hostile file can make them run for hours (a delta
time of a million 0xFF bytes is a number mido builds 7 bits at a time, in
quadratic time) or allocate gigabytes (pretty_midi's tick-to-time table).
`signal.alarm` cannot stop them (Beam calls DoFns outside the main thread)
and a MemoryError in a shared worker is no good either, so `IsolatedReader`
keeps one long-lived child process that reads the files, one at a time:

    parent (Beam DoFn)                    child (python -m ...isolation_child)
      read(data, path) ── JSON(path, limits, digest) + bytes ──▶ RLIMIT_AS set
                       ◀── JSON(failures or error fields)  ──    once at start;
                           + serialized NoteSequences            read_music_bytes

The parent waits at most `limits.max_seconds_per_file` for the answer; past
it, it kills the child and the file fails as `timeout`. The child sets
RLIMIT_AS to its footprint after start-up plus `max_memory_per_file_mb`, so
an allocation over it raises MemoryError there (reason `out_of_memory`); a
child that dies (a segfault, the kernel's OOM killer) fails the file as
`reader_crashed`. The next file gets a fresh child after a timeout or a
crash, and after a file that left the child holding more than half its
memory allowance (a MemoryError alone usually frees everything). Starting a
child costs under a second (note-seq's parsers, not its notebook helpers:
`isolation_child`); reusing it, a pipe per file
(benchmarks/fuzz_benchmark.py measures the overhead). Messages are a JSON
header and raw bytes, never pickles: the parent must not run anything a
child that parsed a hostile file might send.

The child is a plain `python -m musicrnn.pipelines.isolation_child` subprocess,
not a multiprocessing one: 'spawn' would re-import the parent's `__main__`
(Beam, TensorFlow, a CLI's flags) and 'fork' is unsafe with the threads a
Beam worker runs.
"""

import collections
import dataclasses
import json
import os
import select
import signal
import struct
import subprocess
import sys
import time
import warnings
import weakref

from note_seq.protobuf import music_pb2

from musicrnn.pipelines import readers

# Seconds the child may take to start (it imports note-seq's parsers: under
# a second, more on a loaded machine). A child that cannot start is an
# environment error.
_START_TIMEOUT_SECONDS = 120.0
_HEADER = struct.Struct('>Q')
_READY = b'ready'
# The package's parent folder, so that the child imports this very copy of
# musicrnn (a source checkout, a Bazel runfiles tree) whatever its cwd.
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


class ReaderStartError(RuntimeError):
  """The child process could not be started: an environment error, not a
  file's fault, so callers let it stop the run."""


class _Timeout(Exception):
  pass


class IsolatedReader:
  """`readers.read_music_bytes` in a child process under time/memory limits.

  Not thread-safe: one reader per DoFn instance (or per thread). The child
  starts on the first `read` and is stopped by `close()` (or when the reader
  is garbage-collected, or at interpreter exit). With
  `limits.isolated` False (both per-file limits 0) it reads in-process.

  Attributes:
    limits: the readers.ReadLimits applied to every file.
    restarts: children started after the first (timeouts, crashes, memory).
    counts: a collections.Counter of what the readers counted (MIDI files
      the symusic reader left to note-seq's, by reason), over every file.
  """

  def __init__(self, limits=readers.ReadLimits()):
    self.limits = limits
    self.restarts = 0
    self.counts = collections.Counter()
    self._process = None
    self._finalizer = None
    self._started_once = False

  def read(self, data, path, digest=None):
    """Parses one file's bytes, like `readers.read_music_bytes`.

    Args:
      data: the file's bytes.
      path: the file's path (for its extension and messages).
      digest: `readers.content_hash(data)`, when the caller has it.

    Returns:
      (sequences, failures), as `readers.read_music_bytes`.

    Raises:
      readers.ConversionError: the file cannot be used; besides the reasons
        of `read_music_bytes`, `timeout`, `out_of_memory`, `reader_crashed`.
      ReaderStartError: the child process could not be started.
    """
    if not self.limits.isolated:
      return readers.read_music_bytes(data, path, self.limits, digest=digest,
                                      counts=self.counts)
    readers.check_size(data, self.limits)   # no need to ship 1 GB to refuse it
    if self._process is not None and self._process.poll() is not None:
      self._stop()   # died between files (e.g. the OOM killer): not this one's fault.
    self._start()
    request = _pack({'path': path, 'digest': digest,
                     'limits': dataclasses.asdict(self.limits)}, [data])
    seconds = self.limits.max_seconds_per_file
    try:
      # The deadline covers the transfer too: a 64 MB file goes in ~0.1 s.
      deadline = time.monotonic() + seconds if seconds else None
      self._send(request)
      reply, blobs = _unpack(self._receive(deadline))
    except _Timeout:
      self._stop()
      raise readers.ConversionError(
          readers.REASON_TIMEOUT,
          f'reading took longer than {seconds:g} s (max_seconds_per_file); '
          'the reader was stopped', 'TimeoutError') from None
    except (EOFError, OSError, ValueError, KeyError, struct.error) as e:
      # A dead child, or one whose answer is not a valid message.
      status = self._stop()
      raise readers.ConversionError(
          readers.REASON_READER_CRASHED,
          f'the reader process died while reading this file '
          f'({_describe_status(status)})', type(e).__name__) from None
    if reply.get('retiring'):
      # The child kept too much memory after this file (see child_main);
      # the next file gets a fresh one.
      self._stop()
    if reply.get('kind') == 'ok':
      self.counts.update(reply.get('counts', {}))
      return ([music_pb2.NoteSequence.FromString(b) for b in blobs],
              [readers.ConversionError(*f) for f in reply['failures']])
    error = readers.ConversionError(*reply['error'])
    if (error.reason == readers.REASON_OUT_OF_MEMORY
        and self.limits.max_memory_per_file_mb):
      error.args = (f'{error} (over max_memory_per_file_mb='
                    f'{self.limits.max_memory_per_file_mb} MiB)',)
    raise error

  def close(self):
    """Stops the child process, if any. The reader may be used again."""
    self._stop()

  def __enter__(self):
    return self

  def __exit__(self, *exc_info):
    self.close()

  @property
  def pid(self):
    """The child's process id, or None when none is running."""
    return self._process.pid if self._process is not None else None

  def _start(self):
    if self._process is not None:
      return
    memory_mb = self.limits.max_memory_per_file_mb
    process, finalizer = _SPARES.pop(memory_mb, (None, None))
    if process is not None:
      finalizer.detach()
      if process.poll() is not None:   # died waiting: start another
        _kill(process)
        process = None
    if process is None:
      process = _spawn(memory_mb)
    self._process = process
    self._finalizer = weakref.finalize(self, _kill, process)
    try:
      ready = self._receive(time.monotonic() + _START_TIMEOUT_SECONDS)
    except (_Timeout, EOFError, OSError):
      status = self._stop()
      raise ReaderStartError(
          'the isolated music reader did not start '
          f'({_describe_status(status)}); see its error output above') from None
    if ready != _READY:
      self._stop()
      raise ReaderStartError(
          f'the isolated music reader said {ready[:100]!r}')
    if self._started_once:
      self.restarts += 1
    self._started_once = True

  def _stop(self):
    """Kills the child; returns its exit status (None if there was none)."""
    process, self._process = self._process, None
    if self._finalizer is not None:
      self._finalizer.detach()
      self._finalizer = None
    if process is None:
      return None
    return _kill(process)

  def _send(self, payload):
    stdin = self._process.stdin
    stdin.write(_HEADER.pack(len(payload)))
    stdin.write(payload)
    stdin.flush()

  def _receive(self, deadline):
    (size,) = _HEADER.unpack(self._read_exactly(_HEADER.size, deadline))
    return self._read_exactly(size, deadline)

  def _read_exactly(self, size, deadline):
    fd = self._process.stdout.fileno()
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    chunks = []
    while size:
      if deadline is None:
        timeout_ms = None
      else:
        timeout_ms = max(0, int((deadline - time.monotonic()) * 1000))
      if not poller.poll(timeout_ms):
        raise _Timeout()
      chunk = os.read(fd, min(size, 1 << 20))
      if not chunk:
        raise EOFError('the reader process closed its output')
      chunks.append(chunk)
      size -= len(chunk)
    return b''.join(chunks)


# {max_memory_per_file_mb: (child process, its finalizer)}: children
# started ahead (`start_ahead`) for the next reader of this process.
_SPARES = {}


def _spawn(memory_mb):
  """A new child process (not yet known to be ready)."""
  env = dict(os.environ)
  env['PYTHONPATH'] = os.pathsep.join(
      p for p in (_PACKAGE_ROOT, env.get('PYTHONPATH')) if p)
  # One thread for numpy: RLIMIT_AS counts every thread's stack and arena.
  for name in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    env[name] = '1'
  return subprocess.Popen(
      [sys.executable, '-m', 'musicrnn.pipelines.isolation_child', str(memory_mb)],
      stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)


def start_ahead(limits):
  """Starts a child for `limits` now, without waiting for it: the next
  `IsolatedReader` of this process with the same memory limit takes it, so
  that its first file does not wait for the child's imports (musicrnn_convert
  calls this before Beam builds its pipeline, which the child's start-up
  then overlaps). A child no reader takes is stopped at exit."""
  if not limits.isolated or limits.max_memory_per_file_mb in _SPARES:
    return
  process = _spawn(limits.max_memory_per_file_mb)
  _SPARES[limits.max_memory_per_file_mb] = (
      process, weakref.finalize(process, _kill, process))


def _kill(process):
  """Kills a child and reaps it; returns its exit status.

  A child that had already died keeps the status it died with.
  """
  for pipe in (process.stdin, process.stdout):
    try:
      pipe.close()
    except OSError:
      pass
  if process.poll() is None:
    process.kill()
  return process.wait()


def _describe_status(status):
  if status is None:
    return 'no exit status'
  if status < 0:
    try:
      name = signal.Signals(-status).name
    except ValueError:
      name = f'signal {-status}'
    hint = ' (the kernel\'s OOM killer sends it)' if -status == signal.SIGKILL else ''
    return f'killed by {name}{hint}'
  return f'exit status {status}'


# The child side.


def _footprint():
  """This process's address space size in bytes (0 without /proc)."""
  try:
    with open('/proc/self/statm') as f:
      return int(f.read().split()[0]) * os.sysconf('SC_PAGE_SIZE')
  except OSError:
    return 0


def _set_memory_limit(memory_mb):
  """Caps the address space at the current size plus `memory_mb` MiB."""
  import resource  # pylint: disable=import-outside-toplevel
  limit = _footprint() + memory_mb * 1024 * 1024
  _, hard = resource.getrlimit(resource.RLIMIT_AS)
  if hard != resource.RLIM_INFINITY:
    limit = min(limit, hard)
  resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _set_cpu_backstop(seconds):
  """Lets the kernel end this process (SIGXCPU) if it outlives its parent.

  The parent stops a file after `seconds` of wall time, which is never less
  than this single-threaded process's CPU time; the CPU limit, well past
  that, only fires when no parent is left to do so.
  """
  import resource  # pylint: disable=import-outside-toplevel
  usage = resource.getrusage(resource.RUSAGE_SELF)
  _, hard = resource.getrlimit(resource.RLIMIT_CPU)
  soft = int(usage.ru_utime + usage.ru_stime + 2 * seconds + 10)
  if hard != resource.RLIM_INFINITY:
    soft = min(soft, hard)
  resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _pack(header, blobs=()):
  """A message: the length of a JSON header, the header, raw byte blobs
  (their sizes in the header)."""
  head = json.dumps(dict(header, blob_sizes=[len(b) for b in blobs])).encode('utf-8')
  return b''.join([_HEADER.pack(len(head)), head, *blobs])


def _unpack(message):
  """(header dict, [blobs]) of a `_pack` message; ValueError when malformed."""
  (size,) = _HEADER.unpack_from(message)
  offset = _HEADER.size + size
  header = json.loads(message[_HEADER.size:offset].decode('utf-8'))
  blobs = []
  for blob_size in header.pop('blob_sizes'):
    blobs.append(message[offset:offset + blob_size])
    offset += blob_size
  if offset != len(message) or not isinstance(header, dict):
    raise ValueError('malformed message')
  return header, blobs


def _child_read(request):
  """One request's reply: ('ok', (blobs, failures)) or ('error', fields)."""
  header, (data,) = _unpack(request)
  del request
  path, digest = header['path'], header['digest']
  limits = readers.ReadLimits(**header['limits'])
  if limits.max_seconds_per_file:
    _set_cpu_backstop(limits.max_seconds_per_file)
  try:
    counts = collections.Counter()
    sequences, failures = readers.read_music_bytes(data, path, limits, digest,
                                                   counts)
    return ('ok', ([s.SerializeToString() for s in sequences],
                   [_fields(f) for f in failures], dict(counts)))
  except readers.ConversionError as e:
    return ('error', _fields(e))
  except MemoryError:
    return ('error', (readers.REASON_OUT_OF_MEMORY,
                      'out of memory while reading', 'MemoryError'))
  except Exception as e:  # pylint: disable=broad-except
    return ('error', (readers.REASON_UNEXPECTED_ERROR,
                      f'{type(e).__name__}: {e}', type(e).__name__))


def _fields(error):
  return (error.reason, str(error), error.exception_type)


def child_main(memory_mb):
  """The child's loop (`isolation_child` runs it): reads requests from stdin
  and answers each on stdout until the parent closes the pipe."""
  # The protocol owns the real stdout; stray prints of a parser go to stderr.
  out = os.fdopen(os.dup(1), 'wb')
  os.dup2(2, 1)
  # pretty_midi warns about every odd file (tempo events on other tracks,
  # ...), and each new child would print them again: a file's fate is its
  # dead letter, not a warning in the log.
  warnings.simplefilter('ignore')
  source = sys.stdin.buffer
  if memory_mb:
    _set_memory_limit(memory_mb)
  # Past this footprint after a file (memory its parse left allocated or
  # fragmented: half the allowance) the child asks to be replaced.
  retire_above = _footprint() + memory_mb * 1024 * 1024 // 2 if memory_mb else 0

  def send(payload):
    out.write(_HEADER.pack(len(payload)))
    out.write(payload)
    out.flush()

  send(_READY)
  while True:
    header = source.read(_HEADER.size)
    if len(header) < _HEADER.size:
      return   # the parent closed the pipe: done
    (size,) = _HEADER.unpack(header)
    try:
      kind, payload = _child_read(source.read(size))
      retiring = bool(retire_above) and _footprint() > retire_above
      if kind == 'ok':
        blobs, failures, counts = payload
        reply = _pack({'kind': kind, 'failures': failures, 'counts': counts,
                       'retiring': retiring}, blobs)
      else:
        reply = _pack({'kind': kind, 'error': payload, 'retiring': retiring})
    except MemoryError:
      # The request itself did not fit (it may be unread: retire).
      reply = _pack({'kind': 'error', 'error': (readers.REASON_OUT_OF_MEMORY,
                                                'out of memory while reading',
                                                'MemoryError'),
                     'retiring': True})
    send(reply)

