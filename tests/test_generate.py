"""musicrnn_generate: MIDI from a trained run, primers, controls, errors."""

import os

import note_seq
import numpy as np
import pytest

from musicrnn.encodings import controls
from musicrnn.errors import UsageError
from musicrnn.generation import outputs
from musicrnn.generation import sampler
from musicrnn.runs import generate
from musicrnn.runs import run_dir as run_dir_lib
from musicrnn.tasks import next_token
import testing_lib

MULTI = 'multiconditioned_performance_with_dynamics_tiny'
PLAIN = 'performance_with_dynamics_tiny'


def _read(path):
  return note_seq.midi_file_to_note_sequence(path)


def test_generates_midi_with_the_primer_at_its_start(tiny_runs, tmp_path):
  paths = generate.generate(tiny_runs[PLAIN], str(tmp_path), num_outputs=3,
                            num_steps=120, primer_pitches=[60, 64, 67], seed=1)
  assert len(paths) == 3
  for path in paths:
    sequence = _read(path)
    assert len(sequence.notes) > 3
    first = sorted((n.start_time, n.pitch) for n in sequence.notes)[:3]
    assert [p for _, p in first] == [60, 64, 67]
    assert all(t == 0.0 for t, _ in first)


def test_primer_midi_is_continued(tiny_runs, tmp_path):
  primer = testing_lib.testdata('midi', 'chpn-p7.mid')
  (path,) = generate.generate(tiny_runs[PLAIN], str(tmp_path), num_steps=50,
                              primer_midi=primer, seed=2)
  reference = note_seq.midi_file_to_note_sequence(primer)
  out = _read(path)
  assert len(out.notes) > len(reference.notes)
  ref_onsets = sorted((round(n.start_time, 2), n.pitch) for n in reference.notes)
  out_onsets = sorted((round(n.start_time, 2), n.pitch) for n in out.notes)
  assert out_onsets[:len(ref_onsets)] == ref_onsets


def test_same_seed_same_midi_and_duration(tiny_runs, tmp_path):
  a = generate.generate(tiny_runs[PLAIN], str(tmp_path / 'a'), num_steps=80, seed=7)
  b = generate.generate(tiny_runs[PLAIN], str(tmp_path / 'b'), num_steps=80, seed=7)
  assert open(a[0], 'rb').read() == open(b[0], 'rb').read()
  (c,) = generate.generate(tiny_runs[PLAIN], str(tmp_path / 'c'),
                           duration_seconds=3.0, seed=7)
  assert 0 < _read(c).total_time <= 3.0 + 1e-6


def test_controls_reach_the_model(tiny_runs, tmp_path, monkeypatch):
  run = run_dir_lib.load_run(tiny_runs[MULTI])
  sparse = controls.user_inputs(run.controls, {'notes_per_second': 1.0},
                                run.config.name)
  dense = controls.user_inputs(run.controls, {
      'notes_per_second': 64.0, 'pitch_class_histogram': [1] + [0] * 11},
                               run.config.name)
  assert sparse['note_density'] == 1 and dense['note_density'] == 7
  np.testing.assert_allclose(dense['pitch_histogram'][0], 1.0, atol=1e-3)
  # The model's next-event distribution depends on the control values.
  states = run.model.initial_state(1)
  tokens = np.array([run.codec.time_shift_id(1)], np.int32)
  logits = [run.model.step({'tokens': tokens, **{k: np.asarray(v)[None] for k, v in
                                                 values.items()}}, states)[0].numpy()
            for values in (sparse, dense)]
  assert np.abs(logits[0] - logits[1]).max() > 1e-4
  # generate() hands the requested controls to the sampler at every position.
  seen = {}
  real_sample = sampler.sample

  def spy(model, primer, num_steps, controls=None, **kwargs):
    seen.update(controls)
    return real_sample(model, primer, num_steps, controls=controls, **kwargs)

  monkeypatch.setattr(sampler, 'sample', spy)
  generate.generate(tiny_runs[MULTI], str(tmp_path), num_outputs=2, num_steps=10,
                    notes_per_second=64.0, pitch_class_histogram=[1] + [0] * 11)
  assert seen['note_density'].shape == (2, 11)
  assert (seen['note_density'] == 7).all()
  assert seen['pitch_histogram'].shape == (2, 11, 12)
  np.testing.assert_allclose(seen['pitch_histogram'][..., 0], 1.0, atol=1e-3)


