"""musicrnn_studio: the studio's JSON API in this process, the page in a real
Chromium (Debian's, driven by Selenium), and the program as a process.

The page tests skip where Chromium, its driver or Selenium are missing
(`.ci/run` installs them). With MUSICRNN_STUDIO_SCREENSHOTS=DIR the browser
test writes a screenshot of each state there.
"""

import concurrent.futures
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import note_seq
from note_seq.protobuf import music_pb2
import pytest

from musicrnn.generation import render
from musicrnn.web import server as server_lib
from musicrnn.web import studio as studio_lib
import testing_lib

PERFORMANCE = 'performance'
VAE = 'melody_vae'


@pytest.fixture(scope='module')
def server(tiny_runs, music_vae_run, tmp_path_factory):
  """A studio of a tiny conditioned Performance RNN and a tiny MusicVAE,
  served on a free port of 127.0.0.1 from a thread of this process."""
  studio = studio_lib.Studio(
      {PERFORMANCE: tiny_runs['multiconditioned_performance_with_dynamics_tiny'],
       VAE: music_vae_run[0]},
      str(tmp_path_factory.mktemp('studio')), max_upload_bytes=200_000)
  served = server_lib.make_server(studio)
  thread = threading.Thread(target=served.serve_forever, daemon=True)
  thread.start()
  yield served
  served.shutdown()
  served.server_close()
  studio.close()


def _call(server, path, body=None, headers=None):
  """(status, JSON answer) of a request to the server."""
  headers = dict(headers or {})
  data = body
  if body is not None and not isinstance(body, bytes):
    data = json.dumps(body).encode()
    headers.setdefault('Content-Type', 'application/json')
  request = urllib.request.Request(server.url.rstrip('/') + path, data=data,
                                   headers=headers)
  try:
    with urllib.request.urlopen(request, timeout=300) as response:
      return response.status, json.loads(response.read())
  except urllib.error.HTTPError as e:
    return e.code, json.loads(e.read())


def _upload(server, path, name=None):
  return _call(server, '/api/upload', open(path, 'rb').read(),
               {'X-Filename': name or os.path.basename(path)})


def _melody_midi(path, shift=0):
  """A 2-bar 4/4 melody of quarter notes at 120 qpm, as MIDI."""
  sequence = music_pb2.NoteSequence(ticks_per_quarter=220)
  sequence.tempos.add(qpm=120)
  sequence.time_signatures.add(numerator=4, denominator=4)
  testing_lib.add_notes(sequence, 0, 0, range(2),
                        testing_lib.TRIO_MELODY[shift:])
  return render.write_midi(sequence, path)


def test_each_model_offers_what_its_task_takes(server):
  status, answer = _call(server, '/api/models')
  assert status == 200
  models = {m['id']: m for m in answer['models']}
  assert list(models) == [PERFORMANCE, VAE]
  performance, vae = models[PERFORMANCE], models[VAE]
  names = {f['name'] for f in performance['fields']}
  # Its two controls, with their units in the help; sampling and the beam.
  assert {'temperature', 'top_p', 'top_k', 'beam_size', 'notes_per_second',
          'pitch_class_histogram', 'max_note_duration', 'state_masks',
          'mask_renormalisation'} <= names
  masks = next(f for f in performance['fields'] if f['name'] == 'state_masks')
  assert (masks['kind'], masks['default']) == ('bool', True)
  density = next(f for f in performance['fields']
                 if f['name'] == 'notes_per_second')
  assert 'notes per second' in density['help']
  assert not {'backing_chords', 'num_bars', 'qpm'} & names
  assert performance['actions'] == ['continue', 'generate']
  assert performance['length_units'] == ['seconds', 'steps']
  assert vae['actions'] == ['generate', 'interpolate']
  assert vae['length_units'] == ['bars', 'steps']
  assert {f['name'] for f in vae['fields']} == {'temperature', 'qpm'}


