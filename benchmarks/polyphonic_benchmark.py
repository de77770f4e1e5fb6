r"""The polyphonic-music benchmark of 2012, beside its published tables.

  python benchmarks/polyphonic_benchmark.py \
    --data=../shared/data/boulanger2012/JSB_Chorales.mat \
    --output_json=/tmp/jsb.json [--rows=lstm,tcn] [--search]

Trains every row (or those --rows names) on the piano rolls of
Boulanger-Lewandowski, Bengio and Vincent (ICML 2012) as published
(`musicrnn.pipelines.boulanger`: train, valid and test as in the file),
each with early stopping on valid (the trainer keeps the best evaluation's
model, `--early_stopping`), then scores that model on test. The unit is the
tables': nats per predicted frame, the Bernoulli NLL (independent keys) or
the exact log-probability of a frame (joint models) summed over every
predicted frame of the split and divided by their number; a sequence model
predicts every frame of a piece but the first.

A row's settings are those chosen on the valid splits of JSB Chorales and
Nottingham, by the file's name (another file, such as MuseData.mat or
Piano-midi.de.mat, takes the Nottingham settings). With --search each row
trains every candidate setting it lists and keeps the one with the lowest
valid NLL: hyperparameters are chosen on valid only, never on test.

A row may instead average the key probabilities of other rows' best
models (`tcn+lstm_pitch_window`): still a model of independent keys, whose
parameters are its members' together; its members are run first when this
invocation has not run them (in the same --work_dir a finished run is
reused, and its time is not counted again).

Writes a JSON list, one object per row: dataset, row, output
('independent' or 'joint'), parameters, valid_nll, test_nll (nats per
frame), frame_accuracy (Bay et al. 2009, on test), cpu_seconds (of
building the data, training and scoring), with the config, its overrides,
the best step, the candidates tried and the published figure beside it; and
prints the table with the published rows.
"""

import dataclasses
import hashlib
import json
import logging
import os
import sys
import tempfile
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=wrong-import-position
from musicrnn import configs
from musicrnn.pipelines import boulanger
from musicrnn.runs import evaluate as evaluate_lib
from musicrnn.runs import run_dir as run_dir_lib
from musicrnn.tfrecords import sources
from musicrnn.training import trainer
# pylint: enable=wrong-import-position

flags.DEFINE_string('data', None, 'A benchmark .mat file (JSB_Chorales.mat, '
                    'Nottingham.mat, MuseData.mat, Piano-midi.de.mat).')
flags.DEFINE_list('rows', [], 'Rows to run (default: all): ' )
flags.DEFINE_string('output_json', None, 'Where the JSON list goes.')
flags.DEFINE_string('work_dir', None, 'Datasets and runs (default: a '
                    'temporary folder, deleted).')
flags.DEFINE_bool('search', False, 'Train every candidate setting of a row '
                  'and keep the best on valid (default: the chosen one).')
flags.DEFINE_integer('max_steps', 30000, 'Most training steps of a run.',
                     lower_bound=1)
flags.DEFINE_integer('patience', 10, 'Stop after this many evaluations (an '
                     'epoch or 25 steps apart) without a better valid NLL.',
                     lower_bound=1)
flags.DEFINE_integer('seed', 1, 'Seed of every run.')
flags.DEFINE_list('tables_from', [], 'Print the table of results already '
                  'written (JSON lists of this script, rows of one dataset run '
                  'apart) instead of training.')
flags.DEFINE_bool('smoke', False, 'A few steps of each row, to check the '
                  'script runs; the figures mean nothing.')
FLAGS = flags.FLAGS

JSB = 'JSB_Chorales'
NOTTINGHAM = 'Nottingham'

