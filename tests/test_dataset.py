"""musicrnn_create_dataset: NoteSequences -> SequenceExample train/eval splits."""

import collections
import functools
import json
import os
import shutil

from note_seq import performance_lib
from note_seq import sequences_lib
import numpy as np
import pytest
import tensorflow as tf

from musicrnn import configs
from musicrnn import splits
from musicrnn.errors import UsageError
from musicrnn.pipelines import convert
from musicrnn.pipelines import dataset
from musicrnn.tfrecords import input as input_lib
from musicrnn.tfrecords import schema
from musicrnn.tfrecords import sources
import testing_lib

QUICKSTART = os.path.join(testing_lib.REPO_ROOT, 'musicrnn', 'quickstart_corpus')
EVAL_RATIO = 0.3
# Five of the bundled pieces keep the dataset builds of this file quick.
PIANO = ('bach_846.mid', 'chpn-p13.mid', 'mz_545_3.mid', 'scn15_11.mid',
         'grieg_walzer.mid')


@pytest.fixture(scope='module')
def notesequences(tmp_path_factory):
  """The bundled corpus plus the test MIDI, converted to NoteSequences (made
  once in a test run, whichever worker runs the tests below)."""

  def make(folder):
    root = os.path.join(folder, 'corpus')
    for name in PIANO:
      testing_lib.copy_into(os.path.join(QUICKSTART, name), os.path.join(root, 'piano'))
    for name in ('chpn-p7.mid', 'chpn-p10.mid', 'chpn-p20.mid'):
      testing_lib.copy_into(testing_lib.testdata('midi', name),
                            os.path.join(root, 'chopin'))
    # One tempo, 4/4: what the metric encodings (polyphony, piano roll) need.
    for name in ('mr_blue_sky.mid', 'd8faddb8.mid'):
      testing_lib.copy_into(testing_lib.testdata('pop', name), os.path.join(root, 'pop'))
    output = os.path.join(folder, 'ns.tfrecord')
    summary = convert.convert_directory(root, output)
    assert summary.converted == 10
    return output

  return testing_lib.made_once(tmp_path_factory, 'test_dataset_ns', make)[1]


def build(name, notesequences, output_dir, **kwargs):
  config = configs.get_config(name)
  return config, dataset.create_dataset(config, notesequences, str(output_dir),
                                        eval_ratio=EVAL_RATIO, **kwargs)


def read_examples(output_dir, split):
  """Every example of a split as a dict of NumPy arrays (context included),
  parsed in one tf.data pipeline; cached, since the folders are read-only."""
  return _read_examples(str(output_dir), split)


@functools.lru_cache(maxsize=None)
def _read_examples(output_dir, split):
  source = sources.DatasetFolder(output_dir)
  parse = sources.parse_fn(tuple(source.description['sequence_features']), 84)

  def parse_all(record):
    context, _ = tf.io.parse_single_sequence_example(
        record, context_features=schema.parsing_spec(())[0])
    features = parse(record)
    features.update(context)
    return features

  records = tf.data.TFRecordDataset(source.files(split)).map(parse_all)
  return [{k: v.numpy() for k, v in features.items()} for features in records]


@pytest.fixture(scope='module')
def perf(notesequences, tmp_path_factory):
  folder, summary = testing_lib.made_once(
      tmp_path_factory, 'test_dataset_perf',
      lambda out: build('performance_with_dynamics_tiny', notesequences, out)[1])
  return configs.get_config('performance_with_dynamics_tiny'), summary, folder


