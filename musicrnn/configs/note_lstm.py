"""Note LSTM config: one step per onset, a chord, an offset and a duration.

  musicrnn_create_dataset --config=note_lstm \
    --input=/tmp/notesequences.tfrecord --output_dir=/tmp/note_dataset
  musicrnn_train --config=note_lstm --train_data=/tmp/note_dataset \
    --run_dir=/tmp/note_run
  musicrnn_generate --run_dir=/tmp/note_run --output_dir=/tmp/notes \
    --primer_midi=piece.mid --head_temperatures="[1.0,0.6,0.6]"

The model people built by hand from music21 note lists: each onset is the
set of pitches starting together (a chord, from a vocabulary of the 256
most frequent in the training data, counted by musicrnn_create_dataset and
kept in dataset.json; rarer ones are "other"), the offset since the previous
onset and the duration, each quantized to note values in quarter notes
(`musicrnn.encodings.note_tuple`). An LSTM stack (2x512, dropout) reads the
three parts and predicts each part of the next onset with its own softmax;
the loss is their sum, and generation samples each head at its own
temperature.

Sequences are split at tempo and time-signature changes (offsets count
quarter notes at one tempo) and cut into windows of 256 onsets; transposed
by -3..+3 semitones for training (the vocabulary is counted after
transposition).
"""

from musicrnn.configs import base
from musicrnn.configs.performance import event_lstm_model
from musicrnn.configs.registry import register


def _tiny(config):
  base.tiny_variant(model={'rnn_layer_sizes': (32, 32)},
                    data={'stretch_factors': (1.0,)})(config)
  config.encoding.settings.max_chords = 48


@register('note_lstm', tiny=_tiny)
def note_lstm():
  return base.make_config(
      family='note_lstm',
      encoding=base.encoding('note_tuple', onset_grid=12, max_chords=256,
                             chord_vocabulary=()),
      model=event_lstm_model(rnn_layer_sizes=(512, 512), dropout_rate=0.3),
      data=base.data_config(chunk_seconds=0.0, split_on_time_changes=True,
                            stretch_factors=(1.0,), min_events=32,
                            max_events=256),
      train=base.train_config(batch_size=64,
                              learning_rate=1e-3))