# Published test NLL (nats per frame): name -> (output, JSB, Nottingham,
# source). BL 2012: Boulanger-Lewandowski et al., Table 1; Bai et al. 2018:
# the TCN paper, Table 1.
PUBLISHED = {
    'Note 1-Gram': ('independent', 11.06, 10.25, 'BL 2012'),
    'RNN': ('independent', 8.71, 4.46, 'BL 2012'),
    'RNN (Hessian-free)': ('independent', 8.58, 3.89, 'BL 2012'),
    'LSTM': ('independent', 8.45, 3.29, 'Bai et al. 2018'),
    'GRU': ('independent', 8.43, 3.46, 'Bai et al. 2018'),
    'TCN': ('independent', 8.10, 3.07, 'Bai et al. 2018'),
    'RNN-RBM': ('joint', 6.27, 2.39, 'BL 2012'),
    'RNN-NADE': ('joint', 5.83, 2.91, 'BL 2012'),
    'RNN-NADE (Hessian-free)': ('joint', 5.56, 2.31, 'BL 2012'),
}


@dataclasses.dataclass(frozen=True)
class Row:
  """A row of the table.

  Attributes:
    output: 'independent' or 'joint'.
    candidates: {dataset: [(musicrnn config, hparams[, stages]), ...]}, the
      chosen setting first; `NOTTINGHAM`'s serve a file of another name.
      None: the Note 1-Gram, counted, not trained. `stages` ((step,
      hparams), ...): the run stops at each step and goes on from its
      checkpoint with those hparams added (settings a run may resume with:
      `run_dir.RESUMABLE_SETTINGS`, e.g. a lower dropout).
    published: the PUBLISHED row it reproduces, or None (a row of ours).
    members: rows of independent keys whose best models this row averages
      (`ensemble_probabilities`); its parameters are theirs together.
  """
  output: str
  candidates: dict = None
  published: str = None
  members: tuple = ()

  def settings(self, dataset):
    return self.candidates.get(dataset) or self.candidates[NOTTINGHAM]


# Nottingham's frames are eighth notes (configs/tcn.py); JSB's quarters.
_EIGHTHS = 'steps_per_quarter=2'


_WHOLE = 'max_events=0,min_events=2,transpositions=[0],batch_size=16'
_SHIFTED = 'transpositions=[-5,-4,-3,-2,-1,0,1,2,3,4,5]'
# Nottingham's whole pieces run from 40 to 1,788 frames: batches of pieces
# of like length (in frames, or in events of about five a frame) pad less.
_FRAME_BUCKETS = 'bucket_boundaries=[150,200,250,300,400,550]'
_EVENT_BUCKETS = 'bucket_boundaries=[700,1000,1250,1500,2000,2750]'
_DECAY = 'lr_decay_patience=3'
_PITCH_WINDOW = ('rnn_layer_sizes=[256],pitch_window=12,head_units=64,'
                 'batch_size=8,learning_rate=0.002')


def _on_both(config, jsb, nottingham):
  """The candidates of `config` on each dataset: hparams, or (hparams,
  stages) (`Row`), at the dataset's frame."""
  def settings(grid, entries):
    out = []
    for entry in entries:
      hparams, *stages = (entry,) if isinstance(entry, str) else entry
      out.append((config, ','.join(filter(None, [grid, hparams])), *stages))
    return out
  return {JSB: settings('steps_per_quarter=1', jsb),
          NOTTINGHAM: settings(_EIGHTHS, nottingham)}


