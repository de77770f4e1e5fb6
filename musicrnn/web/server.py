"""The studio's HTTP server: the page, its assets and a JSON API over a
`studio.Studio`.

  server = make_server(studio, '127.0.0.1', 0)
  print(server.url)
  server.serve_forever()

  GET  /                      the page (static/index.html)
  GET  /static/<asset>        its script and style (only those shipped)
  GET  /api/models            the models and what each takes
  POST /api/upload            a MIDI file's bytes (X-Filename: its name)
  POST /api/generate          a JSON request (`Studio.generate`)
  GET  /api/progress?ticket=  the phase of a request in progress
  GET  /files/<id>.mid|.wav   a file the studio made (or was given)

A mistake is a 400 with {'error': sentence}; a failure of the code a 500
with {'error': sentence}, its traceback in the server's log; neither stops
the server. Each request runs on a thread of its own.
"""

import http.server
import json
import os
import socketserver
import urllib.parse

from absl import logging

from musicrnn.errors import UsageError
from musicrnn.errors import first_line

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'static')
# The assets the page loads: name -> content type. Nothing else is served
# from the package.
ASSETS = {'index.html': 'text/html; charset=utf-8',
          'studio.js': 'text/javascript; charset=utf-8',
          'studio.css': 'text/css; charset=utf-8'}
CONTENT_TYPES = {'mid': 'audio/midi', 'wav': 'audio/wav'}
# A JSON request body, at most.
MAX_JSON_BYTES = 1024 * 1024
# Of a body over its limit, read this much before answering.
_DRAIN_BYTES = 64 * 1024 * 1024


class StudioServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
  """A threading HTTP server holding the studio it serves."""

  daemon_threads = True
  allow_reuse_address = True

  def __init__(self, studio, address):
    self.studio = studio
    super().__init__(address, _Handler)
    host, port = self.server_address[:2]
    # On this machine only, the page answers only to this machine's names
    # for it: another site's page cannot reach it by DNS rebinding.
    self.allowed_hosts = (
        {f'{name}:{port}' for name in ('127.0.0.1', 'localhost', '[::1]')}
        if host in ('127.0.0.1', '::1', 'localhost') else None)

  @property
  def url(self):
    host, port = self.server_address[:2]
    return f'http://{host}:{port}/'


def make_server(studio, host='127.0.0.1', port=0):
  """A `StudioServer` of `studio` bound to host:port (port 0: a free one);
  call `serve_forever()`.

  Raises:
    UsageError: the address cannot be bound (in use, not this machine's).
  """
  try:
    return StudioServer(studio, (host, port))
  except OSError as e:
    raise UsageError(f'cannot listen on {host}:{port}: {e.strerror or e}') from e