def test_mistakes_are_sentences_and_the_server_lives_on(server, tmp_path):
  broken = testing_lib.testdata('broken', 'test-not-a-midi-file.mid')
  status, answer = _upload(server, broken)
  assert status == 400 and answer['error'].startswith(
      'test-not-a-midi-file.mid could not be read:')
  status, answer = _call(server, '/api/upload', b'hello', {'X-Filename': 'a.txt'})
  assert (status, answer['error']) == (400, 'a.txt is not a MIDI file (.mid '
                                       'or .midi; MusicXML and ABC are read too)')
  status, answer = _call(server, '/api/upload', b'0' * 300_000,
                         {'X-Filename': 'big.mid'})
  assert status == 400 and 'up to 0.2 MB' in answer['error']
  for request, sentence in [
      ({'model': VAE, 'options': {'top_p': 0.5}},
       f'{VAE} (music_vae) does not take top_p; it takes qpm, temperature'),
      ({'model': PERFORMANCE, 'options': {'temperature': 'warm'}},
       "Temperature is a number, not 'warm'"),
      ({'model': PERFORMANCE, 'options': {'state_masks': 'yes'}},
       "State masks is on or off (true or false), not 'yes'"),
      ({'model': PERFORMANCE, 'options': {'notes_per_second': '[1, 2]'}},
       '--notes_per_second=[1, 2] is not a number'),
      ({'model': PERFORMANCE, 'action': 'continue', 'primer': {}},
       'choose a primer: upload a MIDI file, play notes on the keyboard, or '
       'continue an output'),
      ({'model': VAE, 'action': 'continue'},
       f'{VAE} (music_vae) does not continue a primer: generate from '
       'nothing instead'),
      ({'model': PERFORMANCE, 'action': 'interpolate'},
       f'{PERFORMANCE} (event_lstm) has no latent space to interpolate in; '
       'MusicVAE models do'),
      ({'model': PERFORMANCE, 'length': {'unit': 'bars', 'value': 4}},
       f"{PERFORMANCE} counts its length in seconds or steps, not 'bars'"),
      ({'model': 'nope'}, "there is no model 'nope' here; the models are "
       f'{PERFORMANCE}, {VAE}')]:
    status, answer = _call(server, '/api/generate', request)
    assert (status, answer['error']) == (400, sentence)
  status, answer = _call(server, '/api/generate', b'{not json',
                         {'Content-Type': 'application/json'})
  assert status == 400 and answer['error'].startswith('the request is not JSON')
  for request, sentence in [
      ({'model': PERFORMANCE, 'length': [1]}, 'the length is not a JSON object'),
      ({'model': PERFORMANCE, 'seed': '1e999'},
       'the seed must be a whole number from 0 to 2147483647, not 1e999'),
      ({'model': ['x']}, "there is no model ['x'] here; the models are "
       f'{PERFORMANCE}, {VAE}')]:
    status, answer = _call(server, '/api/generate', request)
    assert (status, answer['error']) == (400, sentence)
  # A cross-site form cannot post one (not JSON), nor another site's page
  # by another name for this machine (DNS rebinding).
  status, answer = _call(server, '/api/generate', b'{}',
                         {'Content-Type': 'text/plain'})
  assert status == 400 and 'is JSON' in answer['error']
  status, answer = _call(server, '/api/models', None,
                         {'Host': 'evil.example:80'})
  assert status == 403
  # Only the page's assets and the files the studio made are served.
  for path in ('/files/0123456789abcdef.mid', '/static/../studio.py',
               '/static/server.py', '/etc/passwd'):
    status, answer = _call(server, path)
    assert status == 404, path
  # And the next request works.
  status, answer = _call(server, '/api/generate', {
      'model': PERFORMANCE, 'length': {'unit': 'steps', 'value': 30},
      'seed': 1})
  assert status == 200 and len(answer['outputs']) == 1


def test_a_download_keeps_a_name_that_is_not_ascii(server, tmp_path):
  path = _melody_midi(str(tmp_path / 'x.mid'))
  status, answer = _upload(server, path, name=urllib.parse.quote(
      'Satie – Gymnopédie.mid'))
  assert status == 200, answer
  with urllib.request.urlopen(server.url + answer['midi_url'][1:]) as r:
    disposition = r.headers['Content-Disposition']
    assert note_seq.midi_to_note_sequence(r.read()).notes
  assert disposition == ('attachment; filename="Satie _ Gymnop_die.mid"; '
                         "filename*=UTF-8''Satie%20%E2%80%93%20Gymnop%C3%A9die.mid")