ROWS = {
    'note_1gram': Row('independent', None, 'Note 1-Gram'),
    'rnn': Row('independent', _on_both(
        'frames_lstm', ['cell=rnn,rnn_layer_sizes=[128],dropout_rate=0.3'],
        ['cell=rnn,rnn_layer_sizes=[256],dropout_rate=0.2,'
         + _FRAME_BUCKETS]), 'RNN'),
    'lstm': Row('independent', _on_both(
        'frames_lstm', ['rnn_layer_sizes=[256],dropout_rate=0.3'],
        ['rnn_layer_sizes=[384],dropout_rate=0.2,'
         + _FRAME_BUCKETS]), 'LSTM'),
    'gru': Row('independent', _on_both(
        'frames_lstm', ['cell=gru,rnn_layer_sizes=[256],dropout_rate=0.3'],
        ['cell=gru,rnn_layer_sizes=[384],dropout_rate=0.2,'
         + _FRAME_BUCKETS]), 'GRU'),
    # The learning rate falls tenfold after 3 evaluations without a better
    # one, as Bai et al. trained theirs.
    'tcn': Row('independent', {JSB: [('tcn', _DECAY)],
                               NOTTINGHAM: [('tcn_nottingham', _DECAY)]}, 'TCN'),
    # Magenta's RNN-NADE (3x128 LSTM, NADE of 128) on the pieces as
    # published, as BL 2012 trained theirs: no transposition, whole pieces.
    'rnn-nade': Row('joint', _on_both(
        'rnn-nade', [_WHOLE], [_WHOLE + ',' + _FRAME_BUCKETS]), 'RNN-NADE'),
    # Ours. Both train on the pieces transposed by -5..+5 semitones (train
    # only; valid and test as published), which lowered the valid NLL of
    # every model tried; the first setting of each is the one chosen on
    # the valid splits, the others what --search tries beside it.
    'lstm_pitch_window': Row('independent', _on_both(
        'frames_lstm', [_SHIFTED + ',' + _PITCH_WINDOW,
                        _SHIFTED + ',' + _PITCH_WINDOW + ',dropout_rate=0.5',
                        _SHIFTED + ',rnn_layer_sizes=[256],batch_size=8,'
                        'learning_rate=0.002'],
        [_SHIFTED + ',' + _PITCH_WINDOW + ',' + _FRAME_BUCKETS + ','
         + _DECAY])),
    'frame_events_lstm': Row('joint', _on_both(
        'frame_events_lstm', [_SHIFTED + ',rnn_layer_sizes=[384]',
                              _SHIFTED + ',rnn_layer_sizes=[256]'],
        # Nottingham's: dropout 0.3 for 2,494 steps (the rate fell tenfold
        # at step 1,204), then on from that checkpoint at dropout 0.1 (its
        # training loss had stayed above its valid loss: too much dropout
        # for 11 keys of 694 pieces).
        [(_SHIFTED + ',rnn_layer_sizes=[384],lr_decay_patience=2,'
          + _EVENT_BUCKETS, ((2494, 'dropout_rate=0.1'),))])),
    # Ours: each key's probability the mean of two rows' (still a model of
    # independent keys). The pair chosen on JSB's valid split among the
    # pairs and triples of the rows above.
    'tcn+lstm_pitch_window': Row('independent',
                                 members=('tcn', 'lstm_pitch_window')),
}


def dataset_name(path):
  return os.path.splitext(os.path.basename(path))[0]


def _hparams(text, smoke):
  """The row's overrides; with --smoke the tiny config's batch of 4 alone."""
  return 'batch_size=4' if smoke else text


def _data_dir(config, mat_path, work_dir):
  """A dataset of `config`'s frames and data settings from `mat_path`,
  built once per distinct setting."""
  key = json.dumps([config.encoding.to_dict(), config.data.to_dict()],
                   sort_keys=True)
  folder = os.path.join(work_dir, 'data', dataset_name(mat_path),
                        hashlib.sha256(key.encode()).hexdigest()[:12])
  if not os.path.exists(os.path.join(folder, 'dataset.json')):
    boulanger.create_dataset(config, mat_path, folder, overwrite=True)
  return folder


