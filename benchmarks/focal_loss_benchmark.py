r"""Benchmark: the piano-roll LSTM trained with binary cross-entropy against
focal loss, on one dataset and one eval split.

  python benchmarks/focal_loss_benchmark.py --dataset=/tmp/nottingham_frames \
    --num_steps=1500 --hparams='rnn_layer_sizes=[256,256],batch_size=32' \
    --output_json=/tmp/focal.json

Trains `pianoroll_lstm` (BCE) and `pianoroll_lstm_focal` (α 0.5, γ 2) with
the same seed, steps, batches and hparams on `--dataset` (a
musicrnn_create_dataset folder of either config: they build the same
data), then for each run reports on the dataset's eval split what its
evaluation gives (its own loss, BCE per bit, onset precision, recall and
F1 of the next frame, silent frames among the predicted next frames), and
the share of silent frames in `--num_outputs` generated outputs of
`--generate_frames` frames (from a silent frame; bits drawn from their
sigmoids, and bits set above 0.5), against the share in the eval data.
`--smoke` trains the tiny configs for a few steps on `--dataset`, by default
one built from the committed fixtures.
"""

import json
import os
import tempfile
import time

from absl import app
from absl import flags
import numpy as np

import smoke_data
from musicrnn import configs
from musicrnn.generation import sampler
from musicrnn.runs import evaluate as evaluate_lib
from musicrnn.runs import run_dir as run_dir_lib
from musicrnn.tfrecords import input as input_lib
from musicrnn.training import trainer

flags.DEFINE_string('dataset', None, 'A frame-roll dataset (musicrnn_create_'
                    'dataset --config=pianoroll_lstm or pianoroll_lstm_focal).')
flags.DEFINE_integer('num_steps', 1500, 'Training steps of each run.')
flags.DEFINE_string('hparams', '', 'Overrides of both configs.')
flags.DEFINE_integer('seed', 1, 'Training and generation seed.')
flags.DEFINE_integer('num_outputs', 16, 'Generated outputs per run and mode.')
flags.DEFINE_integer('generate_frames', 256, 'Frames per generated output.')
flags.DEFINE_string('work_dir', None, 'Where the runs go (default: a '
                    'temporary folder).')
flags.DEFINE_string('output_json', None, 'Where to write the results.')
flags.DEFINE_bool('smoke', False, 'Tiny configs on the committed fixtures.')
FLAGS = flags.FLAGS

CONFIGS = ('pianoroll_lstm', 'pianoroll_lstm_focal')


def silent_share(frames):
  """Share of frames [..., steps, cells] with no bit set."""
  frames = np.asarray(frames)
  return float((frames.reshape(-1, frames.shape[-1]).max(-1) == 0).mean())


def generated_silence(run_dir, num_outputs, num_frames, seed):
  """{binarize mode: share of silent frames} of `num_outputs` outputs of
  `num_frames` frames generated from a silent frame."""
  run = run_dir_lib.load_run(run_dir)
  primer = np.tile(run.codec.empty_primer()[None], (num_outputs, 1, 1))
  return {mode: silent_share(sampler.sample_frames(
      run.model, primer, num_frames - 1, binarize=mode, seed=seed)[:, 1:])
          for mode in ('bernoulli', 'threshold')}


def run_benchmark(dataset, num_steps, hparams, seed, num_outputs, num_frames,
                  work_dir, smoke):
  frames = [f[0]['pianoroll'].numpy() for f in input_lib.make_dataset(
      dataset, 'eval', 1, shuffle=False, repeat=False)]
  results = {'dataset': os.path.abspath(dataset), 'num_steps': num_steps,
             'hparams': hparams, 'seed': seed,
             'eval_silent_share': silent_share(np.concatenate(frames, axis=1)),
             'runs': {}}
  for name in CONFIGS:
    config = configs.get_config(name + ('_tiny' if smoke else ''))
    configs.apply_overrides(config, hparams=hparams)
    run_dir = os.path.join(work_dir, name)
    start = time.process_time()
    summary = trainer.train(config, dataset, run_dir, num_steps=num_steps,
                            seed=seed, log_every=max(1, num_steps // 10),
                            eval_every=num_steps, checkpoint_every=num_steps,
                            progress=False)
    metrics = evaluate_lib.evaluate_run(run_dir)
    results['runs'][name] = {
        'cpu_seconds': time.process_time() - start,
        'train_loss_first': summary.history[0]['loss'],
        'train_loss_last': summary.history[-1]['loss'],
        **{key: metrics[key] for key in (
            'loss_kind', 'loss', 'bce', 'onset_precision', 'onset_recall', 'onset_f1',
            'silent_frames_predicted', 'frames')},
        'generated_silent_share': generated_silence(
            run_dir, num_outputs, num_frames, seed),
    }
  return results


def main(argv):
  del argv
  with tempfile.TemporaryDirectory() as tmp:
    work_dir = FLAGS.work_dir or tmp
    dataset = FLAGS.dataset
    if FLAGS.smoke and not dataset:
      dataset = smoke_data.fixture_frame_dataset(os.path.join(tmp, 'data'))
    if not dataset:
      raise app.UsageError('--dataset is required (or --smoke)')
    results = run_benchmark(
        dataset, 6 if FLAGS.smoke else FLAGS.num_steps, FLAGS.hparams,
        FLAGS.seed, 2 if FLAGS.smoke else FLAGS.num_outputs,
        16 if FLAGS.smoke else FLAGS.generate_frames, work_dir, FLAGS.smoke)
  results['smoke'] = FLAGS.smoke
  text = json.dumps(results, indent=2)
  print(f'eval data: {results["eval_silent_share"]:.3f} of frames silent')
  print(f'{"run":22} {"eval loss":>9} {"BCE/bit":>8} {"onset F1":>8} '
        f'{"silent (bernoulli / threshold)":>31}')
  for name, run in results['runs'].items():
    silent = run['generated_silent_share']
    print(f'{name:22} {run["loss"]:9.4f} {run["bce"]:8.4f} {run["onset_f1"]:8.3f} '
          f'{silent["bernoulli"]:15.3f} / {silent["threshold"]:.3f}')
  if FLAGS.output_json:
    with open(FLAGS.output_json, 'w') as f:
      f.write(text + '\n')


if __name__ == '__main__':
  app.run(main)