class _Handler(http.server.BaseHTTPRequestHandler):
  server_version = 'musicrnn-studio'
  protocol_version = 'HTTP/1.1'

  def log_message(self, format, *args):  # pylint: disable=redefined-builtin
    logging.debug('studio: ' + format, *args)

  # ------------------------------------------------------------ responses

  def _send(self, status, body, content_type, headers=()):
    # Every header is built before the status line goes out.
    headers = [(str(name), str(value).encode('latin-1', 'replace').decode(
        'latin-1')) for name, value in headers]
    self.send_response(status)
    self.send_header('Content-Type', content_type)
    self.send_header('Content-Length', str(len(body)))
    self.send_header('Cache-Control', 'no-store')
    # The page runs only its own script, and talks only to this server.
    self.send_header('Content-Security-Policy',
                     "default-src 'self'; media-src 'self' blob:; "
                     "img-src 'self' data:")
    self.send_header('X-Content-Type-Options', 'nosniff')
    for name, value in headers:
      self.send_header(name, value)
    self.end_headers()
    if self.command != 'HEAD':
      self.wfile.write(body)

  def _json(self, status, value):
    self._send(status, json.dumps(value).encode(), 'application/json')

  def _error(self, status, sentence):
    self._json(status, {'error': sentence})

  def _guarded(self, work):
    allowed = self.server.allowed_hosts
    if allowed is not None and self.headers.get('Host') not in allowed:
      return self._error(403, 'the studio answers only to pages it served '
                              '(http://127.0.0.1:PORT/)')
    try:
      work()
    except UsageError as e:
      self._error(400, str(e))
    except (BrokenPipeError, ConnectionResetError):
      pass
    except Exception as e:  # pylint: disable=broad-except
      logging.exception('studio: %s %s failed', self.command, self.path)
      self._error(500, f'the studio failed on this request '
                       f'({type(e).__name__}: {first_line(e)}); the server '
                       'log has the details')

  # -------------------------------------------------------------- routes

  def do_GET(self):  # pylint: disable=invalid-name
    self._guarded(self._get)

  def do_HEAD(self):  # pylint: disable=invalid-name
    self._guarded(self._get)

  def do_POST(self):  # pylint: disable=invalid-name
    self._guarded(self._post)

  def _get(self):
    url = urllib.parse.urlsplit(self.path)
    path = url.path
    studio = self.server.studio
    if path in ('/', '/index.html'):
      return self._asset('index.html')
    if path.startswith('/static/'):
      return self._asset(path[len('/static/'):])
    if path == '/api/models':
      return self._json(200, {'models': studio.models_list(),
                              'max_upload_bytes': studio.max_upload_bytes})
    if path == '/api/progress':
      ticket = urllib.parse.parse_qs(url.query).get('ticket', [''])[0]
      return self._json(200, {'progress': studio.progress(ticket)})
    if path.startswith('/files/'):
      return self._file(path[len('/files/'):])
    return self._error(404, f'nothing here at {path}')

  def _asset(self, name):
    if name not in ASSETS:
      return self._error(404, f'no asset {name}')
    with open(os.path.join(STATIC, name), 'rb') as f:
      self._send(200, f.read(), ASSETS[name])

  def _file(self, name):
    item_id, _, extension = name.partition('.')
    path, filename = self.server.studio.file_path(item_id, extension)
    if path is None:
      return self._error(404, 'no such file here: the studio serves only '
                              'the files it made')
    with open(path, 'rb') as f:
      body = f.read()
    self._send(200, body, CONTENT_TYPES[extension], [
        ('Content-Disposition', _attachment(filename))])

  def _body(self, limit):
    try:
      length = int(self.headers.get('Content-Length', ''))
    except ValueError:
      raise UsageError('the request has no Content-Length') from None
    if length > limit:
      # Read (some of) it, so that the page gets the answer, not a reset;
      # the connection closes after the answer.
      self.close_connection = True
      self.rfile.read(min(length, _DRAIN_BYTES))
      raise UsageError(f'the file is {length / 1e6:.1f} MB; the studio takes '
                       f'files up to {limit / 1e6:.1f} MB')
    return self.rfile.read(length)

  def _post(self):
    path = urllib.parse.urlsplit(self.path).path
    studio = self.server.studio
    if path == '/api/upload':
      name = urllib.parse.unquote(self.headers.get('X-Filename', ''))
      data = self._body(studio.max_upload_bytes)
      return self._json(200, studio.upload(data, name))
    if path == '/api/generate':
      if not self.headers.get('Content-Type', '').startswith(
          'application/json'):
        raise UsageError('a generation request is JSON (Content-Type: '
                         'application/json)')
      try:
        request = json.loads(self._body(MAX_JSON_BYTES) or b'null')
      except ValueError as e:
        raise UsageError(f'the request is not JSON: {e}') from e
      return self._json(200, studio.generate(request))
    return self._error(404, f'nothing to post to at {path}')


def _attachment(filename):
  """A Content-Disposition for a download: an ASCII name, and the name
  itself (RFC 6266) where it is not ASCII."""
  ascii_name = ''.join(c if 32 <= ord(c) < 127 and c not in '"\\' else '_'
                       for c in filename)
  if ascii_name == filename:
    return f'attachment; filename="{filename}"'
  return (f'attachment; filename="{ascii_name}"; '
          f"filename*=UTF-8''{urllib.parse.quote(filename)}")
