"""Music Transformer: a decoder-only transformer with relative attention.

ids in, logits out, no file I/O (Huang et al. 2018, "Music Transformer").

  model = MusicTransformer(vocab_size=388, num_layers=6, num_heads=8,
                           model_dim=512, feed_forward_dim=2048,
                           max_relative_distance=2048)
  logits = model({'tokens': ids})            # [batch, time, vocab_size]

  states = model.initial_state(batch_size, max_length=2048)
  logits_t, states = model.step({'tokens': ids_t}, states)   # ids_t [batch]

Each layer is pre-norm: relative global self-attention, then a ReLU
feed-forward block, each with a residual connection. Attention logits are
`q·k + q·E_(j-i)`, scaled by 1/sqrt(head size), where E holds one learned
embedding per head and relative distance 0, -1, ..., -(max_relative_distance
- 1) (farther distances share the last one, as Shaw et al. clip them). The
relative term is computed with the paper's "skewing": `Q·Eᵀ` is an
[L, L] matrix per head whose columns are distances, padded by one column,
reshaped and sliced so that each row lines up with absolute key positions.
That needs O(L·D) memory for the relative embeddings per layer, where the
naive form (`relative_logits_naive`, gathering an [L, L, head size] tensor of
embeddings per head) needs O(L²·D).

Generation keeps a key/value cache per layer in chunks of `CACHE_CHUNK`
positions, values [chunks, batch, heads, CACHE_CHUNK, depth] and keys laid
out by depth, [chunks, batch, heads, depth, CACHE_CHUNK], and one table
[batch, chunks] saying whose chunk each sequence reads (its own, until beam
search reorders). A step computes the new token's query, key and value,
writes the key and value at the step's position in the sequence's own chunk
(in place under XLA) and attends chunk by chunk over the filled chunks only
(an online softmax), so a token costs one step through the layers and reads
the cache up to its position, never the empty rest, and no step copies the
cache. A chunk no sequence writes again (every one before the current) is
shared, not copied, when beam search reorders the sequences
(`reorder_states`): only the table and the current chunk move, as paged
attention shares a prefix. Each layer's relative embeddings are laid out
once per output the same way, by depth and then by distance
(`relative_rows_by_depth`), so that a chunk's relative rows are one slice:
a chunk's logits are then sums along depth of rows of contiguous positions,
which XLA vectorizes across the positions (with keys by position and E's
rows gathered by distance, a step of a 2,048-event output took about a
quarter longer on a CPU).

Optional conditioning: the Performance RNN's control signals, projected to
the model width and added to the event embedding.
"""

import keras
from keras import ops
import tensorflow as tf

from musicrnn.models import inputs as inputs_lib
from musicrnn.models import protocols


def _distance_rows(embeddings, distances):
  """Per-head embeddings [heads, n, depth] of relative `distances` (<= 0)."""
  size = tf.shape(embeddings)[1]
  index = tf.clip_by_value(distances + size - 1, 0, size - 1)
  return tf.gather(embeddings, index, axis=1)


def skew(relative_logits):
  """[batch, heads, L, L] logits by distance -> by absolute key position.

  Column r of row i of the input holds the logit of distance r - (L - 1);
  in the output, entry (i, j) holds the logit of distance j - i. Entries with
  j > i (future keys) are meaningless and must be masked.
  """
  shape = tf.shape(relative_logits)
  batch, heads, length = shape[0], shape[1], shape[2]
  padded = tf.pad(relative_logits, [[0, 0], [0, 0], [0, 0], [1, 0]])
  reshaped = tf.reshape(padded, [batch, heads, length + 1, length])
  return reshaped[:, :, 1:, :]


def relative_logits_skewed(queries, embeddings):
  """Relative logits by skewing: queries [batch, heads, L, depth], embeddings
  [heads, max_distance, depth] -> [batch, heads, L, L] (valid where j <= i).

  Memory: the [heads, L, depth] rows of E and the [L, L] logits themselves.
  """
  length = tf.shape(queries)[2]
  rows = _distance_rows(embeddings, tf.range(length) - (length - 1))
  return skew(tf.einsum('bhld,hmd->bhlm', queries, rows))


def relative_logits_naive(queries, embeddings):
  """The same logits as `relative_logits_skewed`, by gathering the embedding
  of every (i, j) pair: an [heads, L, L, depth] tensor (O(L²·D) memory)."""
  length = tf.shape(queries)[2]
  positions = tf.range(length)
  distances = tf.minimum(positions[None, :] - positions[:, None], 0)
  pairs = _distance_rows(embeddings, distances)           # [heads, L, L, depth]
  return tf.einsum('bhid,hijd->bhij', queries, pairs)


