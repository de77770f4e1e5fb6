"""The 2012 polyphonic benchmark's reader and unit: a file in the
benchmark's layout written here, and the published "Note 1-Gram" row
reproduced on the real files when ../shared/data is present."""

import os

import numpy as np
import pytest
import scipy.io

import testing_lib
from musicrnn.errors import UsageError
from musicrnn.pipelines import boulanger


def _write_mat(path, splits):
  pieces = {name: np.array([np.asarray(p, np.uint8) for p in splits[split]]
                           + [None], dtype=object)[:-1].reshape(1, -1)
            for split, name in boulanger.SPLITS.items()}
  scipy.io.savemat(path, pieces)


def test_reads_the_published_layout_and_measures_nats_per_frame(tmp_path):
  rng = np.random.default_rng(0)
  splits = {split: [(rng.random((n, 88)) < 0.1).astype(np.uint8)
                    for n in sizes]
            for split, sizes in (('train', (5, 9)), ('valid', (4,)),
                                 ('test', (3, 6)))}
  path = str(tmp_path / 'fixture.mat')
  _write_mat(path, splits)
  read = boulanger.read_mat(path)
  assert sorted(read) == ['test', 'train', 'valid']
  for split, pieces in splits.items():
    assert len(read[split]) == len(pieces)
    for mine, theirs in zip(read[split], pieces):
      np.testing.assert_array_equal(mine, theirs)
  # Frame-weighted: over the 2 + 5 frames a sequence model predicts (the
  # first of each piece has no past), or over all 3 + 6.
  def nll(roll, start):
    return -(roll[start:] * np.log(0.25)
             + (1 - roll[start:]) * np.log(0.75)).sum()
  p = np.full(88, 0.25)
  test = splits['test']
  assert boulanger.frame_nll([np.tile(p, (len(r) - 1, 1)) for r in test],
                             test) == pytest.approx(sum(nll(r, 1) for r in test) / 7)
  assert boulanger.frame_nll([np.tile(p, (len(r), 1)) for r in test],
                             test) == pytest.approx(sum(nll(r, 0) for r in test) / 9)
  with pytest.raises(ValueError, match='do not cover'):
    boulanger.frame_nll([np.tile(p, (1, 1))], test[:1])


def test_mistakes_are_usage_errors(tmp_path):
  (tmp_path / 'text.mat').write_text('not matlab')
  with pytest.raises(UsageError, match='not a MATLAB'):
    boulanger.read_mat(str(tmp_path / 'text.mat'))
  scipy.io.savemat(str(tmp_path / 'partial.mat'), {'traindata': np.zeros((2, 88))})
  with pytest.raises(UsageError, match='no validdata, testdata'):
    boulanger.read_mat(str(tmp_path / 'partial.mat'))
  bad = {split: [np.zeros((3, 88))] for split in boulanger.SPLITS}
  bad['test'] = [np.zeros((3, 87))]
  _write_mat(str(tmp_path / 'keys.mat'), bad)
  with pytest.raises(UsageError, match='piece 0 of testdata is not 0/1 frames of 88'):
    boulanger.read_mat(str(tmp_path / 'keys.mat'))


@pytest.mark.parametrize('name, published', [('JSB_Chorales', 11.06),
                                             ('Nottingham', 10.25)])
def test_the_note_1_gram_row_of_the_2012_table(name, published):
  path = os.path.join(testing_lib.SHARED_DATA, 'boulanger2012', f'{name}.mat')
  if not os.path.exists(path):
    pytest.skip(f'{path} is not here (../shared/data)')
  splits = boulanger.read_mat(path)
  p = boulanger.key_frequencies(splits['train'])
  nll = boulanger.frame_nll([np.tile(p, (len(r), 1)) for r in splits['test']],
                            splits['test'])
  # The 1-gram predicts every frame, the first of each piece included.
  assert nll == pytest.approx(published, abs=0.005)
