"""Dilated CNN config: WaveNet-style causal convolutions on performance events.

  musicrnn_create_dataset --config=dilated_cnn \
    --input=/tmp/notesequences.tfrecord --output_dir=/tmp/cnn_dataset

Dilations 1, 2, 4, ..., 512 per block, two blocks: a receptive field of
2047 events. It trains on random crops of 2048 events out of whole
performances (`data.long_sequences='crop'`), so the whole receptive field
sees music; the eval split is cut into fixed 2048-event windows.
"""

import ml_collections

from musicrnn.configs import base
from musicrnn.configs.registry import register


@register('dilated_cnn', tiny=base.tiny_variant(
    model={'num_blocks': 1, 'num_layers_per_block': 4, 'residual_channels': 16,
           'skip_channels': 16}))
def dilated_cnn():
  return base.make_config(
      family='dilated_cnn',
      encoding=base.encoding('performance', steps_per_second=100,
                             max_shift_steps=100, num_velocity_bins=32),
      model=ml_collections.ConfigDict({
          'num_blocks': 2,
          'num_layers_per_block': 10,
          'kernel_size': 2,
          'residual_channels': 128,
          'skip_channels': 256,
          'dropout_rate': 0.0,
          'embedding_size': 0,
      }),
      data=base.data_config(chunk_seconds=0.0, max_events=2048,
                            long_sequences='crop'),
      train=base.train_config(batch_size=16))