def test_mistakes_are_usage_errors(tiny_runs, tmp_path):
  with pytest.raises(UsageError, match='not trained with a note-density'):
    generate.generate(tiny_runs[PLAIN], str(tmp_path), num_steps=5,
                      notes_per_second=3.0)
  with pytest.raises(UsageError, match='not a musicrnn run directory'):
    generate.generate(str(tmp_path / 'nothing'), str(tmp_path), num_steps=5)
  with pytest.raises(UsageError, match='12 non-negative'):
    generate.generate(tiny_runs[MULTI], str(tmp_path), num_steps=5,
                      pitch_class_histogram=[1, 2])
  with pytest.raises(UsageError, match='not both'):
    generate.generate(tiny_runs[PLAIN], str(tmp_path), num_steps=5,
                      duration_seconds=2.0)
  # A primer as long as the output leaves nothing to generate.
  with pytest.raises(UsageError, match='primer lasts 0.5 s.*nothing would be generated'):
    generate.generate(tiny_runs[PLAIN], str(tmp_path), primer_pitches=[60, 64],
                      duration_seconds=0.4)
  # Magenta's generate flags: a length in bars needs bars, a tempo needs
  # something to set, one primer at most.
  with pytest.raises(UsageError, match='--num_bars counts bars of a metric '
                     'encoding.*the performance encoding has none'):
    generate.generate(tiny_runs[PLAIN], str(tmp_path), num_bars=2)
  with pytest.raises(UsageError, match='not --num_steps with --num_bars'):
    generate.generate(tiny_runs[PLAIN], str(tmp_path), num_steps=5, num_bars=2)
  with pytest.raises(UsageError, match='--qpm=90 sets the tempo of '
                     '--primer_pitches.*keeps time in seconds'):
    generate.generate(tiny_runs[PLAIN], str(tmp_path), num_steps=5, qpm=90.0)
  with pytest.raises(UsageError, match='--qpm must be > 0'):
    generate.generate(tiny_runs[PLAIN], str(tmp_path), num_steps=5, qpm=0.0,
                      primer_melody=[60])
  with pytest.raises(UsageError, match='--primer_pitches and --primer_melody: '
                     'give one primer at most, one of --primer_midi, '
                     '--primer_pitches, --primer_frames, --primer_melody, '
                     '--primer_drums'):
    generate.generate(tiny_runs[PLAIN], str(tmp_path), num_steps=5,
                      primer_pitches=[60], primer_melody=[60])
  with pytest.raises(UsageError, match='--primer_drums primes an encoding of '
                     'drum notes'):
    generate.generate(tiny_runs[PLAIN], str(tmp_path), num_steps=5,
                      primer_drums=[(36,), (42,)])
  # MusicVAE's modes and their music are a MusicVAE run's.
  with pytest.raises(UsageError, match='--mode=reconstruct: the run of config '
                     ".*generates with --mode=sample; --mode=reconstruct is "
                     'for runs of task variational'):
    generate.generate(tiny_runs[PLAIN], str(tmp_path), mode='reconstruct',
                      input_midi='a.mid')
  with pytest.raises(UsageError, match='--input_midi: the run of config .* '
                     'takes --num_steps'):
    generate.generate(tiny_runs[PLAIN], str(tmp_path), input_midi='a.mid')