def event_frame_accuracy(run, data_dir, split='test', batch_size=32):
  """Bay et al.'s frame accuracy of an event model over frames
  (`frame_events`), which its evaluation does not report: each frame after
  a piece's first decoded greedily, key by key (the most likely allowed
  token, keys rising, until FRAME_END), from the model's state after the
  true frames before it; (accuracy, frames scored)."""
  codec = run.codec
  end = codec.frame_end_id
  grammar = codec.grammar()
  step = tf.function(run.model.step)
  pieces = [example['tokens'].numpy() for example in sources.open_source(
      data_dir).records(split, shuffle=False, repeat=False)]
  hits = wrong = scored = 0
  for first in range(0, len(pieces), batch_size):
    group = pieces[first:first + batch_size]
    length = max(len(p) for p in group)
    ids = np.full((len(group), length), end, np.int32)
    for row, piece in enumerate(group):
      ids[row, :len(piece)] = piece
    truth = [codec.frames(piece) for piece in group]
    ends_seen = np.zeros(len(group), int)
    states = run.model.initial_state(len(group))
    kept_logits, kept_states, true_frames = [], [], []
    for t in range(length - 1):
      logits, states = step({'tokens': tf.constant(ids[:, t])}, states)
      rows = [r for r, piece in enumerate(group)
              if t < len(piece) - 1 and piece[t] == end]
      for r in rows:
        ends_seen[r] += 1
        true_frames.append(truth[r][ends_seen[r]])
      if rows:
        kept_logits.append(tf.gather(logits, rows))
        kept_states.append(run.model.reorder_states(states, rows))
    if not true_frames:
      continue
    logits = tf.concat(kept_logits, 0).numpy()
    states = [tf.concat(parts, 0) for parts in zip(*kept_states)]
    count = len(true_frames)
    predicted = np.zeros((count, codec.settings.num_keys), np.uint8)
    state = grammar.initial_state(count, np)
    done = np.zeros(count, bool)
    for _ in range(codec.vocab_size):
      allowed = grammar.allowed(state, np)
      token = np.where(allowed, logits, -np.inf).argmax(-1).astype(np.int32)
      token[done] = end
      keys = ~done & (token != end)
      predicted[np.nonzero(keys)[0], token[keys]] = 1
      done |= token == end
      if done.all():
        break
      state = grammar.update(state, token, np)
      logits, states = step({'tokens': tf.constant(token)}, states)
      logits = logits.numpy()
    true = np.asarray(true_frames)
    hits += int((predicted & true).sum())
    wrong += int((predicted ^ true).sum())
    scored += count
  return (hits / (hits + wrong) if hits + wrong else 0.0), scored


def key_probabilities(run, rolls):
  """Per piece of `rolls` (0/1 [frames, 88]; pieces under two frames
  left out), float64 [frames - 1, 88]: the probability `run`'s frame model
  (`protocols.FrameModel`) gives each key of each frame after the first,
  from the frames before it."""
  encode = run.codec.encode_key_frames
  probabilities = []
  for roll in rolls:
    if len(roll) < 2:
      continue
    frames = encode(roll)[None, :-1].astype(np.float32)
    logits = run.model({'pianoroll': frames}, training=False)
    probabilities.append(tf.sigmoid(tf.cast(logits, tf.float64))[0].numpy())
  return probabilities


def ensemble_scores(runs, rolls):
  """The NLL per predicted frame and Bay et al.'s frame accuracy (a key
  predicted where its probability exceeds 0.5) of the model whose key
  probabilities are the mean of `runs`'."""
  pieces = [r for r in rolls if len(r) >= 2]
  mean = [np.mean(parts, 0) for parts in zip(
      *(key_probabilities(run, pieces) for run in runs))]
  hits = wrong = 0
  for p, roll in zip(mean, pieces):
    predicted, true = p > 0.5, roll[1:].astype(bool)
    hits += int((predicted & true).sum())
    wrong += int((predicted ^ true).sum())
  return (boulanger.frame_nll(mean, pieces),
          hits / (hits + wrong) if hits + wrong else 0.0)


