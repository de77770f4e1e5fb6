"""The event LSTM: incremental steps equal the full pass; configs round-trip."""

import numpy as np
import pytest

import keras

from musicrnn.encodings import performance
from musicrnn.models.event_lstm import EventLSTM
import testing_lib


_inputs = testing_lib.random_event_inputs


@pytest.mark.parametrize('cell, embedding_size, controls', [
    ('lstm', 0, {}),
    ('gru', 0, {}),
    ('lstm', 6, {'note_density': 8, 'pitch_histogram': 12}),
    ('gru', 0, {'note_density': 8}),
    ('rnn', 0, {}),
    ('rnn', 6, {'note_density': 8, 'pitch_histogram': 12}),
])
def test_step_by_step_logits_equal_the_full_pass(cell, embedding_size, controls):
  rng = np.random.default_rng(0)
  vocab, batch, time = 20, 3, 14
  keras.utils.set_random_seed(1)
  model = EventLSTM(vocab, rnn_layer_sizes=(8, 6), cell=cell,
                    embedding_size=embedding_size, control_sizes=controls)
  inputs = _inputs(rng, batch, time, vocab, controls)
  full = keras.ops.convert_to_numpy(model(inputs))
  assert full.shape == (batch, time, vocab)
  states = model.initial_state(batch)
  for t in range(time):
    logits, states = model.step({k: v[:, t] for k, v in inputs.items()}, states)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(logits), full[:, t],
                               atol=1e-5)


def test_config_round_trip_and_saved_model_reloads(tmp_path):
  model = EventLSTM(30, rnn_layer_sizes=(4,), control_sizes={'note_density': 8})
  rng = np.random.default_rng(2)
  inputs = _inputs(rng, 2, 5, 30, {'note_density': 8})
  before = keras.ops.convert_to_numpy(model(inputs))
  clone = EventLSTM.from_config(model.get_config())
  assert clone.get_config() == model.get_config()
  path = str(tmp_path / 'm.keras')
  model.save(path)
  reloaded = keras.saving.load_model(path)
  np.testing.assert_allclose(keras.ops.convert_to_numpy(reloaded(inputs)), before,
                             atol=1e-6)


def test_modulo_inputs_read_the_encodings_vectors_and_round_trip(tmp_path):
  codec = performance.PerformanceCodec(
      performance.PerformanceSettings(num_velocity_bins=32))

  def make():
    return EventLSTM(**EventLSTM.data_arguments(codec, []),
                     rnn_layer_sizes=(6,), event_inputs='modulo')
  keras.utils.set_random_seed(3)
  model = make()
  rng = np.random.default_rng(4)
  inputs = {'tokens': rng.integers(0, codec.vocab_size, (2, 7)).astype('int32')}
  model(inputs)
  # The first layer reads 16 numbers per event, as Magenta's modulo graph.
  assert model.rnn_layers[0].cell.kernel.shape[0] == 16
  np.testing.assert_array_equal(
      keras.ops.convert_to_numpy(model._features(inputs)),
      codec.input_vectors('modulo')[inputs['tokens']])
  testing_lib.check_model_round_trips(model, make, inputs, tmp_path)
  # A one-hot model's config is as it was (no encoding spec in it).
  assert 'encoding' not in EventLSTM(**EventLSTM.data_arguments(codec, []),
                                     rnn_layer_sizes=(6,)).get_config()
  with pytest.raises(ValueError, match='no embedding'):
    EventLSTM(codec.vocab_size, encoding=codec.spec(), event_inputs='modulo',
              embedding_size=4)
  with pytest.raises(ValueError, match="no 'binary' input vectors"):
    EventLSTM(codec.vocab_size, encoding=codec.spec(), event_inputs='binary')


def test_missing_control_and_bad_cell_are_errors():
  model = EventLSTM(10, rnn_layer_sizes=(4,), control_sizes={'note_density': 8})
  with pytest.raises(ValueError, match='note_density'):
    model({'tokens': np.zeros((1, 3), 'int32')})
  with pytest.raises(ValueError, match=r"cell must be one of \('lstm', 'gru', 'rnn'\)"):
    EventLSTM(10, cell='transformer')


def test_tf_checkpoint_holds_every_weight(tmp_path):
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  inputs = {'tokens': np.arange(12, dtype='int32').reshape(2, 6),
            'note_density': np.ones((2, 6), 'int32')}
  model = EventLSTM(20, rnn_layer_sizes=(6, 5), embedding_size=4,
                    control_sizes={'note_density': 8})
  before = keras.ops.convert_to_numpy(model(inputs))
  path = tf.train.Checkpoint(model=model).save(str(tmp_path / 'ckpt'))
  saved = {name for name, _ in tf.train.list_variables(path)}
  assert len([n for n in saved if n.startswith('model/')]) == len(model.weights)
  other = EventLSTM(20, rnn_layer_sizes=(6, 5), embedding_size=4,
                    control_sizes={'note_density': 8})
  other(inputs)
  tf.train.Checkpoint(model=other).restore(path).assert_consumed()
  np.testing.assert_allclose(keras.ops.convert_to_numpy(other(inputs)), before)


