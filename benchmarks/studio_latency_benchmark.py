r"""Benchmark: the studio's time from a click to the first sound.

  python benchmarks/studio_latency_benchmark.py \
    --run_dir=quickstart_output/run --output_json=/tmp/studio.json

In a headless Chromium (benchmarks/studio_browser.py) on a studio served
from this process, a musician's loop: upload a primer (--primer, default
the bundled corpus's first piece), keep its first --keep_seconds, continue
it by --seconds, press Play as soon as the output shows. The time from the
click on Continue to the moment the page's audio is playing is measured for
the first call (the model is loaded and its sampling loop compiled) and for
--repeats later calls (new seeds), with the server's own share (generation)
and the rest (the WAV rendered on the server, sent and started).

Baseline, in the same run: what the same music cost before the studio, a
fresh `python -m musicrnn.generate ... --render_wav` process (start-up,
model load, compile, generation, WAV) for the same primer and length.

`--smoke` takes a tiny run (the tests run it) and 2 seconds.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from absl import app
from absl import flags

import studio_browser
from musicrnn.generation import outputs
from musicrnn.web import server as server_lib
from musicrnn.web import studio as studio_lib

flags.DEFINE_string('run_dir', None, 'The run to serve (the quick start\'s '
                    'quickstart_output/run).')
flags.DEFINE_string('primer', None, 'A MIDI file to continue (default: the '
                    'bundled corpus\'s first piece).')
flags.DEFINE_float('keep_seconds', 5.0, 'Seconds of the primer kept.')
flags.DEFINE_float('seconds', 20.0, 'Seconds of continuation.')
flags.DEFINE_integer('repeats', 3, 'Later calls timed.', lower_bound=1)
flags.DEFINE_bool('baseline', True, 'Also time a musicrnn_generate process.')
flags.DEFINE_string('output_json', None, 'Where to write the results.')
flags.DEFINE_string('work_dir', None, 'Where the studio and the baseline '
                    'write (default: a new temporary folder).')
flags.DEFINE_bool('smoke', False, 'Short continuations (tests).')

FLAGS = flags.FLAGS
CORPUS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), 'musicrnn', 'quickstart_corpus')


def _click_to_sound(page, seed):
  """(seconds from the click to playing sound, the server's seconds)."""
  page.type('#seed', seed)
  ids = "state.outputs.map((o) => o.view.id)"
  before = set(page.state(ids))   # a new request replaces the cards not kept
  start = time.perf_counter()
  page.find('#go').click()
  page.wait(lambda: set(page.state(ids)) - before or page.error(), 600, 0.01)
  if page.error():
    raise RuntimeError(f'the page says: {page.error()}')
  new = page.state(ids).index(next(iter(set(page.state(ids)) - before)))
  page.press(new, 'button.play')
  page.wait(lambda: page.playing_seconds() > 0, 120, 0.01)
  seconds = time.perf_counter() - start
  server_seconds = page.state(f'state.outputs[{new}].view.server_seconds')
  page.press(new, 'button.play')   # stop
  return seconds, server_seconds


def _baseline(run_dir, primer, seconds, keep_seconds, work):
  """Seconds of a fresh musicrnn_generate process making the same MIDI and
  WAV (the primer cut as the studio cuts it)."""
  import note_seq  # pylint: disable=import-outside-toplevel
  from musicrnn.generation import render  # pylint: disable=import-outside-toplevel
  sequence = note_seq.midi_file_to_note_sequence(primer)
  cut = render.write_midi(outputs.trim(sequence, keep_seconds),
                          os.path.join(work, 'primer.mid'))
  start = time.perf_counter()
  result = subprocess.run(
      [sys.executable, '-m', 'musicrnn.generate', f'--run_dir={run_dir}',
       f'--output_dir={work}/cli', f'--primer_midi={cut}', '--render_wav',
       f'--duration_seconds={min(keep_seconds, sequence.total_time) + seconds}',
       '--seed=1'], capture_output=True, text=True, check=False)
  elapsed = time.perf_counter() - start
  if result.returncode:
    raise RuntimeError(f'musicrnn_generate failed: {result.stderr[-2000:]}')
  return elapsed


def main(argv):
  del argv
  if not FLAGS.run_dir:
    raise app.UsageError('--run_dir is required (the quick start writes '
                         'quickstart_output/run)')
  why = studio_browser.missing()
  if why:
    raise app.UsageError(f'the browser cannot run: {why}')
  seconds = 2.0 if FLAGS.smoke else FLAGS.seconds
  primer = FLAGS.primer or os.path.join(CORPUS, sorted(
      p for p in os.listdir(CORPUS) if p.endswith('.mid'))[0])
  work = FLAGS.work_dir or tempfile.mkdtemp(prefix='studio-latency-')
  studio = studio_lib.Studio({'model': FLAGS.run_dir}, os.path.join(work, 'studio'))
  server = server_lib.make_server(studio)
  threading.Thread(target=server.serve_forever, daemon=True).start()
  driver = studio_browser.open_chromium()
  try:
    page = studio_browser.Page(driver)
    driver.get(server.url)
    page.wait(lambda: page.all('#model option'))
    page.find('#primer-file').send_keys(os.path.abspath(primer))
    page.wait(lambda: page.find('#primer-name').text.startswith('Primer:'))
    page.type('#keep-seconds', FLAGS.keep_seconds)
    page.choose('#length-unit', 'seconds')
    page.type('#length', seconds)
    page.type('#num-outputs', 1)
    first = _click_to_sound(page, 1)
    later = [_click_to_sound(page, 2 + i) for i in range(FLAGS.repeats)]
  finally:
    driver.quit()
    server.shutdown()
    server.server_close()
    studio.close()
  results = {
      'benchmark': 'studio_latency', 'run_dir': FLAGS.run_dir,
      'primer': os.path.basename(primer), 'keep_seconds': FLAGS.keep_seconds,
      'continuation_seconds': seconds, 'cpu_count': os.cpu_count(),
      'first_call': {'click_to_sound_seconds': round(first[0], 3),
                     'server_seconds': first[1]},
      'later_calls': [{'click_to_sound_seconds': round(s, 3),
                       'server_seconds': g} for s, g in later],
      'later_click_to_sound_median_seconds': round(
          statistics.median(s for s, _ in later), 3)}
  if FLAGS.baseline:
    cli = _baseline(FLAGS.run_dir, primer, seconds, FLAGS.keep_seconds, work)
    results['baseline_musicrnn_generate_process_seconds'] = round(cli, 3)
    results['later_call_speedup_vs_process'] = round(
        cli / results['later_click_to_sound_median_seconds'], 2)
  text = json.dumps(results, indent=2)
  print(text)
  if FLAGS.output_json:
    with open(FLAGS.output_json, 'w') as f:
      f.write(text + '\n')


if __name__ == '__main__':
  app.run(main)