def test_splits_are_by_source_id_and_deterministic(perf, notesequences, tmp_path):
  _, summary, out = perf
  train = read_examples(out, 'train')
  evals = read_examples(out, 'eval')
  assert train and evals
  train_ids = {e[schema.ID] for e in train}
  eval_ids = {e[schema.ID] for e in evals}
  assert not train_ids & eval_ids
  for source_id in train_ids | eval_ids:
    expected = splits.is_eval(source_id.decode(), EVAL_RATIO)
    assert (source_id in eval_ids) == expected
  assert len(eval_ids) == summary.notesequences['eval'] < len(train_ids)
  # Rebuilding gives identical split membership.
  _, again = build('performance_with_dynamics_tiny', notesequences, tmp_path)
  assert {e[schema.ID] for e in read_examples(tmp_path, 'eval')} == eval_ids
  assert again.examples == summary.examples


def test_augmentation_is_train_only(perf):
  _, _, out = perf
  train = read_examples(out, 'train')
  evals = read_examples(out, 'eval')
  assert {(int(e[schema.TRANSPOSITION]), float(e[schema.STRETCH])) for e in evals} == {(0, 1.0)}
  seen = {(int(e[schema.TRANSPOSITION]), round(float(e[schema.STRETCH]), 3)) for e in train}
  assert seen == {(0, 1.0), (1, 1.0), (0, 1.05), (1, 1.05)}
  # Each example id is unique.
  ids = [e[schema.EXAMPLE_ID] for e in train + evals]
  assert len(ids) == len(set(ids))


def test_stats_add_up_and_match_the_files(perf):
  config, summary, out = perf
  stats = json.load(open(os.path.join(out, 'stats.json')))
  dataset.check_stats(stats)
  description = json.load(open(os.path.join(out, 'dataset.json')))
  assert description['config_name'] == 'performance_with_dynamics_tiny'
  assert description['encoding']['name'] == 'performance'
  assert description['encoding']['settings']['num_velocity_bins'] == 32
  for split in ('train', 'eval'):
    examples = read_examples(out, split)
    assert len(examples) == stats[f'examples_{split}'] == description['splits'][split]['examples']
    lengths = [len(e[schema.TOKENS]) for e in examples]
    assert sum(lengths) == stats[f'events_{split}']
    assert all(config.data.min_events <= n <= config.data.max_events for n in lengths)
    assert all(int(e[schema.LENGTH]) == len(e[schema.TOKENS]) for e in examples)
  assert stats['long_sequences_split'] > 0
  assert stats['notesequences_read'] == 10
  assert sorted(os.listdir(out)) == sorted(
      ['dataset.json', 'stats.json'] + description['splits']['train']['files']
      + description['splits']['eval']['files'])


def test_examples_round_trip_to_the_notes_of_their_source(perf, notesequences):
  """Every example of an unaugmented chunk (both splits) holds the codec's
  tokens of that chunk of its source NoteSequence, window by window, and
  its chunk's windows decode to the source's notes at the codec's time grid.

  The chunks are rebuilt from the source with note-seq, as the pipeline
  cuts them (sustain applied, `chunk_seconds` pieces), and the notes are
  quantized by note-seq (`quantize_note_sequence_absolute`): neither comes
  from the pipeline or the codec under test.
  """
  config, _, out = perf
  data = config.data
  # The cuts rebuilt below: sustain, fixed-length chunks, max_events windows.
  assert data.sustain and data.chunk_seconds and not data.split_on_time_changes
  assert data.long_sequences == 'split' and data.get('length_unit', 'events') == 'events'
  codec = dataset.make_codec(config)
  settings = codec.settings
  sources_by_id = testing_lib.read_notesequences([notesequences])
  windows = collections.defaultdict(dict)   # {(source, chunk): {window: tokens}}
  for example in read_examples(out, 'train') + read_examples(out, 'eval'):
    # '<source id>:<chunk>:s<stretch>:t<transposition>:p<window>'
    source, chunk, stretch, transposition, window = (
        example[schema.EXAMPLE_ID].decode().rsplit(':', 4))
    if (stretch, transposition) == ('s1', 't+0'):
      windows[source, int(chunk)][int(window[1:])] = example[schema.TOKENS]
  assert {source for source, _ in windows} == set(sources_by_id)

  whole_chunks = 0
  for (source, index), written in sorted(windows.items()):
    sequence = sequences_lib.apply_sustain_control_changes(sources_by_id[source])
    chunk = sequences_lib.split_note_sequence(sequence, data.chunk_seconds)[index]
    tokens = codec.encode(chunk)
    expected = [tokens[start:start + data.max_events]
                for start in range(0, len(tokens), data.max_events)]
    # Windows shorter than min_events are dropped; the others are written.
    assert sorted(written) == [i for i, w in enumerate(expected)
                               if len(w) >= data.min_events], (source, index)
    for i, window_tokens in written.items():
      np.testing.assert_array_equal(window_tokens, expected[i])
    if len(written) < len(expected):
      continue   # a dropped window: the chunk's notes are not all written
    whole_chunks += 1
    decoded = codec.decode(np.concatenate([written[i] for i in sorted(written)]))
    steps = settings.steps_per_second
    quantized = sequences_lib.quantize_note_sequence_absolute(chunk, steps)
    assert _onsets_and_offsets(
        [(n.pitch, round(n.start_time * steps), round(n.end_time * steps),
          n.velocity) for n in decoded.notes], settings.num_velocity_bins
    ) == _onsets_and_offsets(
        [(n.pitch, n.quantized_start_step, n.quantized_end_step, n.velocity)
         for n in quantized.notes], settings.num_velocity_bins), (source, index)
  # Most chunks end in a window long enough to keep: the notes were compared.
  assert whole_chunks > len(windows) // 2