def test_two_tabs_at_once_keep_their_own_outputs(server):
  """Requests at the same time on both models: each gets its own files;
  the same seed gives the same music."""
  requests = [{'model': PERFORMANCE, 'seed': 7, 'num_outputs': 2,
               'length': {'unit': 'steps', 'value': 40}},
              {'model': VAE, 'seed': 3, 'num_outputs': 2},
              {'model': PERFORMANCE, 'seed': 7, 'num_outputs': 2,
               'length': {'unit': 'steps', 'value': 40}}]
  with concurrent.futures.ThreadPoolExecutor(3) as pool:
    answers = list(pool.map(lambda r: _call(server, '/api/generate', r),
                            requests))
  assert [status for status, _ in answers] == [200] * 3
  ids = [o['id'] for _, answer in answers for o in answer['outputs']]
  assert len(set(ids)) == 6
  first, _, again = (answer['outputs'] for _, answer in answers)
  assert [o['notes'] for o in first] == [o['notes'] for o in again]
  for output in first:
    with urllib.request.urlopen(server.url + output['midi_url'][1:]) as r:
      assert r.headers['Content-Type'] == 'audio/midi'
      assert note_seq.midi_to_note_sequence(r.read()).notes


# -------------------------------------------------------------- the page


@pytest.fixture
def browser(tmp_path):
  """Headless Chromium (benchmarks/studio_browser.py), its downloads in
  tmp_path/downloads."""
  studio_browser = testing_lib.import_benchmark_library('studio_browser')
  # .ci/run installs the browser: there the test never skips.
  if studio_browser.missing() and os.environ.get('CI') != 'true':
    pytest.skip(studio_browser.missing())
  downloads = tmp_path / 'downloads'
  downloads.mkdir()
  driver = studio_browser.open_chromium(downloads)
  driver.downloads = downloads
  yield studio_browser.Page(
      driver, os.environ.get('MUSICRNN_STUDIO_SCREENSHOTS'))
  driver.quit()


def test_the_page_continues_varies_keeps_plays_downloads_and_interpolates(
    server, browser, tmp_path):
  page = browser
  page.driver.get(server.url)
  page.wait(lambda: len(page.all('#model option')) == 2)
  assert page.find('#go').text == 'Continue'
  page.shot('1_loaded')

  # Continue an uploaded primer, its first 3 seconds, for 2 more seconds:
  # three variations, cooler and at a chosen density.
  page.find('#primer-file').send_keys(testing_lib.testdata('midi', 'chpn-p7.mid'))
  page.wait(lambda: page.find('#primer-name').text.startswith('Primer: chpn-p7.mid'))
  page.type('#keep-seconds', 3)
  page.type('#length', 2)
  page.type('#num-outputs', 3)
  page.type('#option-temperature', 0.9)
  page.type('#option-notes_per_second', 4)
  page.type('#seed', 5)
  page.find('#option-state_masks').click()   # a checkbox sends true or false
  assert page.state('request().options.state_masks') is False
  page.find('#option-state_masks').click()
  page.press_go_and_wait(3)
  first = page.state('state.outputs.map((o) => o.view)')
  assert all(o['primer_seconds'] == pytest.approx(3.0, abs=0.02) for o in first)
  assert len({json.dumps(o['notes']) for o in first}) == 3   # three different
  page.shot('2_three_variations')

  # Keep the second and continue from it.
  kept = first[1]
  page.press(1, 'button.keep')
  page.wait(lambda: 'kept' in page.outputs()[1].get_attribute('class'))
  page.press(1, 'button.continue-from')
  assert page.find('#primer-name').text.startswith(f'Primer: {kept["name"]}')
  page.type('#seed', 6)
  page.press_go_and_wait(4)   # the kept one and three continuations
  views = page.state('state.outputs.map((o) => o.view)')
  assert views[0]['id'] == kept['id']
  continuation = views[1]
  assert continuation['primer_seconds'] == pytest.approx(kept['seconds'], abs=0.02)

  # Play it: the sound starts and the playhead moves over the roll.
  page.press(1, 'button.play')
  page.wait(lambda: page.playing_seconds() > 0.3, 60)
  canvas = "document.querySelectorAll('article.output canvas')[1].toDataURL()"
  before = page.state(canvas)
  time.sleep(0.4)
  assert page.state(canvas) != before
  assert page.state("document.getElementById('player').paused") is False
  page.shot('3_playing')
  page.press(1, 'button.play')

  # Download its MIDI: it decodes, and starts with the kept output.
  page.press(1, 'a.download-mid')
  target = page.driver.downloads / f'{continuation["name"]}.mid'
  page.wait(lambda: target.exists(), 60)
  downloaded = note_seq.midi_file_to_note_sequence(str(target))
  with urllib.request.urlopen(server.url + kept['midi_url'][1:]) as r:
    original = note_seq.midi_to_note_sequence(r.read())

  def opening(sequence):
    return sorted((n.pitch, round(n.start_time, 2)) for n in sequence.notes
                  if n.start_time < kept['seconds'] - 0.02)

  assert opening(downloaded) == opening(original) and opening(original)
  assert len(downloaded.notes) > len(opening(original))

  # Discard one, then undo it.
  page.press(2, 'button.discard')
  page.wait(lambda: len(page.outputs()) == 3)
  page.find('#undo').click()
  page.wait(lambda: len(page.outputs()) == 4)

  # A file that is not MIDI: a sentence, and the next request still works.
  page.find('#primer-file').send_keys(
      testing_lib.testdata('broken', 'test-not-a-midi-file.mid'))
  page.wait(page.error)
  assert page.error().startswith(
      'test-not-a-midi-file.mid could not be read:')
  page.shot('4_bad_upload')
  page.type('#num-outputs', 1)
  page.press_go_and_wait(2)   # kept + one

  # Interpolate between a MusicXML melody and a MIDI one with the MusicVAE.
  page.choose('#model', VAE)
  page.wait(lambda: page.find('#actions [data-action=interpolate]').is_displayed())
  assert not page.find('#actions [data-action=continue]').is_displayed()
  page.find('#actions [data-action=interpolate]').click()
  page.find('#input-1').send_keys(testing_lib.testdata('musicxml',
                                                       'two_bars.musicxml'))
  page.find('#input-2').send_keys(_melody_midi(str(tmp_path / 'melody.mid')))
  page.wait(lambda: 'end:' in page.find('#inputs-name').text)
  page.type('#num-outputs', 3)
  page.press_go_and_wait(5)   # kept + three steps + the three joined in one
  page.shot('5_interpolated')
  steps = page.state('state.outputs.slice(1).map((o) => o.view)')
  # Each step decodes (a barely trained model may draw a silent one).
  assert all(view['seconds'] > 0 for view in steps) and steps[-1]['notes']
  assert steps[-1]['name'] == 'cat-mel_2bar_small_tiny_interpolation-seed6'
  assert len(steps[-1]['notes']) == sum(len(v['notes']) for v in steps[:3])


