"""Music Transformer config: relative-attention decoder on performance events.

  musicrnn_create_dataset --config=music_transformer \
    --input=/tmp/notesequences.tfrecord --output_dir=/tmp/mt_dataset

Performance encoding with 32 velocity bins, as the Music Transformer paper's
piano experiments. It trains as the paper did: on random crops of 2048
events out of whole performances (`data.long_sequences='crop'`: each pass
over the data draws new offsets), transposed and stretched; the eval split
is cut into fixed 2048-event windows. The learning rate warms
up linearly over `train.warmup_steps` to `train.learning_rate`, then decays
as 1/sqrt(step) (`train.decay='rsqrt'`), the transformer schedule.
"""

import ml_collections

from musicrnn.configs import base
from musicrnn.configs.registry import register


@register('music_transformer', tiny=base.tiny_variant(
    model={'num_layers': 2, 'num_heads': 2, 'model_dim': 32,
           'feed_forward_dim': 64, 'max_relative_distance': 32},
    train={'warmup_steps': 10}))
def music_transformer():
  return base.make_config(
      family='music_transformer',
      encoding=base.encoding('performance', steps_per_second=100,
                             max_shift_steps=100, num_velocity_bins=32),
      model=ml_collections.ConfigDict({
          'num_layers': 6,
          'num_heads': 8,
          'model_dim': 512,
          'feed_forward_dim': 2048,
          'dropout_rate': 0.1,
          'max_relative_distance': 2048,
      }),
      data=base.data_config(chunk_seconds=0.0, max_events=2048,
                            long_sequences='crop'),
      train=base.train_config(batch_size=16, learning_rate=1e-3,
                              clip_norm=1.0, warmup_steps=4000, decay='rsqrt'))