def _onsets_and_offsets(notes, num_velocity_bins):
  """What performance events keep of notes [(pitch, start step, end step,
  velocity)]: the onsets (pitch, step, velocity bin) and the offsets (pitch,
  step), as multisets. Which of two sounding notes of one pitch a NOTE_OFF
  ends they cannot say (decoding ends the first started)."""
  return (collections.Counter(
      (pitch, start, int(performance_lib.velocity_to_bin(velocity, num_velocity_bins)))
      for pitch, start, _, velocity in notes),
          collections.Counter((pitch, end) for pitch, _, end, _ in notes))


def test_tf_data_batches(perf):
  config, _, out = perf
  ds = input_lib.make_dataset(str(out), 'train', batch_size=4, seed=1)
  features, labels, weights = next(iter(ds))
  assert features[schema.TOKENS].shape[0] == 4
  assert features[schema.TOKENS].dtype == tf.int32
  assert labels.shape == features[schema.TOKENS].shape == weights.shape
  assert labels.shape[1] <= config.data.max_events - 1
  one_pass = input_lib.make_dataset(str(out), 'eval', batch_size=3,
                                    shuffle=False, repeat=False)
  total = sum(int(tf.reduce_sum(w)) for _, _, w in one_pass)
  stats = json.load(open(os.path.join(out, 'stats.json')))
  assert total == stats['events_eval'] - stats['examples_eval']


def test_tf_data_buckets_by_length(perf):
  _, _, out = perf
  ds = input_lib.make_dataset(str(out), 'train', batch_size=4, seed=3,
                              bucket_boundaries=[20, 40])
  for _, labels, weights in ds.take(12):
    lengths = tf.reduce_sum(weights, axis=1).numpy()
    # Every example of a batch falls in one bucket: [0, 20), [20, 40), [40, ...).
    buckets = np.digitize(lengths, [20, 40])
    assert len(set(buckets.tolist())) == 1
    assert labels.shape[1] == lengths.max()


def test_controls_in_conditional_dataset(notesequences, tmp_path):
  config, summary = build('multiconditioned_performance_with_dynamics_tiny',
                          notesequences, tmp_path)
  examples = read_examples(tmp_path, 'eval')
  example = examples[0]
  n = len(example[schema.TOKENS])
  assert example['note_density'].shape == (n,)
  assert example['pitch_histogram'].shape == (n, 12)
  np.testing.assert_allclose(example['pitch_histogram'].sum(axis=1), 1.0, rtol=1e-5)
  assert example['note_density'].max() < 8
  ds = input_lib.make_dataset(str(tmp_path), 'train', batch_size=2, seed=0)
  features, labels, _ = next(iter(ds))
  assert features['note_density'].shape == labels.shape
  assert features['pitch_histogram'].shape == labels.shape + (12,)


