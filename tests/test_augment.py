"""The batch augmentation on uint8 pixels gives bit for bit the batches of the implementation it
replaced (float scaling, reflect pad of the float batch, then two gathers), kept here as the
reference: trained models and the committed reference results depend on those exact values."""
import numpy as np
import pytest

from tinykd import distill, train
from tinykd.data.scaling import PIXELS, InputScaling, resolve

SCALINGS = [None, PIXELS, InputScaling((127.5,), (127.5,)),
            InputScaling((125.3, 122.9, 113.9), (63.0, 62.1, 66.7))]
SHAPES = [(32, 32, 3), (28, 28, 1), (24, 16, 3)]


# --- the reference: the code as it was before augmentation moved onto the uint8 pixels -------------

def _ref_apply_augment(x, params):
    import tensorflow as tf

    h, w = int(x.shape[1]), int(x.shape[2])
    pad = train._pad(x.shape[1:])
    xp = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="REFLECT")
    params = tf.cast(params, tf.int32)
    rows = params[:, 0:1] + tf.range(h)[None, :]
    flip = params[:, 2:3] > 0
    cols = params[:, 1:2] + tf.where(flip, tf.range(w - 1, -1, -1)[None, :], tf.range(w)[None, :])
    xp = tf.gather(xp, rows, axis=1, batch_dims=1)
    return tf.gather(xp, cols, axis=2, batch_dims=1)


