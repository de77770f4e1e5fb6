"""A trained token model as a TensorFlow SavedModel with a `generate` signature.

  saved_model.export('/tmp/perf_run', '/tmp/perf_saved_model')

  # anywhere TensorFlow runs, musicrnn not needed:
  loaded = tf.saved_model.load('/tmp/perf_saved_model')
  tokens = loaded.signatures['generate'](
      primer=tf.constant([[355]], tf.int32), num_steps=tf.constant(500),
      temperature=tf.constant(1.0), top_k=tf.constant(0),
      top_p=tf.constant(1.0), seed=tf.constant(1, tf.int64))['tokens']

The signature runs the sampling loop of `musicrnn.generation.sampler`
without XLA, so that any TensorFlow serves it (the same draws as
`sampler.sample(..., jit_compile=False)` for the same seed): primer token ids
[batch, n] in, [batch, n + num_steps] token ids out. A conditioned model
also takes `notes_per_second` [batch] and `pitch_class_histogram` [batch,
12] (the values held for the whole output, as musicrnn_generate's flags).
Token ids are the codec's: `assets/musicrnn_codec.json` holds its spec (and
the config's name and controls), for whoever turns tokens into notes.
"""

import json
import os
import shutil
import tempfile

import tensorflow as tf

from musicrnn.errors import UsageError
from musicrnn.generation import sampler
from musicrnn.training import run_dir as run_dir_lib

ASSET = 'musicrnn_codec.json'


def _schedules(run, values, total):
  """{control name: [batch, total, ...]} from the signature's values."""
  schedules = {}
  for name, control in run.controls:
    if name == 'note_density':
      bins = tf.constant(control.settings.density_bin_ranges, tf.float32)
      classes = tf.searchsorted(bins, values['notes_per_second'], side='right')
      schedules[name] = tf.tile(tf.cast(classes, tf.int32)[:, None], [1, total])
    else:
      histogram = values['pitch_class_histogram']
      total_mass = tf.reduce_sum(histogram, axis=-1, keepdims=True)
      normal = tf.where(total_mass > 0,
                        histogram / tf.where(total_mass > 0, total_mass, 1.0),
                        tf.fill(tf.shape(histogram), 1.0 / 12))
      schedules[name] = tf.tile(normal[:, None, :], [1, total, 1])
  return schedules


# The control inputs of the signature: musicrnn_generate's flags.
_CONTROL_INPUTS = {
    'note_density': ('notes_per_second', tf.TensorSpec([None], tf.float32)),
    'pitch_histogram': ('pitch_class_histogram',
                        tf.TensorSpec([None, 12], tf.float32)),
}


def export(run_dir, output):
  """Writes the latest checkpoint of `run_dir` as a SavedModel to `output`;
  returns `output`.

  Raises:
    UsageError: not a token model (objective next_token), or `output` exists.
  """
  if tf.io.gfile.exists(output):
    raise UsageError(f'--output={output} exists; choose another name or remove it')
  run = run_dir_lib.load_run(run_dir)
  if run.config.train.objective != 'next_token':
    raise UsageError(
        f'--format=saved_model exports token models (event LSTM, Music '
        f'Transformer, dilated CNN); {run.config.name!r} is a '
        f'{run.config.family} run (objective {run.config.train.objective}); '
        'export it as an .mrnn file')
  banned = () if run.codec.end_id is None else (int(run.codec.end_id),)
  names = [name for name, _ in run.controls]
  specs = [tf.TensorSpec([None, None], tf.int32, name='primer'),
           tf.TensorSpec([], tf.int32, name='num_steps'),
           tf.TensorSpec([], tf.float32, name='temperature'),
           tf.TensorSpec([], tf.int32, name='top_k'),
           tf.TensorSpec([], tf.float32, name='top_p'),
           tf.TensorSpec([], tf.int64, name='seed')]
  for name in names:
    flag, spec = _CONTROL_INPUTS[name]
    specs.append(tf.TensorSpec(spec.shape, spec.dtype, name=flag))

  def generate(primer, num_steps, temperature, top_k, top_p, seed, *controls):

    def draw(unused_model, logits, step_seed):
      logits = sampler.filter_logits(logits, temperature, top_k, top_p, banned)
      return sampler.categorical(logits, step_seed)

    values = {_CONTROL_INPUTS[name][0]: value for name, value in zip(names, controls)}
    total = tf.shape(primer)[1] + num_steps
    schedules = _schedules(run, values, total)
    seed_pair = tf.stack([seed, tf.constant(0, tf.int64)])
    tokens = sampler.token_loop(run.model, draw)(primer, schedules, num_steps,
                                                 seed_pair)
    return {'tokens': tokens}

  module = tf.Module()
  module.model = run.model
  folder = tempfile.mkdtemp(prefix='musicrnn-savedmodel-')
  try:
    asset = os.path.join(folder, ASSET)
    with open(asset, 'w') as f:
      json.dump({'encoding': run.codec.spec(), 'config_name': run.config.name,
                 'controls': [{'name': name, 'input': _CONTROL_INPUTS[name][0],
                               'spec': control.spec()}
                              for name, control in run.controls],
                 'end_id': run.codec.end_id, 'step': run.step},
                f, indent=2, sort_keys=True)
    module.codec_spec = tf.saved_model.Asset(asset)
    module.generate = tf.function(generate, input_signature=specs)
    partial = f'{output}.partial'
    tf.saved_model.save(module, partial, signatures={
        'generate': module.generate.get_concrete_function()})
    tf.io.gfile.rename(partial, output)
  finally:
    shutil.rmtree(folder, ignore_errors=True)
  return output
