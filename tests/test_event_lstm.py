"""The event LSTM: incremental steps equal the full pass; configs round-trip."""

import numpy as np
import pytest

import keras

from musicrnn.models.event_lstm import EventLSTM
import testing_lib


_inputs = testing_lib.random_event_inputs


@pytest.mark.parametrize('cell, embedding_size, controls', [
    ('lstm', 0, {}),
    ('gru', 0, {}),
    ('lstm', 6, {'note_density': 8, 'pitch_histogram': 12}),
    ('gru', 0, {'note_density': 8}),
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


def test_missing_control_and_bad_cell_are_errors():
  model = EventLSTM(10, rnn_layer_sizes=(4,), control_sizes={'note_density': 8})
  with pytest.raises(ValueError, match='note_density'):
    model({'tokens': np.zeros((1, 3), 'int32')})
  with pytest.raises(ValueError, match='cell'):
    EventLSTM(10, cell='rnn')


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


@pytest.mark.parametrize('cell', ['lstm', 'gru'])
def test_recurrent_layers_meet_keras_cudnn_conditions(cell):
  """On a GPU Keras runs the cuDNN kernel only for these arguments (no GPU
  in CI: this checks the arguments, the GPU run itself is a benchmark's)."""
  import importlib  # pylint: disable=import-outside-toplevel
  tf_rnn = importlib.import_module('keras.src.backend.tensorflow.rnn')
  model = EventLSTM(10, rnn_layer_sizes=(4, 4), cell=cell, dropout_rate=0.2)
  for layer in model.rnn_layers:
    assert layer.use_cudnn in ('auto', True)
    assert not layer.recurrent_dropout
    kwargs = dict(activation=layer.cell.activation,
                  recurrent_activation=layer.cell.recurrent_activation,
                  unroll=layer.unroll, use_bias=layer.cell.use_bias)
    if cell == 'lstm':
      assert tf_rnn._do_lstm_arguments_support_cudnn(**kwargs)  # pylint: disable=protected-access
    else:
      assert tf_rnn._do_gru_arguments_support_cudnn(  # pylint: disable=protected-access
          reset_after=layer.cell.reset_after, **kwargs)
