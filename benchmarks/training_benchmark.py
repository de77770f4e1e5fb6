r"""Benchmark: musicrnn's trainer against a plain Keras model fed from NumPy.

  python benchmarks/training_benchmark.py \
    --performance_data=/tmp/datasets/asap_performance_with_dynamics \
    --pianoroll_data=/tmp/datasets/nottingham_pianoroll_gan \
    --output_json=/tmp/training.json --steps=20

For each model family (Performance RNN's event LSTM, Music Transformer,
dilated CNN, piano-roll GAN, MusicVAE's cat-mel_2bar_small), at its default
config and at a CPU size (CPU_HPARAMS), it measures in the same run:

  musicrnn  `trainer.train` on the dataset: tf.data input from the TFRecords,
            the distribution strategy, the compiled train step, logging;
            events/s of the second half of the steps (the first half traces
            and warms up);
  baseline  the same model (same config, same shapes) trained with the most
            direct Keras code: `model.compile` + `model.fit` on NumPy arrays
            already in memory (the same batches, padded to one length, real
            events weighted 1); the GAN, which has no `fit` objective, runs
            its own step (`adversarial_step`) in a tf.function over the NumPy batches;
            MusicVAE, a plain Keras functional model of the same shape (a
            bidirectional LSTM, mu and sigma, z drawn, the flat LSTM decoder
            teacher forced, the ELBO as its loss) fit on the whole
            sequences.

MusicVAE's trainer rows run teacher forced (`music_vae`, what the baseline
does) and with Magenta's scheduled sampling (`music_vae_sampled`: the
decoder run a step at a time, to read its own draws), each against the same
baseline.

and reports events/s (real, non-padding events; piano-roll steps for the
GAN) and the ratio musicrnn / baseline: what the input pipeline and the
trainer cost. Results name the device. `--smoke` trains the tiny configs on
datasets built from the committed fixtures (the tests run it).
"""

import json
import tempfile
import time

from absl import app
from absl import flags
import keras
import numpy as np
import tensorflow as tf

import smoke_data
from musicrnn import configs
from musicrnn import encodings
from musicrnn import models
from musicrnn.tasks import variational
from musicrnn.tfrecords import input as input_lib
from musicrnn.tfrecords import schema
from musicrnn.training import strategy as strategy_lib
from musicrnn.training import trainer

flags.DEFINE_string('performance_data', None,
                    'Dataset of performance events (32 velocity bins) for the '
                    'event LSTM, transformer and CNN.')
flags.DEFINE_string('pianoroll_data', None, 'Piano-roll dataset for the GAN.')
flags.DEFINE_string('melody_data', None, "MusicVAE's 2-bar melody dataset "
                    '(musicrnn_create_dataset --config=cat-mel_2bar_small).')
flags.DEFINE_string('output_json', None, 'Where to write the results.')
flags.DEFINE_integer('steps', 20, 'Training steps timed per measurement '
                     '(after as many warm-up steps).', lower_bound=2)
flags.DEFINE_list('sizes', ['default', 'cpu'], 'Which sizes to measure.')
flags.DEFINE_list('families', ['event_lstm', 'music_transformer', 'dilated_cnn',
                               'pianoroll_gan', 'music_vae',
                               'music_vae_sampled'],
                  'Which families to measure.')
flags.DEFINE_bool('smoke', False, 'Tiny configs on datasets of the committed '
                  'fixtures, or on --performance_data and --pianoroll_data '
                  'when given (tests).')
FLAGS = flags.FLAGS

# The sizes the issue 5 and 6 runs trained at on 2 CPU cores.
CPU_HPARAMS = {
    'event_lstm': 'rnn_layer_sizes=[256,256],batch_size=32',
    'music_transformer': ('num_layers=3,num_heads=4,model_dim=128,'
                          'feed_forward_dim=512,max_relative_distance=512,'
                          'batch_size=8'),
    'dilated_cnn': ('num_layers_per_block=9,residual_channels=64,'
                    'skip_channels=128,batch_size=16'),
    'pianoroll_gan': ('latent_dim=64,generator_channels=128,critic_channels=64,'
                      'batch_size=32'),
    'music_vae': 'batch_size=64',
    'music_vae_sampled': 'batch_size=64',
}
# MusicVAE's rows: teacher forced as the baseline, or with Magenta's
# scheduled sampling (the config's).
VAE_SCHEDULES = {'music_vae': 'sampling_schedule=constant,sampling_rate=0.0',
                 'music_vae_sampled': ''}


def time_trainer(config, data, steps, seed=0):
  """events/s of trainer.train over the second half of 2 * steps."""
  with tempfile.TemporaryDirectory() as run_dir:
    summary = trainer.train(config, data, run_dir, num_steps=2 * steps,
                            log_every=steps, checkpoint_every=10 * steps,
                            eval_every=10 * steps, eval_max_batches=1, seed=seed,
                            progress=False)
  record = summary.history[-1]
  if 'events_per_second' in record:
    return record['events_per_second']
  # The GAN's records count steps: events are its piano-roll steps.
  return record['steps_per_second'] * config.train.batch_size * _roll_steps(config)