def _cudnn_equations(cell):
  """A stand-in for Keras' cuDNN call (`keras.src.backend.tensorflow.rnn.
  _cudnn_lstm` or `_cudnn_gru`): the cuDNN kernel's equations, which are
  fixed (sigmoid gates, tanh, input and recurrent biases, for the GRU the
  reset gate applied after the recurrent product), in TensorFlow ops, in
  its return format. Records each call in `.calls`."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  calls = []

  def lstm(inputs, initial_state_h, initial_state_c, kernel, recurrent_kernel,
           bias, mask, time_major, go_backwards, return_sequences):
    assert mask is None and not time_major and not go_backwards
    w, r, b = (tf.split(tf.convert_to_tensor(v), 4, axis=-1)
               for v in (kernel, recurrent_kernel, bias))

    def step(state, x):
      h, c = state
      i, f, g, o = (x @ w[k] + h @ r[k] + b[k] for k in range(4))
      c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
      return tf.sigmoid(o) * tf.tanh(c), c

    h, c = tf.scan(step, tf.transpose(inputs, (1, 0, 2)),
                   (initial_state_h, initial_state_c))
    outputs = tf.transpose(h, (1, 0, 2))
    calls.append(kernel.shape)
    return outputs[:, -1], outputs if return_sequences else outputs[:, -1:], [
        h[-1], c[-1]]

  def gru(inputs, initial_state, kernel, recurrent_kernel, bias, mask,
          time_major, go_backwards, return_sequences):
    assert mask is None and not time_major and not go_backwards
    w, r = (tf.split(tf.convert_to_tensor(v), 3, axis=-1)
            for v in (kernel, recurrent_kernel))
    input_bias, recurrent_bias = (tf.split(v, 3) for v in tf.unstack(
        tf.convert_to_tensor(bias)))   # bias: [2, 3 x units], gates z, r, h

    def step(h, x):
      z = tf.sigmoid(x @ w[0] + input_bias[0] + h @ r[0] + recurrent_bias[0])
      reset = tf.sigmoid(x @ w[1] + input_bias[1] + h @ r[1] + recurrent_bias[1])
      candidate = tf.tanh(x @ w[2] + input_bias[2]
                          + reset * (h @ r[2] + recurrent_bias[2]))
      return (1 - z) * candidate + z * h

    h = tf.scan(step, tf.transpose(inputs, (1, 0, 2)), initial_state)
    outputs = tf.transpose(h, (1, 0, 2))
    calls.append(kernel.shape)
    return outputs[:, -1], outputs if return_sequences else outputs[:, -1:], [
        h[-1]]

  fn = {'lstm': lstm, 'gru': gru}[cell]
  fn.calls = calls
  return fn


@pytest.mark.parametrize('cell', ['lstm', 'gru'])
def test_recurrent_layers_run_as_the_cudnn_kernel_would(cell, monkeypatch):
  """On a GPU Keras hands a recurrent layer to the cuDNN kernel when the
  layer's arguments allow (no recurrent dropout, tanh and sigmoid, not
  unrolled, biases, the GRU's reset_after): there is no GPU in CI, so Keras
  is told one is there and its cuDNN call is the kernel's equations. Every
  layer of the model, with dropout between layers, in training and not, goes
  that way, and the equations on the layers' weights give the outputs the
  layers give on the CPU: on a GPU the model runs the cuDNN kernel and
  computes the same function."""
  import importlib  # pylint: disable=import-outside-toplevel
  tf_rnn = importlib.import_module('keras.src.backend.tensorflow.rnn')
  controls = {'note_density': 8}
  keras.utils.set_random_seed(3)
  model = EventLSTM(10, rnn_layer_sizes=(6, 5), cell=cell, dropout_rate=0.2,
                    control_sizes=controls)
  inputs = _inputs(np.random.default_rng(3), 2, 7, 10, controls)
  on_cpu = keras.ops.convert_to_numpy(model(inputs))
  cudnn = _cudnn_equations(cell)
  monkeypatch.setattr(tf_rnn, '_is_gpu_available', lambda: True)
  monkeypatch.setattr(tf_rnn, f'_cudnn_{cell}', cudnn)
  as_cudnn = keras.ops.convert_to_numpy(model(inputs))
  assert cudnn.calls == [(10 + 8, 4 * 6 if cell == 'lstm' else 3 * 6),
                         (6, 4 * 5 if cell == 'lstm' else 3 * 5)]
  np.testing.assert_allclose(as_cudnn, on_cpu, atol=1e-5)
  model(inputs, training=True)
  assert len(cudnn.calls) == 4