# Positions per block of the generation cache: attention and beam
# reordering touch the chunks up to the current position, not the rest.
CACHE_CHUNK = 64


def write_at(cache, update, position, by_depth=False):
  """`cache` [chunks, batch, heads, CACHE_CHUNK, depth] (with `by_depth`,
  [chunks, batch, heads, depth, CACHE_CHUNK]) with `update` [batch, heads,
  depth] written at `position`, each sequence in its own chunk; under XLA the
  write happens in place, without copying the cache."""
  shape = tf.shape(update)
  axes = [[position // CACHE_CHUNK], tf.range(shape[0]), tf.range(shape[1])]
  if by_depth:
    axes.append(tf.range(shape[2]))
  index = tf.stack(tf.meshgrid(*axes, [position % CACHE_CHUNK], indexing='ij'),
                   axis=-1)                 # [1, batch, heads, (depth,) 1, 4 or 5]
  return tf.tensor_scatter_nd_update(cache, index[0, ..., 0, :], update)


def read_chunk(cache, table, chunk):
  """[batch, heads, ...]: chunk `chunk` of each sequence, from the sequence
  `table` [batch, chunks] names."""
  owners = table[:, chunk]
  return tf.gather_nd(cache, tf.stack([tf.fill(tf.shape(owners), chunk), owners],
                                      axis=1))


def empty_cache(batch_size, num_heads, max_length, depth, by_depth=False):
  """Zeros [chunks, batch, heads, CACHE_CHUNK, depth] (with `by_depth`,
  [chunks, batch, heads, depth, CACHE_CHUNK]) for `max_length` positions (a
  number or a scalar tensor), rounded up to whole chunks."""
  chunks = (max_length + CACHE_CHUNK - 1) // CACHE_CHUNK
  inner = (depth, CACHE_CHUNK) if by_depth else (CACHE_CHUNK, depth)
  return tf.zeros((chunks, batch_size, num_heads) + inner)


def relative_rows_by_depth(embeddings, max_length):
  """[heads, depth, max_length - 1 + CACHE_CHUNK]: column k holds the
  per-head embedding of relative distance k - (max_length - 1), clipped as
  `_distance_rows` clips (the positive distances at the end, which only the
  masked keys past a step's position have, get distance 0's). The rows of a
  chunk of keys seen from any position of an output up to `max_length` are
  one slice of it."""
  distances = tf.range(1 - max_length, CACHE_CHUNK)
  return tf.transpose(_distance_rows(embeddings, tf.minimum(distances, 0)),
                      [0, 2, 1])


def causal_mask(length):
  """[L, L]: 1 where key j <= query i."""
  return tf.linalg.band_part(tf.ones((length, length)), -1, 0)


@keras.saving.register_keras_serializable('musicrnn')
class RelativeSelfAttention(keras.layers.Layer):
  """Causal multi-head self-attention with learned relative position logits."""

  def __init__(self, num_heads, model_dim, max_relative_distance,
               dropout_rate=0.0, **kwargs):
    super().__init__(**kwargs)
    if model_dim % num_heads:
      raise ValueError(f'model_dim {model_dim} is not divisible by num_heads '
                       f'{num_heads}')
    if max_relative_distance < 1:
      raise ValueError('max_relative_distance must be at least 1')
    self.num_heads = int(num_heads)
    self.model_dim = int(model_dim)
    self.head_dim = self.model_dim // self.num_heads
    self.max_relative_distance = int(max_relative_distance)
    self.dropout_rate = float(dropout_rate)
    self.qkv = keras.layers.Dense(3 * self.model_dim, name='qkv')
    self.output_projection = keras.layers.Dense(self.model_dim, name='output')
    self.dropout = keras.layers.Dropout(dropout_rate)

  def build(self, input_shape):
    self.qkv.build(input_shape)
    self.output_projection.build(tuple(input_shape[:-1]) + (self.model_dim,))
    self.relative_embeddings = self.add_weight(
        name='relative_embeddings',
        shape=(self.num_heads, self.max_relative_distance, self.head_dim),
        initializer=keras.initializers.RandomNormal(stddev=self.head_dim ** -0.5))

  def _split_heads(self, x):
    """[batch, time, 3 * D] -> three [batch, time, heads, depth]."""
    shape = tf.shape(x)
    x = tf.reshape(x, [shape[0], shape[1], 3, self.num_heads, self.head_dim])
    return x[:, :, 0], x[:, :, 1], x[:, :, 2]

  def call(self, x, training=False):
    queries, keys, values = (tf.transpose(t, [0, 2, 1, 3])
                             for t in self._split_heads(self.qkv(x)))
    # Both logit terms are linear in the queries: scale the [L, depth]
    # queries rather than the [L, L] logits.
    queries *= self.head_dim ** -0.5
    logits = (tf.einsum('bhid,bhjd->bhij', queries, keys)
              + relative_logits_skewed(queries, self.relative_embeddings))
    mask = causal_mask(tf.shape(x)[1]) > 0
    # The lowest value of the compute dtype: -1e9 overflows float16.
    logits = tf.where(mask, logits, logits.dtype.min)
    weights = self.dropout(tf.nn.softmax(logits, axis=-1), training=training)
    attended = tf.einsum('bhij,bhjd->bihd', weights, values)
    shape = tf.shape(x)
    return self.output_projection(
        tf.reshape(attended, [shape[0], shape[1], self.model_dim]))

  def step(self, x, cache_keys, cache_values, relative, position, table):
    """One position: x [batch, D], keys [chunks, batch, heads, depth,
    CACHE_CHUNK] and values [chunks, batch, heads, CACHE_CHUNK, depth]
    (`empty_cache`), the relative rows of the output
    (`relative_rows_by_depth`), position (scalar int32), table [batch,
    chunks] (whose chunk each sequence reads) -> output [batch, D] and the
    updated caches.

    The new key and value are written at `position` (`write_at`: a
    scatter, which XLA does in place). The query then attends over the
    chunks up to `position` one at a time, keeping the running maximum,
    sum and weighted values of a softmax (exact, as a softmax over the
    whole prefix), so a step reads the filled part of the cache only. A
    chunk's relative rows are a slice of `relative`, added to its keys
    before the product with the query: one pass for the content and
    relative logits.
    """
    queries, keys, values = (t[:, 0] for t in self._split_heads(self.qkv(x[:, None])))
    cache_keys = write_at(cache_keys, keys, position, by_depth=True)
    cache_values = write_at(cache_values, values, position)
    query = queries * self.head_dim ** -0.5                # [batch, heads, depth]
    offsets = tf.range(CACHE_CHUNK)
    # Column of `relative` holding the distance of the first key of chunk 0.
    first = tf.shape(relative)[2] - CACHE_CHUNK - position
    rows_shape = [self.num_heads, self.head_dim, CACHE_CHUNK]

    # Products and sums rather than dots: XLA fuses them with the reads of
    # the chunk and of the relative rows, where a dot would read copies.
    def attend(chunk, peak, total, attended):
      keys_at = chunk * CACHE_CHUNK + offsets
      rows = tf.slice(relative, [0, 0, first + chunk * CACHE_CHUNK], rows_shape)
      logits = tf.reduce_sum(
          query[..., None] * (read_chunk(cache_keys, table, chunk) + rows), -2)
      logits = tf.where(keys_at <= position, logits, logits.dtype.min)
      new_peak = tf.maximum(peak, tf.reduce_max(logits, axis=-1, keepdims=True))
      scale = tf.exp(peak - new_peak)
      weights = tf.exp(logits - new_peak)                  # [batch, heads, chunk]
      return (chunk + 1, new_peak,
              total * scale + tf.reduce_sum(weights, axis=-1, keepdims=True),
              attended * scale + tf.reduce_sum(
                  weights[..., None] * read_chunk(cache_values, table, chunk), -2))

    shape = tf.shape(query)
    # The running maximum starts at the dtype's lowest value, which the
    # first chunk (holding position 0) always exceeds.
    start = (tf.constant(0), tf.fill([shape[0], shape[1], 1], query.dtype.min),
             tf.zeros([shape[0], shape[1], 1], query.dtype), tf.zeros_like(query))
    _, _, total, attended = tf.while_loop(
        lambda chunk, *_: chunk <= position // CACHE_CHUNK, attend, start)
    attended /= total                                       # [batch, heads, depth]
    output = self.output_projection(tf.reshape(attended, [shape[0], self.model_dim]))
    return output, cache_keys, cache_values

  def get_config(self):
    config = super().get_config()
    config.update(num_heads=self.num_heads, model_dim=self.model_dim,
                  max_relative_distance=self.max_relative_distance,
                  dropout_rate=self.dropout_rate)
    return config


@keras.saving.register_keras_serializable('musicrnn')
class TransformerBlock(keras.layers.Layer):
  """Pre-norm block: x + attention(norm(x)), then y + feed_forward(norm(y))."""

  def __init__(self, num_heads, model_dim, feed_forward_dim,
               max_relative_distance, dropout_rate=0.0, **kwargs):
    super().__init__(**kwargs)
    self.num_heads = int(num_heads)
    self.model_dim = int(model_dim)
    self.feed_forward_dim = int(feed_forward_dim)
    self.max_relative_distance = int(max_relative_distance)
    self.dropout_rate = float(dropout_rate)
    self.attention_norm = keras.layers.LayerNormalization(name='attention_norm')
    self.attention = RelativeSelfAttention(num_heads, model_dim,
                                           max_relative_distance, dropout_rate,
                                           name='attention')
    self.feed_forward_norm = keras.layers.LayerNormalization(
        name='feed_forward_norm')
    self.feed_forward_in = keras.layers.Dense(feed_forward_dim, activation='relu',
                                              name='feed_forward_in')
    self.feed_forward_out = keras.layers.Dense(model_dim, name='feed_forward_out')
    self.dropout = keras.layers.Dropout(dropout_rate)

  def build(self, input_shape):
    self.attention_norm.build(input_shape)
    self.attention.build(input_shape)
    self.feed_forward_norm.build(input_shape)
    self.feed_forward_in.build(input_shape)
    self.feed_forward_out.build(tuple(input_shape[:-1]) + (self.feed_forward_dim,))

  def _feed_forward(self, x, training=False):
    hidden = self.dropout(self.feed_forward_in(self.feed_forward_norm(x)),
                          training=training)
    return x + self.dropout(self.feed_forward_out(hidden), training=training)

  def call(self, x, training=False):
    x = x + self.dropout(self.attention(self.attention_norm(x), training=training),
                         training=training)
    return self._feed_forward(x, training)

  def step(self, x, cache_keys, cache_values, relative, position, table):
    attended, cache_keys, cache_values = self.attention.step(
        self.attention_norm(x), cache_keys, cache_values, relative, position,
        table)
    return self._feed_forward(x + attended), cache_keys, cache_values

  def get_config(self):
    config = super().get_config()
    config.update(num_heads=self.num_heads, model_dim=self.model_dim,
                  feed_forward_dim=self.feed_forward_dim,
                  max_relative_distance=self.max_relative_distance,
                  dropout_rate=self.dropout_rate)
    return config


@keras.saving.register_keras_serializable('musicrnn')
class MusicTransformer(protocols.NextTokenModel):
  """Decoder-only relative-attention transformer (see the module docstring).

  Args:
    vocab_size: number of event ids.
    num_layers, num_heads, model_dim, feed_forward_dim: the stack's shape.
    dropout_rate: on the embedding, attention weights and residual branches.
    max_relative_distance: distinct relative position embeddings per head.
    control_sizes: {control name: size}; empty for an unconditioned model.
  """

  # benchmarks/xla_benchmark.py: XLA trains it 1.5-1.6x faster on a CPU.
  trains_faster_with_xla = True

  def __init__(self, vocab_size, num_layers=6, num_heads=8, model_dim=512,
               feed_forward_dim=2048, dropout_rate=0.1,
               max_relative_distance=2048, control_sizes=None, **kwargs):
    super().__init__(**kwargs)
    if num_layers < 1:
      raise ValueError('num_layers must be at least 1')
    self.vocab_size = int(vocab_size)
    self.num_layers = int(num_layers)
    self.num_heads = int(num_heads)
    self.model_dim = int(model_dim)
    self.feed_forward_dim = int(feed_forward_dim)
    self.dropout_rate = float(dropout_rate)
    self.max_relative_distance = int(max_relative_distance)
    self.control_sizes = dict(sorted((control_sizes or {}).items()))
    self.embedding = keras.layers.Embedding(vocab_size, model_dim,
                                            name='embedding')
    self.control_projection = (keras.layers.Dense(model_dim, name='controls')
                               if self.control_sizes else None)
    self.dropout = keras.layers.Dropout(dropout_rate)
    self.blocks = []
    for i in range(self.num_layers):
      block = TransformerBlock(num_heads, model_dim, feed_forward_dim,
                               max_relative_distance, dropout_rate,
                               name=f'block_{i}')
      # tf.train.Checkpoint follows attributes, not Keras' tracked lists.
      setattr(self, f'block_{i}', block)
      self.blocks.append(block)
    self.final_norm = keras.layers.LayerNormalization(name='final_norm')
    # float32 logits (and loss) under a mixed-precision policy.
    self.logits = keras.layers.Dense(vocab_size, dtype='float32',
                                     name='logits')

  def _embed(self, inputs, training):
    x = self.embedding(ops.cast(inputs['tokens'], 'int32'))
    if self.control_projection is not None:
      parts = inputs_lib.control_parts(inputs, self.control_sizes, x.dtype)
      x = x + self.control_projection(ops.concatenate(parts, axis=-1))
    return self.dropout(x, training=training)

  # What the constructor takes from the data, and a batch that builds it.
  data_arguments = staticmethod(inputs_lib.data_arguments)

  @staticmethod
  def example_inputs(controls):
    return inputs_lib.example_inputs(controls)

  def call(self, inputs, training=False):
    """Logits [batch, time, vocab_size] for a dict of [batch, time] inputs."""
    x = self._embed(inputs, training)
    for block in self.blocks:
      x = block(x, training=training)
    return self.logits(self.final_norm(x))

  def initial_state(self, batch_size, max_length=None):
    """[position [batch], chunk table [batch, chunks], then keys and values
    per layer (`empty_cache`), then each layer's relative rows
    (`relative_rows_by_depth`)]: an empty cache for sequences up to
    `max_length` (rounded up to whole chunks), each sequence reading its
    own chunks."""
    if max_length is None:
      raise ValueError('the transformer\'s key/value cache needs max_length')
    depth = self.model_dim // self.num_heads
    keys = empty_cache(batch_size, self.num_heads, max_length, depth, by_depth=True)
    values = empty_cache(batch_size, self.num_heads, max_length, depth)
    chunks = tf.shape(keys)[0]
    table = tf.tile(tf.range(batch_size)[:, None], [1, chunks])
    # Rows for every position the chunks hold: a slice past the rows would
    # be clamped by XLA without an error.
    return ([tf.zeros((batch_size,), tf.int32), table]
            + [keys, values] * self.num_layers
            + [relative_rows_by_depth(block.attention.relative_embeddings,
                                      chunks * CACHE_CHUNK)
               for block in self.blocks])

  @staticmethod
  def reorder_states(states, indices):
    """The states of sequences `indices` [batch] (each an index into the
    batch), in that order. Chunks before the current one are never written
    again, so sequence i takes over the table entries of sequence
    indices[i] for them and shares those chunks; the current chunk, which
    it goes on writing, is copied into its own (one chunk per cache, in
    place under XLA). The relative rows are the same for every sequence."""
    positions, table = states[0], states[1]
    num_layers = (len(states) - 2) // 3
    caches, relative = states[2:2 + 2 * num_layers], states[2 + 2 * num_layers:]
    current = positions[0] // CACHE_CHUNK
    own = tf.range(tf.shape(indices)[0])
    table = tf.where(tf.range(tf.shape(table)[1]) < current,
                     tf.gather(table, indices), own[:, None])
    rows = tf.stack([tf.fill(tf.shape(indices), current), indices], axis=1)
    caches = [tf.tensor_scatter_nd_update(cache, [[current]],
                                          tf.gather_nd(cache, rows)[None])
              for cache in caches]
    return [tf.gather(positions, indices), table] + caches + list(relative)

  def step(self, inputs, states):
    """One event: inputs of shape [batch] (controls [batch, size]) -> logits
    [batch, vocab_size] and the next states; equals `call` step by step."""
    positions, table = states[0], states[1]
    caches = states[2:2 + 2 * self.num_layers]
    relative = list(states[2 + 2 * self.num_layers:])
    position = positions[0]
    x = self._embed(inputs_lib.as_one_step(inputs), False)[:, 0]
    new_caches = []
    for i, block in enumerate(self.blocks):
      x, keys, values = block.step(x, caches[2 * i], caches[2 * i + 1],
                                   relative[i], position, table)
      new_caches.extend([keys, values])
    logits = self.logits(self.final_norm(x))
    return logits, [positions + 1, table] + new_caches + relative

  def get_config(self):
    config = super().get_config()
    config.update(vocab_size=self.vocab_size, num_layers=self.num_layers,
                  num_heads=self.num_heads, model_dim=self.model_dim,
                  feed_forward_dim=self.feed_forward_dim,
                  dropout_rate=self.dropout_rate,
                  max_relative_distance=self.max_relative_distance,
                  control_sizes=self.control_sizes)
    return config
