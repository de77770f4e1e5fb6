"""Piano-roll GAN config: 4-bar piano rolls (4/4, 16 steps a bar, C1-B7).

  musicrnn_create_dataset --config=pianoroll_gan \
    --input=/tmp/notesequences.tfrecord --output_dir=/tmp/gan_dataset

Sequences are split at tempo and time-signature changes, quantized to 4
steps per quarter, and cut into 4-bar segments; transposition only (a time
stretch does not change a metric grid).
"""

import ml_collections

from musicrnn.configs import base
from musicrnn.configs.registry import register


@register('pianoroll_gan', tiny=base.tiny_variant(
    model={'latent_dim': 16, 'generator_channels': 16, 'critic_channels': 16,
           'critic_updates_per_generator_update': 1},
    data={'min_events': 1, 'max_events': 0}))
def pianoroll_gan():
  return base.make_config(
      family='pianoroll_gan',
      encoding=base.encoding('pianoroll', steps_per_quarter=4,
                             quarters_per_bar=4, num_bars=4,
                             min_pitch=24, max_pitch=107),
      model=ml_collections.ConfigDict({
          'latent_dim': 128,
          'generator_channels': 256,
          'critic_channels': 128,
          'gradient_penalty_weight': 10.0,
          'critic_updates_per_generator_update': 5,
          'generator_learning_rate': 1e-3,
          'critic_learning_rate': 1e-3,
      }),
      data=base.data_config(chunk_seconds=0.0, split_on_time_changes=True,
                            sustain=False, stretch_factors=(1.0,),
                            min_events=1, max_events=0),
      train=base.train_config(batch_size=64))