def test_magenta_melody_primer_qpm_and_bars(family_runs, tmp_path, monkeypatch):
  """--primer_melody at --qpm continued for --num_bars by a metric encoding
  (polyphony, 16 steps a 4/4 bar): the output is the primer's steps and
  the bars' at that tempo, written at it; a performance run takes the
  melody at its tempo too."""
  written = []
  real_write = outputs.write_outputs

  def spy(name, sequences, *args, **kwargs):
    written.extend(sequences)
    return real_write(name, sequences, *args, **kwargs)

  monkeypatch.setattr(outputs, 'write_outputs', spy)
  run = family_runs['polyphony_tiny'][0]
  paths = generate.generate(run, str(tmp_path), num_outputs=2, num_bars=2,
                            qpm=60.0, primer_melody=[60, -2, 64, -2], seed=1)
  # A 16th note at 60 qpm lasts 0.25 s: 4 primer steps and 2 bars of 16.
  assert [s.total_time for s in written] == [pytest.approx(9.0)] * 2
  for path in paths:
    sequence = _read(path)
    assert sequence.tempos[0].qpm == pytest.approx(60.0)
    first = sorted((n.start_time, n.pitch) for n in sequence.notes)[:2]
    assert first == [(0.0, 60), (pytest.approx(0.5), 64)]
    assert all(abs(n.start_time * 4 - round(n.start_time * 4)) < 1e-6
               for n in sequence.notes)
  # Without --qpm: the melody at 120 qpm, the output at the codec's tempo.
  written.clear()
  (path,) = generate.generate(run, str(tmp_path / 'default'), num_bars=1,
                              primer_melody=[60, -2, 64, -2], seed=1)
  assert written[0].total_time == pytest.approx(20 * 0.125)
  assert _read(path).tempos[0].qpm == pytest.approx(120.0)


def _overlaps_of_one_pitch(sequence):
  """Notes that start while an earlier note of their pitch sounds."""
  count = 0
  last_end = {}
  for note in sorted(sequence.notes, key=lambda n: (n.start_time, n.end_time)):
    if note.start_time < last_end.get(note.pitch, -1.0):
      count += 1
    last_end[note.pitch] = max(last_end.get(note.pitch, -1.0), note.end_time)
  return count


def test_state_masks_end_restruck_notes_and_max_polyphony_holds(tiny_runs,
                                                                 tmp_path):
  def sequences(name, **options):
    return [_read(p) for p in generate.generate(
        tiny_runs[PLAIN], str(tmp_path / name), num_outputs=4, num_steps=300,
        seed=2, **options)]

  masked = sequences('masked')
  free = sequences('free', state_masks=False)
  # The barely trained model strikes sounding pitches again: read as
  # note-seq reads them, they overlap; with the masks the pitch's note ends.
  assert sum(map(_overlaps_of_one_pitch, free)) > 0
  assert sum(map(_overlaps_of_one_pitch, masked)) == 0
  for sequence in sequences('two', max_polyphony=2):
    times = sorted({n.start_time for n in sequence.notes})
    for t in times:
      assert sum(n.start_time <= t < n.end_time for n in sequence.notes) <= 2
  with pytest.raises(UsageError, match='max_polyphony works through the state '
                     'masks'):
    sequences('bad', state_masks=False, max_polyphony=3)
  with pytest.raises(UsageError, match='max_polyphony must be 0'):
    sequences('bad', max_polyphony=-1)


def test_generation_draws_through_the_codecs_grammar(tiny_runs, tmp_path,
                                                     monkeypatch):
  drawn = []
  sample = sampler.sample

  def spy(model, primer, num_steps, **kwargs):
    tokens = sample(model, primer, num_steps, **kwargs)
    drawn.append((kwargs['grammar'], primer.shape[1], tokens))
    return tokens

  monkeypatch.setattr(sampler, 'sample', spy)
  run = run_dir_lib.load_run(tiny_runs[PLAIN])
  for options in ({}, {'mask_renormalisation': 'all', 'max_polyphony': 3},
                  {'state_masks': False}):
    generate.generate(tiny_runs[PLAIN], str(tmp_path), num_outputs=3,
                      num_steps=200, seed=4, **options)
  (default, _, tokens), (spread, _, _), (free, start, untouched) = drawn
  assert default == run.codec.grammar(0, next_token.MAX_NOTE_DURATION_SECONDS)
  assert testing_lib.disallowed_draws(default, tokens, start) == []
  assert spread == run.codec.grammar(3, next_token.MAX_NOTE_DURATION_SECONDS,
                                     'all')
  assert free is None
  assert testing_lib.disallowed_draws(default, untouched, start)