@pytest.mark.parametrize('name', ['polyphony_tiny', 'pianoroll_gan_tiny'])
def test_metric_encodings(name, notesequences, tmp_path):
  config, summary = build(name, notesequences, tmp_path)
  stats = summary.stats
  dataset.check_stats(stats)
  # piano-midi.de files carry tempo maps: they are cut at every change, and
  # most pieces are too short for the encoding; the pop songs (one tempo,
  # 4/4) give the examples.
  assert stats['chunks'] > stats['notesequences_read']
  assert summary.examples['train'] > 0
  dropped = stats.get('dropped_too_short', 0) + sum(
      v for k, v in stats.items() if k.startswith('encode_failed_'))
  assert dropped > 0
  if name == 'pianoroll_gan_tiny':
    ds = input_lib.make_dataset(str(tmp_path), 'train', batch_size=2, seed=0)
    (features,) = next(iter(ds))
    assert features[schema.PIANOROLL].shape == (2, 64, 84)
    assert set(np.unique(features[schema.PIANOROLL].numpy())) <= {0.0, 1.0}


def test_existing_dataset_is_refused(perf, notesequences):
  _, _, out = perf
  with pytest.raises(UsageError, match='already exists'):
    build('performance_with_dynamics_tiny', notesequences, out)


def test_cli_errors_are_one_line(notesequences, tmp_path):
  def cli(*args):
    return testing_lib.run_program('musicrnn.create_dataset', *args)

  result = cli('--config=performace', f'--input={notesequences}',
               f'--output_dir={tmp_path}')
  assert result.returncode == 2
  assert "unknown config 'performace'" in result.stderr
  assert 'performance_with_dynamics' in result.stderr
  result = cli('--config=performance_tiny', f'--input={tmp_path}/none*',
               f'--output_dir={tmp_path}')
  assert result.returncode == 2 and 'matches no NoteSequence file' in result.stderr
  result = cli('--config=performance_tiny', f'--input={notesequences}',
               f'--output_dir={tmp_path}/cli', '--hparams=max_events=48',
               '--config.data.transpositions=[0]', '--eval_ratio=0.5')
  assert result.returncode == 0, result.stderr
  stats = json.load(open(tmp_path / 'cli' / 'stats.json'))
  description = json.load(open(tmp_path / 'cli' / 'dataset.json'))
  assert description['config']['data']['max_events'] == 48
  assert description['config']['data']['transpositions'] == [0]
  assert stats['examples_train'] > 0


def test_input_takes_converts_output_glob_and_names_a_file_of_another_kind(
    notesequences, tmp_path):
  """`ns.tfrecord*` matches convert's side files, which are skipped; any
  other file that is not NoteSequence TFRecords is named in one line."""
  folder = tmp_path / 'converted'
  folder.mkdir()
  shutil.copyfile(notesequences, folder / 'ns.tfrecord')
  for suffix in (convert.DEADLETTER_SUFFIX, convert.DUPLICATES_SUFFIX,
                 convert.SUMMARY_SUFFIX):
    (folder / ('ns.tfrecord' + suffix)).write_text('{"not": "a record"}\n')
  assert convert.notesequence_files(str(folder / 'ns.tfrecord*')) == [
      str(folder / 'ns.tfrecord')]
  (folder / 'ns.tfrecord.bak').write_text('a note to self\n')
  with pytest.raises(UsageError, match=r'ns\.tfrecord\.bak is not a TFRecord file '
                     'of NoteSequences'):
    convert.notesequence_files(str(folder / 'ns.tfrecord*'))
  # SequenceExamples (a dataset's shard) are TFRecords, not NoteSequences.
  config = configs.get_config('performance_tiny')
  dataset.create_dataset(config, notesequences, str(tmp_path / 'ds'), eval_ratio=0.5)
  shard = sorted((tmp_path / 'ds').glob('train.tfrecord-*'))[0]
  with pytest.raises(UsageError, match=f'{shard.name} is not a TFRecord file of '
                     'NoteSequences'):
    dataset.create_dataset(config, str(shard), str(tmp_path / 'ds2'))
  with pytest.raises(UsageError, match='only musicrnn_convert.s side files'):
    convert.notesequence_files(str(folder / 'ns.tfrecord.*json*'))
  # A file system Beam cannot reach here is one line, not a traceback.
  with pytest.raises(UsageError, match='cannot list nosuchfs://bucket/ns.tfrecord'):
    convert.notesequence_files('nosuchfs://bucket/ns.tfrecord')


