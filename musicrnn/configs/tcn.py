"""TCN configs: Bai et al.'s temporal convolutional network on the 2012
polyphonic-music benchmark's frames (88 keys, each sounding or not).

  musicrnn_create_dataset --config=tcn \
    --input=JSB_Chorales.mat --output_dir=/tmp/jsb_frames
  musicrnn_train --config=tcn --train_data=/tmp/jsb_frames --run_dir=/tmp/tcn_run

`tcn` holds the JSB Chorales settings of Bai, Kolter & Koltun (2018):
kernel 3, 2 levels, 150 channels, dropout 0.5, weight norm, Adam at 0.002;
`tcn_nottingham` the Nottingham ones: kernel 6, 4 levels, 150 channels,
dropout 0.2. The benchmark's frames are what `key_frames` encodes: a quarter
note per frame for JSB; Nottingham's are eighth notes (the benchmark's
1,037 Nottingham pieces average 257 frames, the same tunes' MIDI files 134
quarter notes).

Pieces are kept whole, as the benchmark's (`base.whole_pieces`: no cut,
no time stretch, no transposition). Bai et al. train on one piece per step;
we batch 16 pieces, padded to the longest (the padding is masked out of the
loss). The loss is binary cross-entropy per bit. Bai et al.'s code clips
the gradient norm at 0.2 before it computes the gradients (a no-op), so the
base clip norm (3.0) stays; their learning rate divided by 10 on a
validation plateau is not here.
"""

import ml_collections

from musicrnn.configs import base
from musicrnn.configs.registry import register


# Toy sizes; shrink_data cuts the pieces into 64-frame windows.
TINY = base.tiny_variant(model={'channels': 16, 'levels': 2, 'kernel_size': 2},
                         data={'stretch_factors': (1.0,), 'transpositions': (0,)})


def _tcn(steps_per_quarter, kernel_size, levels, dropout_rate):
  return base.make_config(
      family='tcn',
      encoding=base.benchmark_frames(steps_per_quarter),
      model=ml_collections.ConfigDict({
          'channels': 150, 'levels': levels, 'kernel_size': kernel_size,
          'dropout_rate': dropout_rate, 'weight_norm': True}),
      data=base.whole_pieces(),
      # focal_alpha and focal_gamma let --hparams=loss=focal switch.
      train=base.train_config(loss='bce', focal_alpha=0.5, focal_gamma=2.0,
                              batch_size=16, learning_rate=2e-3))


@register('tcn', tiny=TINY)
def tcn():
  return _tcn(steps_per_quarter=1, kernel_size=3, levels=2, dropout_rate=0.5)


@register('tcn_nottingham', tiny=TINY)
def tcn_nottingham():
  return _tcn(steps_per_quarter=2, kernel_size=6, levels=4, dropout_rate=0.2)