def train_and_score(config, mat_path, run_dir, work_dir, stages=()):
  """(valid NLL of the best evaluation, its step, test metrics, parameters)
  of one setting, trained with early stopping on valid; with `stages`
  ((step, hparams), ...: `Row`), stopped at each step and resumed with
  those hparams added (the best model is the best of every stage's)."""
  data = _data_dir(config, mat_path, work_dir)
  rolls = boulanger.read_mat(mat_path)
  # An evaluation every pass over the published train pieces (a row that
  # transposes them sees each piece in one of its keys per pass), or every
  # 25 steps when that is shorter.
  eval_every = max(len(rolls['train']) // config.train.batch_size, 25)
  if FLAGS.smoke:
    eval_every = 2
  config = config.copy_and_resolve_references()   # the stages change it
  last = 6 if FLAGS.smoke else FLAGS.max_steps
  ends = [min(step, last // 2 if FLAGS.smoke else last) for step, _ in stages]
  for index, end in enumerate(ends + [last]):
    if index:
      configs.apply_overrides(config, hparams=stages[index - 1][1])
    trainer.train(config, data, run_dir, num_steps=end,
                  eval_every=eval_every, checkpoint_every=eval_every,
                  log_every=eval_every, early_stopping=FLAGS.patience,
                  seed=FLAGS.seed, progress=False)
  with open(os.path.join(run_dir, run_dir_lib.BEST_JSON)) as f:
    best = json.load(f)
  test = evaluate_lib.evaluate_run(run_dir, split='test', best=True)
  run = run_dir_lib.load_run(run_dir, best=True)
  parameters = run.model.count_params()
  if 'frame_accuracy' not in test:
    test['frame_accuracy'], frames = event_frame_accuracy(run, data)
    assert frames == test['frames'], (frames, test['frames'])
  # The best model is chosen by its task's metric (per event for an event
  # model); its valid NLL per frame is read from the same evaluation.
  return best['metrics']['nll_per_frame'], best['step'], test, parameters


def one_gram(mat_path):
  """The Note 1-Gram: each key's train frequency predicted everywhere."""
  rolls = boulanger.read_mat(mat_path)
  p = boulanger.key_frequencies(rolls['train'])

  def nll(split, first):
    return boulanger.frame_nll([np.tile(p, (len(r) - (0 if first else 1), 1))
                                for r in rolls[split] if len(r) >= 2],
                               [r for r in rolls[split] if len(r) >= 2])

  return {'valid_nll': nll('valid', False), 'test_nll': nll('test', False),
          'test_nll_every_frame': nll('test', True), 'frame_accuracy': 0.0,
          'parameters': boulanger.KEYS}


def run_row(name, row, mat_path, work_dir, done=None):
  """The result of row `name`; `done` holds the results of rows already
  run (an ensemble's members are taken from it, or run)."""
  done = {} if done is None else done
  dataset = dataset_name(mat_path)
  start = time.process_time()
  result = {'dataset': dataset, 'row': name, 'output': row.output}
  if row.members:
    members = []
    for member in row.members:
      if member in done:   # run before this row: its time counts here too
        members.append(done[member])
        start -= done[member]['cpu_seconds']
      else:
        members.append(run_row(member, ROWS[member], mat_path, work_dir, done))
    runs = [run_dir_lib.load_run(m['run_dir'], best=True) for m in members]
    rolls = boulanger.read_mat(mat_path)
    valid, _ = ensemble_scores(runs, rolls['valid'])
    test, accuracy = ensemble_scores(runs, rolls['test'])
    result.update(
        members=list(row.members), valid_nll=valid, test_nll=test,
        frame_accuracy=accuracy,
        parameters=sum(m['parameters'] for m in members),
        test_frames=sum(len(r) - 1 for r in rolls['test'] if len(r) >= 2))
  elif row.candidates is None:
    result.update(one_gram(mat_path))
  else:
    settings = row.settings(dataset)
    tried = []
    for index, (config_name, hparams, *stages) in enumerate(
        settings if FLAGS.search else settings[:1]):
      stages = stages[0] if stages else ()
      config = configs.get_config(config_name + ('_tiny' if FLAGS.smoke else ''))
      configs.apply_overrides(config, hparams=_hparams(hparams, FLAGS.smoke))
      run_dir = os.path.join(work_dir, 'runs', dataset, name, str(index))
      logging.info('polyphonic benchmark: %s on %s, %s: %s', name, dataset,
                   config.name, hparams or 'the config as it is')
      valid, step, test, parameters = train_and_score(config, mat_path,
                                                      run_dir, work_dir, stages)
      tried.append({'hparams': hparams, 'stages': [list(s) for s in stages],
                    'valid_nll': valid, 'best_step': step,
                    'test': test, 'parameters': parameters,
                    'config': config.name, 'run_dir': run_dir})
      logging.info('polyphonic benchmark: %s valid %.3f at step %d', name,
                   valid, step)
    chosen = min(tried, key=lambda t: t['valid_nll'])
    result.update(
        config=chosen['config'], hparams=chosen['hparams'],
        stages=chosen['stages'],
        parameters=chosen['parameters'], valid_nll=chosen['valid_nll'],
        best_step=chosen['best_step'],
        test_nll=chosen['test']['nll_per_frame'],
        frame_accuracy=chosen['test']['frame_accuracy'],
        test_frames=chosen['test']['frames'], run_dir=chosen['run_dir'],
        candidates=[{k: t[k] for k in ('hparams', 'valid_nll', 'best_step')}
                    for t in tried])
  result['cpu_seconds'] = round(time.process_time() - start, 1)
  if row.published:
    output, jsb, nottingham, source = PUBLISHED[row.published]
    published = {JSB: jsb, NOTTINGHAM: nottingham}.get(dataset)
    result.update(published_row=row.published, published_source=source,
                  published_test_nll=published)
  return result


def table(results, dataset):
  """Markdown: the published rows of `dataset` and ours, by output kind."""
  column = {JSB: 1, NOTTINGHAM: 2}.get(dataset)
  lines = ['| model | output | parameters | valid NLL | test NLL | published '
           '| test - published | source |',
           '|---|---|---:|---:|---:|---:|---:|---|']
  ours = {r['published_row']: r for r in results if r.get('published_row')}
  for label, entry in PUBLISHED.items():
    mine = ours.pop(label, None)
    published = f'{entry[column]:.2f}' if column else ''
    if mine:
      difference = (f'{mine["test_nll"] - entry[column]:+.2f}' if column
                    else '')
      lines.append(f'| {label}: **musicrnn `{mine["row"]}`** | {entry[0]} | '
                   f'{mine["parameters"]:,} | {mine["valid_nll"]:.2f} | '
                   f'**{mine["test_nll"]:.2f}** | {published} | {difference} '
                   f'| {entry[3]} |')
    elif column:
      lines.append(f'| {label} | {entry[0]} | | | | {published} | | '
                   f'{entry[3]} |')
  for r in results:
    if not r.get('published_row'):
      lines.append(f'| musicrnn `{r["row"]}` | {r["output"]} | '
                   f'{r["parameters"]:,} | {r["valid_nll"]:.2f} | '
                   f'**{r["test_nll"]:.2f}** | | | ours |')
  return '\n'.join(lines)


def main(argv):
  del argv
  if FLAGS.tables_from:
    results = []
    for path in FLAGS.tables_from:
      with open(path) as f:
        results.extend(json.load(f))
    for dataset in dict.fromkeys(r['dataset'] for r in results):
      print(f'\n{dataset}: test NLL in nats per predicted frame\n')
      print(table([r for r in results if r['dataset'] == dataset], dataset))
    return
  if not FLAGS.data:
    raise app.UsageError('--data=FILE.mat is required')
  unknown = [r for r in FLAGS.rows if r not in ROWS]
  if unknown:
    raise app.UsageError(f'unknown rows {unknown}; the rows: {", ".join(ROWS)}')
  names = FLAGS.rows or list(ROWS)
  work_dir = FLAGS.work_dir or tempfile.mkdtemp(prefix='polyphonic_')
  results, done = [], {}
  for name in names:
    results.append(run_row(name, ROWS[name], FLAGS.data, work_dir, done))
    done[name] = results[-1]
    logging.info('polyphonic benchmark: %s', json.dumps(results[-1]))
    if FLAGS.output_json:
      with open(FLAGS.output_json, 'w') as f:
        json.dump(results, f, indent=2)
  print(f'\n{dataset_name(FLAGS.data)}: test NLL in nats per predicted frame\n')
  print(table(results, dataset_name(FLAGS.data)))


if __name__ == '__main__':
  flags.FLAGS['rows'].help += ', '.join(ROWS)
  app.run(main)