def test_cli(tiny_runs, tmp_path):
  def cli(*args):
    return testing_lib.run_program('musicrnn.generate', *args)

  result = cli(f'--run_dir={tiny_runs[MULTI]}', f'--output_dir={tmp_path}',
               '--num_outputs=2', '--num_steps=40', '--notes_per_second=8',
               '--pitch_class_histogram=[2,0,1,0,1,1,0,1,0,1,0,1]', '--seed=3')
  assert result.returncode == 0, result.stderr
  assert len([l for l in result.stdout.splitlines() if l.endswith('.mid')]) == 2
  result = cli(f'--run_dir={tiny_runs[PLAIN]}', f'--output_dir={tmp_path}/beam',
               '--num_steps=30', '--beam_size=3', '--branch_factor=2', '--seed=1',
               '--max_polyphony=4')
  assert result.returncode == 0, result.stderr
  assert len(os.listdir(tmp_path / 'beam')) == 1
  result = cli(f'--run_dir={tiny_runs[PLAIN]}', f'--output_dir={tmp_path}',
               '--notes_per_second=8')
  assert result.returncode == 2
  errors = [l for l in result.stderr.splitlines() if 'generate.py: error:' in l]
  assert len(errors) == 1 and 'note-density' in errors[0]
  result = cli(f'--run_dir={tiny_runs[PLAIN]}', f'--output_dir={tmp_path}/free',
               '--num_steps=30', '--nostate_masks')
  assert result.returncode == 0, result.stderr
  result = cli(f'--run_dir={tmp_path}/none', f'--output_dir={tmp_path}')
  assert result.returncode == 2 and 'not a musicrnn run directory' in result.stderr
  # Magenta's primer flags: parsed by the binary, a mistake is one line.
  result = cli(f'--run_dir={tiny_runs[PLAIN]}', f'--output_dir={tmp_path}/melody',
               '--num_steps=20', '--primer_melody=[60, -2, 64, -1]',
               '--qpm=90', '--seed=1')
  assert result.returncode == 0, result.stderr
  (path,) = [l for l in result.stdout.splitlines() if l.endswith('.mid')]
  first = sorted((n.start_time, n.pitch) for n in _read(path).notes)[:2]
  assert first == [(0.0, 60), (pytest.approx(1 / 3, abs=0.01), 64)]
  result = cli(f'--run_dir={tiny_runs[PLAIN]}', f'--output_dir={tmp_path}',
               '--primer_drums=[(36), (42)]')
  assert result.returncode == 2
  errors = [l for l in result.stderr.splitlines() if 'generate.py: error:' in l]
  assert len(errors) == 1 and 'write (36,) for one drum' in errors[0]
  assert os.path.isdir(tmp_path)