def _roll_steps(config):
  return encodings.codec_from_config(config).segment_shape[0]


def numpy_batches(config, data, steps):
  """`steps` training batches of the dataset as NumPy, padded to one length."""
  ds = input_lib.make_dataset(data, 'train', config.train.batch_size, seed=0,
                              drop_remainder=True,
                              crop_length=input_lib.crop_length(config))
  batches = [tf.nest.map_structure(lambda t: t.numpy(), b) for b in ds.take(steps)]
  if config.encoding.name == 'pianoroll':
    return np.concatenate([b[0][schema.PIANOROLL] for b in batches])
  length = max(b[1].shape[1] for b in batches)

  def pad(a):
    return np.pad(a, [(0, 0), (0, length - a.shape[1])] + [(0, 0)] * (a.ndim - 2))

  tokens = np.concatenate([pad(b[0][schema.TOKENS]) for b in batches])
  labels = np.concatenate([pad(b[1]) for b in batches])
  weights = np.concatenate([pad(b[2]) for b in batches])
  return tokens, labels, weights


def time_keras_fit(config, arrays, steps, seed=0):
  """events/s of model.fit on NumPy arrays, the second of two epochs."""
  keras.utils.set_random_seed(seed)
  codec = encodings.codec_from_config(config)
  model = models.build_model(config, codec, [])
  tokens, labels, weights = arrays
  model.compile(optimizer=keras.optimizers.Adam(config.train.learning_rate,
                                                global_clipnorm=config.train.clip_norm),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  batch = config.train.batch_size
  x = {schema.TOKENS: tokens}
  model.fit(x, labels, sample_weight=weights, batch_size=batch, epochs=1,
            verbose=0, shuffle=False)   # traces and warms up
  start = time.perf_counter()
  model.fit(x, labels, sample_weight=weights, batch_size=batch, epochs=1,
            verbose=0, shuffle=False)
  seconds = time.perf_counter() - start
  return float(weights.sum()) / seconds


def vae_sequences(config, data, steps):
  """[steps * batch, max_seq_len] int32 whole training sequences (the
  trainer's batches, put back together)."""
  ds = input_lib.make_dataset(data, 'train', config.train.batch_size, seed=0,
                              drop_remainder=True)
  tokens = [variational.whole_sequences(*batch, config.model.max_seq_len)[0]
            for batch in ds.take(steps)]
  return np.concatenate([t.numpy() for t in tokens])


class _Latent(keras.layers.Layer):
  """z = mu + sigma * eps, adding beta * max(KL - free bits, 0) (the mean
  over the batch) to the model's loss."""

  def __init__(self, beta, free_nats, **kwargs):
    super().__init__(**kwargs)
    self.beta, self.free_nats = beta, free_nats
    self.seed = keras.random.SeedGenerator(0)

  def call(self, mu, sigma):
    kl = keras.ops.sum(-keras.ops.log(sigma) + 0.5 * (
        keras.ops.square(sigma) + keras.ops.square(mu) - 1.0), axis=-1)
    self.add_loss(self.beta * keras.ops.mean(
        keras.ops.maximum(kl - self.free_nats, 0.0)))
    return mu + sigma * keras.random.normal(keras.ops.shape(mu),
                                            seed=self.seed)


def vae_keras_model(config, vocab_size):
  """A plain Keras functional MusicVAE of the config's shape (flat decoder,
  one-hot encoder input)."""
  m, t = config.model, config.train
  length = m.max_seq_len
  tokens = keras.Input((length,), dtype='int32', name='tokens')
  x = keras.ops.one_hot(tokens, vocab_size)
  for i, units in enumerate(m.enc_rnn_size):
    last = i == len(m.enc_rnn_size) - 1
    x = keras.layers.Bidirectional(keras.layers.LSTM(
        units, return_sequences=not last))(x)
  mu = keras.layers.Dense(m.z_size)(x)
  sigma = keras.layers.Dense(m.z_size, activation='softplus')(x)
  z = _Latent(t.max_beta, t.free_bits * np.log(2.0))(mu, sigma)
  states = keras.layers.Dense(2 * sum(m.dec_rnn_size), activation='tanh')(z)
  previous = keras.ops.pad(tokens[:, :-1], [[0, 0], [1, 0]], constant_values=-1)
  y = keras.ops.concatenate([
      keras.ops.one_hot(previous, vocab_size),
      keras.ops.repeat(z[:, None], length, axis=1)], axis=-1)
  start = 0
  for units in m.dec_rnn_size:
    h = states[:, start:start + units]
    c = states[:, start + units:start + 2 * units]
    start += 2 * units
    y = keras.layers.LSTM(units, return_sequences=True)(y, initial_state=[h, c])
  logits = keras.layers.Dense(vocab_size)(y)
  return keras.Model(tokens, logits)


def time_vae_fit(config, sequences, seed=0):
  """Steps/s (every step real) of the plain Keras MusicVAE's fit on the
  whole sequences, the second of two epochs."""
  keras.utils.set_random_seed(seed)
  model = vae_keras_model(config,
                          encodings.codec_from_config(config).vocab_size)

  def summed_nll(labels, logits):
    return keras.ops.sum(keras.losses.sparse_categorical_crossentropy(
        labels, logits, from_logits=True), axis=-1)

  model.compile(optimizer=keras.optimizers.Adam(
      config.train.learning_rate, global_clipnorm=config.train.clip_norm),
                loss=summed_nll)
  batch = config.train.batch_size
  model.fit(sequences, sequences, batch_size=batch, epochs=1, verbose=0,
            shuffle=False)   # traces and warms up
  start = time.perf_counter()
  model.fit(sequences, sequences, batch_size=batch, epochs=1, verbose=0,
            shuffle=False)
  return sequences.size / (time.perf_counter() - start)


def time_gan_loop(config, rolls, steps, seed=0):
  """Piano-roll steps/s of the GAN's own step (`adversarial_step`) over NumPy batches."""
  keras.utils.set_random_seed(seed)
  codec = encodings.codec_from_config(config)
  model = models.build_model(config, codec, [])
  model.make_optimizers()
  batch = config.train.batch_size
  step_fn = tf.function(model.adversarial_step)
  batches = [rolls[i * batch:(i + 1) * batch] for i in range(len(rolls) // batch)]
  for b in batches:       # traces and warms up
    step_fn(b)
  start = time.perf_counter()
  for b in batches:
    step_fn(b)
  seconds = time.perf_counter() - start
  return len(batches) * batch * rolls.shape[1] / seconds


def run_benchmark(families, sizes, steps, performance_data, pianoroll_data,
                  smoke, melody_data=None):
  results = {'device': strategy_lib.describe_devices(), 'steps': steps, 'runs': []}
  for family in families:
    data = {'pianoroll_gan': pianoroll_data, 'music_vae': melody_data,
            'music_vae_sampled': melody_data}.get(family, performance_data)
    if not data:
      print(f'skipping {family}: no dataset given')
      continue
    for size in sizes:
      config = smoke_data.family_config(
          family, data, smoke, CPU_HPARAMS[family] if size == 'cpu' else None)
      if family in VAE_SCHEDULES:
        configs.apply_overrides(config, hparams=VAE_SCHEDULES[family])
      ours = time_trainer(config, data, steps)
      if family == 'pianoroll_gan':
        base = time_gan_loop(config, numpy_batches(config, data, steps), steps)
      elif family in VAE_SCHEDULES:
        base = time_vae_fit(config, vae_sequences(config, data, steps))
      else:
        base = time_keras_fit(config, numpy_batches(config, data, steps), steps)
      run = {'family': family, 'size': size, 'config': config.name,
             'model': json.loads(json.dumps(config.model.to_dict())),
             'batch_size': config.train.batch_size,
             'musicrnn_events_per_second': round(ours, 1),
             'baseline_events_per_second': round(base, 1),
             'speed_ratio': round(ours / base, 3)}
      results['runs'].append(run)
      print(f'{family:<18}{size:<8}{ours:>14.0f}{base:>14.0f}{ours / base:>8.2f}',
            flush=True)
  return results


def main(argv):
  del argv
  if not FLAGS.output_json:
    raise app.UsageError('--output_json is required')
  performance_data, pianoroll_data = FLAGS.performance_data, FLAGS.pianoroll_data
  steps, sizes = FLAGS.steps, FLAGS.sizes
  tmp = None
  if FLAGS.smoke:
    if not (performance_data or pianoroll_data or FLAGS.melody_data):
      tmp = tempfile.TemporaryDirectory()
      performance_data, pianoroll_data = smoke_data.fixture_datasets(tmp.name)
    steps, sizes = 2, ['default']
  print(f'{"family":<18}{"size":<8}{"musicrnn ev/s":>14}{"keras ev/s":>14}{"ratio":>8}')
  results = run_benchmark(FLAGS.families, sizes, steps, performance_data,
                          pianoroll_data, FLAGS.smoke, FLAGS.melody_data)
  results['smoke'] = FLAGS.smoke
  with open(FLAGS.output_json, 'w') as f:
    json.dump(results, f, indent=2)
  print(f'device: {results["device"]}; wrote {FLAGS.output_json}')
  if tmp is not None:
    tmp.cleanup()


if __name__ == '__main__':
  app.run(main)