def test_split_by_folder_keeps_a_folder_together(notesequences, tmp_path):
  config = configs.get_config('performance_tiny')
  configs.apply_overrides(config, overrides={'data.split_by': 'folder'})
  dataset.create_dataset(config, notesequences, str(tmp_path), eval_ratio=0.5)
  folder_of = {i.encode(): os.path.dirname(s.filename) for i, s in
               testing_lib.read_notesequences([notesequences]).items()}
  split_of_folder = collections.defaultdict(set)
  for split in ('train', 'eval'):
    for example in read_examples(tmp_path, split):
      split_of_folder[folder_of[example[schema.ID]]].add(split)
  assert set(split_of_folder) == {'piano', 'chopin', 'pop'}
  assert all(len(names) == 1 for names in split_of_folder.values())


def test_polyphony_counts_steps_and_discards_long_sequences():
  """As Magenta's extractor: lengths in quantized steps, longer sequences
  discarded whole (not split), shorter ones dropped."""
  config = configs.get_config('polyphony')
  configs.apply_overrides(config, overrides={
      'data.min_events': 16, 'data.max_events': 100,
      'data.transpositions': (0,), 'data.split_on_time_changes': False})
  maker = dataset.ExampleMaker(configs.to_json(config))
  counts = collections.Counter()

  def count(name, n=1):
    counts[name] += n

  def examples(num_notes):
    # 0.5 s notes at 120 qpm: 4 steps each.
    sequence = testing_lib.make_sequence([60 + i % 12 for i in range(num_notes)])
    sequence.id = f'notes{num_notes}'
    return list(maker.make_features(sequence, 'train', count))

  kept = examples(20)            # 80 steps, 162 tokens: kept whole
  assert len(kept) == 1 and len(kept[0]['tokens']) > 100
  assert maker._codec.num_steps(kept[0]['tokens']) == 80  # pylint: disable=protected-access
  assert examples(30) == []      # 120 steps: discarded
  assert counts['dropped_too_long'] == 1
  assert examples(3) == []       # 12 steps: too short
  assert counts['dropped_too_short'] == 1


@pytest.mark.parametrize('overrides, message', [
    ({'data.long_sequences': 'chop'}, 'data.long_sequences must be one of'),
    ({'data.length_unit': 'bars'}, 'data.length_unit must be one of'),
    ({'data.long_sequences': 'split'}, "goes with data.long_sequences='discard'"),
])
def test_bad_length_settings_are_clear_errors(overrides, message):
  config = configs.get_config('polyphony')
  configs.apply_overrides(config, overrides=overrides)
  with pytest.raises(UsageError, match=message):
    dataset.ExampleMaker(configs.to_json(config))
  performance = configs.get_config('performance')
  configs.apply_overrides(performance, overrides={'data.length_unit': 'steps',
                                                  'data.long_sequences': 'discard'})
  with pytest.raises(UsageError, match='counts no steps'):
    dataset.ExampleMaker(configs.to_json(performance))