# ------------------------------------------------------------ the program


def test_program_names_its_mistakes(tmp_path):
  result = testing_lib.run_program('musicrnn.studio')
  assert result.returncode == 2
  assert 'give --run_dir (a musicrnn run) or --bundle_file' in result.stderr
  result = testing_lib.run_program('musicrnn.studio',
                                   f'--run_dir={tmp_path}/nothing')
  assert result.returncode == 2 and 'is not a folder' in result.stderr
  result = testing_lib.run_program('musicrnn.studio', f'--run_dir={tmp_path}')
  assert result.returncode == 2 and 'config.json' in result.stderr


def test_program_serves_until_interrupted(tiny_runs, tmp_path):
  """`python -m musicrnn.studio` prints its address, serves the page, and
  stops cleanly on Ctrl-C, removing its temporary folder."""
  run_dir = tiny_runs['performance_with_dynamics_tiny']
  process = subprocess.Popen(
      [sys.executable, '-m', 'musicrnn.studio', f'--run_dir={run_dir}',
       f'--work_dir={tmp_path}/work'],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
      cwd=testing_lib.REPO_ROOT)
  try:
    line = process.stdout.readline()
    assert 'musicrnn studio: 1 model (run) at http://127.0.0.1:' in line, (
        line + process.stderr.read() if process.poll() is not None else line)
    url = line.split(' at ')[1].split()[0]
    with urllib.request.urlopen(url) as r:
      assert b'musicrnn studio' in r.read()
    with urllib.request.urlopen(url + 'api/models') as r:
      assert json.loads(r.read())['models'][0]['family'] == 'event_lstm'
  finally:
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
  assert process.returncode == 0, err[-2000:]
  assert 'musicrnn studio: stopped' in out
  shutil.rmtree(tmp_path / 'work')   # a given --work_dir is kept
