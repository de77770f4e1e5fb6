"""Dilated CNN: Fast WaveNet queues equal the full pass; the receptive field
is what the dilations say; configs and checkpoints round-trip."""

import numpy as np
import pytest

import keras

from musicrnn.models.dilated_cnn import DilatedCNN
import testing_lib


def _model(**kwargs):
  keras.utils.set_random_seed(5)
  settings = dict(num_blocks=2, num_layers_per_block=3, kernel_size=2,
                  residual_channels=6, skip_channels=7)
  settings.update(kwargs)
  return DilatedCNN(20, **settings)


def _inputs(rng, batch, time, controls):
  return testing_lib.random_event_inputs(rng, batch, time, 20, controls)


@pytest.mark.parametrize('kernel_size, embedding_size, controls', [
    (2, 0, {}),
    (3, 5, {'note_density': 8, 'pitch_histogram': 12}),
])
def test_queued_steps_equal_the_full_pass(kernel_size, embedding_size, controls):
  rng = np.random.default_rng(0)
  model = _model(kernel_size=kernel_size, embedding_size=embedding_size,
                 control_sizes=controls)
  time = 2 * model.receptive_field   # the queues wrap around several times
  inputs = _inputs(rng, 3, time, controls)
  full = model(inputs).numpy()
  states = model.initial_state(3)
  for t in range(time):
    logits, states = model.step({k: v[:, t] for k, v in inputs.items()}, states)
    np.testing.assert_allclose(logits.numpy(), full[:, t], atol=1e-4)


def test_receptive_field():
  model = _model()
  assert model.dilations == [1, 2, 4, 1, 2, 4]
  assert model.receptive_field == 1 + 2 * 7
  rng = np.random.default_rng(1)
  inputs = _inputs(rng, 1, 40, {})
  base = model(inputs).numpy()[0, -1]
  for offset, changes in ((model.receptive_field, False),
                          (model.receptive_field - 1, True)):
    changed = inputs['tokens'].copy()
    changed[0, 40 - offset] = (changed[0, 40 - offset] + 1) % 20
    out = model({'tokens': changed}).numpy()[0, -1]
    # Outside the field only float noise differs (oneDNN's summation order).
    assert (np.abs(out - base).max() > 1e-4) == changes, (offset, out - base)


def test_bad_shapes_are_errors():
  with pytest.raises(ValueError, match='kernel_size'):
    DilatedCNN(10, kernel_size=1)
  with pytest.raises(ValueError, match='num_blocks'):
    DilatedCNN(10, num_blocks=0)


def test_config_round_trip_saved_model_and_checkpoint(tmp_path):
  inputs = _inputs(np.random.default_rng(2), 2, 9, {'note_density': 8})
  testing_lib.check_model_round_trips(
      _model(control_sizes={'note_density': 8}),
      lambda: _model(control_sizes={'note_density': 8}), inputs, tmp_path)