def test_png_and_wav_rendering(tiny_runs, tmp_path):
  """--render_png draws a piano roll with axes, note names, velocity colours
  and the primer; --render_wav writes audio of the output's length."""
  import matplotlib.image  # pylint: disable=import-outside-toplevel
  from musicrnn.generation import render  # pylint: disable=import-outside-toplevel
  (path,) = generate.generate(tiny_runs[PLAIN], str(tmp_path), num_steps=80,
                              primer_pitches=[60, 64, 67], seed=4,
                              render_png=True, render_wav=True)
  image = matplotlib.image.imread(path[:-4] + '.png')
  assert image.shape[0] >= 400 and image.shape[1] >= 800
  sequence = _read(path)
  figure = render.pianoroll_figure(sequence, primer_seconds=0.5)
  ax = figure.axes[0]
  assert ax.get_xlabel() == 'time (seconds)'
  names = [t.get_text() for t in ax.get_yticklabels()]
  assert names and all(n[0] in 'CEG' and n[-1].isdigit() for n in names)
  (roll,) = ax.collections
  assert len(roll.get_paths()) == len(sequence.notes)
  assert sorted(roll.get_array()) == sorted(n.velocity for n in sequence.notes)
  assert figure.axes[1].get_ylabel() == 'velocity'   # the colour bar
  # The primer labelled inside its span, or beside it when narrow; no label
  # without a primer.
  ten_seconds = testing_lib.make_sequence(list(range(60, 80)))
  labels = lambda **kw: [t.get_text() for t in  # noqa: E731
                         render.pianoroll_figure(ten_seconds, **kw).axes[0].texts]
  assert labels(primer_seconds=4.0) == ['primer']
  assert labels(primer_seconds=0.5) == [' \u2190 primer']
  assert labels() == []
  # A lead sheet's chord symbols along the top.
  for time, text in ((0.0, 'C'), (2.0, 'Am7')):
    ten_seconds.text_annotations.add(
        time=time, text=text,
        annotation_type=note_seq.NoteSequence.TextAnnotation.CHORD_SYMBOL)
  (top,) = render.pianoroll_figure(ten_seconds).axes[0].child_axes
  assert [t.get_text() for t in top.get_xticklabels()] == ['C', 'Am7']
  np.testing.assert_allclose(top.get_xticks(), [0.0, 2.0])
  import wave  # pylint: disable=import-outside-toplevel
  with wave.open(path[:-4] + '.wav') as f:
    seconds = f.getnframes() / f.getframerate()
    audio = np.frombuffer(f.readframes(f.getnframes()), '<i2')
  assert sequence.total_time - 0.05 <= seconds <= sequence.total_time + 3.0
  assert np.abs(audio).max() > 10000    # normalised, not silence


def test_pitch_names():
  from musicrnn.generation import render  # pylint: disable=import-outside-toplevel
  assert [render.pitch_name(p) for p in (21, 60, 61, 69, 108)] == [
      'A0', 'C4', 'C#4', 'A4', 'C8']


def test_wav_sounds_the_notes_at_their_pitch_and_time():
  """One A4 from 1 s to 2 s: the audio is loud there, quiet before, and its
  strongest frequency is 440 Hz."""
  from musicrnn.generation import render  # pylint: disable=import-outside-toplevel
  sequence = testing_lib.make_sequence([69], seconds_per_note=1.0, velocity=100)
  sequence.notes[0].start_time, sequence.notes[0].end_time = 1.0, 2.0
  sequence.total_time = 3.0
  audio, rate = render.synthesize(sequence)
  assert len(audio) == pytest.approx(3.0 * rate, abs=2)
  audio = audio.mean(axis=1)
  before, during = audio[:int(0.9 * rate)], audio[int(1.05 * rate):int(1.6 * rate)]
  assert np.sqrt(np.mean(during ** 2)) > 0.05
  assert np.abs(before).max() < 0.01
  spectrum = np.abs(np.fft.rfft(during * np.hanning(len(during))))
  peak_hz = np.fft.rfftfreq(len(during), 1.0 / rate)[np.argmax(spectrum)]
  assert abs(peak_hz - 440.0) < 10.0


def test_notes_never_turned_off_end_after_five_seconds_as_magenta():
  from musicrnn.encodings import performance  # pylint: disable=import-outside-toplevel
  codec = performance.PerformanceCodec(performance.PerformanceSettings(
      num_velocity_bins=32))
  sequence = testing_lib.make_sequence([60], seconds_per_note=8.0)
  sequence.notes.add(pitch=64, velocity=80, start_time=7.5, end_time=8.0)
  ids = codec.encode(sequence)
  types, values = codec.events(ids)
  ids = ids[~((types == performance.NOTE_OFF) & (values == 60))]  # never off
  uncapped = codec.decode_generated(ids, 0)
  capped = codec.decode_generated(ids, next_token.MAX_NOTE_DURATION_SECONDS)
  length = {n.pitch: n.end_time - n.start_time for n in capped.notes}
  assert length[60] == pytest.approx(5.0)
  assert length[64] == pytest.approx(0.5)
  assert max(n.end_time for n in uncapped.notes if n.pitch == 60) == pytest.approx(8.0)