def _ref_make_dataset(x, y, batch_size, *, shuffle, augment, seed, extra=None, views=None, scaling=None):
    import tensorflow as tf

    scaling = resolve(scaling)
    shape = tuple(x.shape[1:])
    parts = [x, y]
    if extra is not None:
        parts.append(extra)
    if views is not None:
        parts.append(views)
    ds = tf.data.Dataset.from_tensor_slices(tuple(parts))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)

    def to_float(img, *rest):
        return (scaling.tf(img), *rest)

    if views is not None:
        ds = ds.map(lambda *el: (_ref_apply_augment(to_float(el[0])[0], el[-1]), *el[1:-1]),
                    num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    elif augment:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip((ds, seeds)).map(
            lambda el, s: (_ref_apply_augment(to_float(el[0])[0], train._random_params(el[0], shape, s)),
                           *el[1:]),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    else:
        ds = ds.map(to_float, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def _ref_teacher_views(t_model, x, *, views, seed, batch_size=500, scaling=None):
    scaling = resolve(scaling)
    n = len(x)
    params = np.stack([train.augment_params(n, x.shape[1:], seed, v) for v in range(views)], axis=1)
    outs = []
    for v in range(views):
        part = []
        for i in range(0, n, batch_size):
            xb = _ref_apply_augment(scaling.tf(x[i:i + batch_size]), params[i:i + batch_size, v])
            part.append(np.asarray(t_model(xb, training=False), np.float32))
        outs.append(np.concatenate(part))
    return np.stack(outs, axis=1), params


def _ref_views_dataset(x, y, outputs, params, batch_size, seed, scaling=None):
    import tensorflow as tf

    scaling = resolve(scaling)
    n_views = outputs.shape[1]
    ds = tf.data.Dataset.from_tensor_slices((x, y, outputs, params))
    ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    seeds = tf.data.Dataset.random(seed=seed + 1, rerandomize_each_iteration=True).batch(2)

    def pick(el, s):
        img, lab, out, par = el
        idx = tf.random.stateless_uniform((tf.shape(img)[0], 1), seed=s, minval=0, maxval=n_views, dtype=tf.int32)
        out = tf.squeeze(tf.gather(out, idx, axis=1, batch_dims=1), 1)
        par = tf.squeeze(tf.gather(par, idx, axis=1, batch_dims=1), 1)
        return _ref_apply_augment(scaling.tf(img), par), lab, out

    return tf.data.Dataset.zip((ds, seeds)).map(pick, num_parallel_calls=tf.data.AUTOTUNE,
                                                deterministic=True).prefetch(tf.data.AUTOTUNE)


# --- comparisons ----------------------------------------------------------------------------------

def _bits(a) -> bytes:
    a = np.asarray(a)
    return a.dtype.str.encode() + str(a.shape).encode() + a.tobytes()


def _images(n, shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


def _epochs(ds, k=2):
    """k epochs of a dataset, every element of every batch."""
    return [[tuple(np.asarray(t) for t in batch) for batch in ds] for _ in range(k)]


def _assert_same_epochs(got, want):
    assert len(got) == len(want)
    for e_got, e_want in zip(got, want):
        assert len(e_got) == len(e_want)
        for b_got, b_want in zip(e_got, e_want):
            assert [_bits(t) for t in b_got] == [_bits(t) for t in b_want]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("scaling", SCALINGS[:3], ids=["default", "pixels", "minus1to1"])
def test_augment_on_pixels_is_bit_identical_to_augmenting_the_scaled_batch(shape, scaling):
    s = resolve(scaling)
    pad = train._pad(shape)
    for seed in range(3):
        x = _images(9, shape, seed)
        params = train.augment_params(len(x), shape, seed=seed, view=seed)
        params[0] = (0, 0, 1)                    # the corners of the offset range, flipped or not
        params[1] = (2 * pad, 2 * pad, 0)
        params[2] = (0, 2 * pad, int(shape[-1] == 3))
        got = s.tf(train.apply_augment(x, params))
        assert _bits(got) == _bits(_ref_apply_augment(s.tf(x), params))


def test_per_channel_scaling_is_bit_identical_too():
    s = SCALINGS[3]
    x = _images(16, (32, 32, 3), 4)
    params = train.augment_params(len(x), x.shape[1:], seed=4, view=2)
    assert _bits(s.tf(train.apply_augment(x, params))) == _bits(_ref_apply_augment(s.tf(x), params))


def test_images_too_small_for_the_padding_are_refused_in_one_line():
    with pytest.raises(ValueError, match="too small for a crop padding of 2"):
        train.apply_augment(np.zeros((1, 2, 2, 1), np.uint8), np.zeros((1, 3), np.int32))


@pytest.mark.parametrize("shape,scaling", [((32, 32, 3), None), ((28, 28, 1), SCALINGS[2]),
                                           ((32, 32, 3), SCALINGS[3])], ids=["rgb-default", "gray", "rgb-perchannel"])
def test_make_dataset_random_augmentation_gives_the_same_batches(shape, scaling):
    x, y = _images(37, shape, 1), np.arange(37) % 10
    extra = np.random.default_rng(2).normal(size=(37, 10)).astype(np.float32)
    train.seed_everything(3)
    got = _epochs(train.make_dataset(x, y, 8, shuffle=True, augment=True, seed=3, extra=extra, scaling=scaling))
    train.seed_everything(3)
    want = _epochs(_ref_make_dataset(x, y, 8, shuffle=True, augment=True, seed=3, extra=extra, scaling=scaling))
    _assert_same_epochs(got, want)
    assert _bits(got[0][0][0]) != _bits(got[1][0][0])   # a new draw each epoch


def test_make_dataset_with_fixed_views_gives_the_same_batches():
    x, y = _images(21, (32, 32, 3), 5), np.arange(21) % 10
    views = train.augment_params(len(x), x.shape[1:], seed=5, view=1)
    train.seed_everything(5)
    got = _epochs(train.make_dataset(x, y, 8, shuffle=True, augment=True, seed=5, views=views, scaling=SCALINGS[2]))
    train.seed_everything(5)
    want = _epochs(_ref_make_dataset(x, y, 8, shuffle=True, augment=True, seed=5, views=views, scaling=SCALINGS[2]))
    _assert_same_epochs(got, want)


class _PixelTeacher:
    """A 'teacher' whose outputs are the first 6 input values of the image it saw, so a change in
    any augmented input shows up in the cached outputs."""

    def __call__(self, x, training=False):
        import tensorflow as tf

        return tf.reshape(x, (tf.shape(x)[0], -1))[:, :6] * 1.5


@pytest.mark.parametrize("shape,scaling", [((32, 32, 3), SCALINGS[3]), ((28, 28, 1), None)], ids=["rgb", "gray"])
def test_cached_teacher_views_and_the_views_dataset_are_unchanged(shape, scaling):
    x, y = _images(29, shape, 6), np.arange(29) % 10
    outs, params = distill.teacher_views(_PixelTeacher(), x, views=3, seed=11, batch_size=8, scaling=scaling)
    r_outs, r_params = _ref_teacher_views(_PixelTeacher(), x, views=3, seed=11, batch_size=8, scaling=scaling)
    assert _bits(outs) == _bits(r_outs) and _bits(params) == _bits(r_params)
    train.seed_everything(11)
    got = _epochs(distill.views_dataset(x, y, outs, params, 8, seed=11, scaling=scaling))
    train.seed_everything(11)
    want = _epochs(_ref_views_dataset(x, y, r_outs, r_params, 8, seed=11, scaling=scaling))
    _assert_same_epochs(got, want)
