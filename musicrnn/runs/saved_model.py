"""A trained run as a TensorFlow SavedModel with a `generate` signature.

  saved_model.export('/tmp/perf_run', '/tmp/perf_saved_model')

  # anywhere TensorFlow runs, musicrnn not needed:
  loaded = tf.saved_model.load('/tmp/perf_saved_model')
  tokens = loaded.signatures['generate'](
      primer=tf.constant([[355]], tf.int32), num_steps=tf.constant(500),
      temperature=tf.constant(1.0), top_k=tf.constant(0),
      top_p=tf.constant(1.0), seed=tf.constant(1, tf.int64),
      max_polyphony=tf.constant(0), max_note_duration=tf.constant(5.0))['tokens']

The signature is the run's task's (`task.export_signature`; token models
export the sampling loop of `musicrnn.generation.sampler` without XLA, so
that any TensorFlow serves it): primer token ids [batch, n] in, [batch, n +
num_steps] token ids out, each drawn where the codec's grammar allows
(`max_polyphony`, 0 for none, and `max_note_duration`, the seconds after
which the reader of the tokens ends a note left on); a conditioned model also takes each control's
value per output, under its musicrnn_generate flag's name. Token ids are the
codec's: `assets/musicrnn_codec.json` holds its spec (and the config's name
and controls), for whoever turns tokens into notes.
"""

import json
import os
import shutil
import tempfile

import tensorflow as tf

from musicrnn.errors import UsageError
from musicrnn.runs import run_dir as run_dir_lib

ASSET = 'musicrnn_codec.json'


def export(run_dir, output):
  """Writes the latest checkpoint of `run_dir` as a SavedModel to `output`;
  returns `output`.

  Raises:
    UsageError: the run's task exports no SavedModel, or `output` exists.
  """
  if tf.io.gfile.exists(output):
    raise UsageError(f'--output={output} exists; choose another name or remove it')
  run = run_dir_lib.load_run(run_dir)
  generate, inputs = run.task.export_signature(run)
  module = tf.Module()
  module.model = run.model
  folder = tempfile.mkdtemp(prefix='musicrnn-savedmodel-')
  try:
    asset = os.path.join(folder, ASSET)
    with open(asset, 'w') as f:
      json.dump({'encoding': run.codec.spec(), 'config_name': run.config.name,
                 'controls': [{'name': name, 'input': inputs[name],
                               'spec': control.spec()}
                              for name, control in run.controls],
                 'end_id': run.codec.end_id, 'step': run.step},
                f, indent=2, sort_keys=True)
    module.codec_spec = tf.saved_model.Asset(asset)
    module.generate = generate
    partial = f'{output}.partial'
    tf.saved_model.save(module, partial, signatures={
        'generate': module.generate.get_concrete_function()})
    tf.io.gfile.rename(partial, output)
  finally:
    shutil.rmtree(folder, ignore_errors=True)
  return output
