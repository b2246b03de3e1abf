"""Knowledge distillation (Hinton et al.): a Keras `Distiller` wrapping a student and a teacher.

loss = alpha * CE(y, softmax(z_s)) + (1 - alpha) * T^2 * KL(p_t^T || softmax(z_s / T))

where p_t^T is the teacher's softened distribution: softmax(z_t / T) from its logits
(`teacher_outputs: logits`), or p^(1/T) renormalised = softmax(log p / T) from its probabilities
(`teacher_outputs: probs`, as the course notebook does). alpha = 1 is plain training, alpha = 0 pure
distillation; the T^2 factor keeps the soft gradients' scale independent of T.
"""
from __future__ import annotations

import numpy as np

TEACHER_OUTPUTS = ("logits", "probs")
_TINY = 1e-12


def soft_log_targets(teacher_out, temperature: float, teacher_outputs: str):
    """log p_t^T from the teacher's logits or probabilities."""
    from keras import ops

    if teacher_outputs == "probs":
        teacher_out = ops.log(ops.clip(teacher_out, _TINY, 1.0))
    return ops.log_softmax(teacher_out / temperature, axis=-1)


def kd_loss_terms(y, student_logits, teacher_out, *, alpha: float, temperature: float,
                  teacher_outputs: str = "logits"):
    """(total, hard, soft) mean losses over the batch; soft already includes the T^2 factor."""
    from keras import ops

    y = ops.cast(ops.reshape(y, (-1,)), "int32")
    log_p_s = ops.log_softmax(student_logits, axis=-1)
    hard = -ops.mean(ops.take_along_axis(log_p_s, ops.expand_dims(y, -1), axis=-1))
    log_t = soft_log_targets(teacher_out, temperature, teacher_outputs)
    log_s_t = ops.log_softmax(student_logits / temperature, axis=-1)
    kl = ops.sum(ops.exp(log_t) * (log_t - log_s_t), axis=-1)
    soft = (temperature ** 2) * ops.mean(kl)
    return alpha * hard + (1.0 - alpha) * soft, hard, soft


def teacher_output_model(teacher, teacher_outputs: str):
    """A callable model giving what the loss expects: logits (softmax stripped) or probabilities."""
    import keras

    from .model_io import ends_in_softmax, strip_softmax

    if teacher_outputs not in TEACHER_OUTPUTS:
        from .errors import ParamError

        raise ParamError("kd.teacher_outputs", teacher_outputs, "one of " + ", ".join(TEACHER_OUTPUTS))
    if teacher_outputs == "logits":
        return strip_softmax(teacher)
    if ends_in_softmax(teacher):
        return teacher
    out = keras.layers.Softmax(name="teacher_probs")(teacher.outputs[0])
    return keras.Model(teacher.inputs, out, name=f"{teacher.name}_probs")


def _build_distiller_class():
    import keras
    import tensorflow as tf

    class Distiller(keras.Model):
        """Trains `student` against labels and a teacher's softened outputs.

        Batches are (x, y) with the teacher run on every batch (needed with augmentation), or
        (x, y, t) with t the teacher's outputs computed once beforehand.

        `student_input` / `teacher_input` (tinykd.data.scaling.InputScaling) turn the batches'
        images into each model's own input, for batches of pixel values (float, unscaled):
        distill() feeds those when the teacher runs online and the two models take their
        pixels differently. None passes the images on as they are (batches already scaled).
        """

        def __init__(self, student, teacher=None, *, alpha: float, temperature: float,
                     teacher_outputs: str = "logits", student_input=None, teacher_input=None, **kwargs):
            super().__init__(**kwargs)
            self.student = student
            self.teacher = teacher
            self.student_input = student_input
            self.teacher_input = teacher_input
            self.alpha = float(alpha)
            self.temperature = float(temperature)
            self.teacher_outputs = teacher_outputs
            self.loss_tracker = keras.metrics.Mean(name="loss")
            self.hard_tracker = keras.metrics.Mean(name="hard_loss")
            self.soft_tracker = keras.metrics.Mean(name="soft_loss")
            self.acc = keras.metrics.SparseCategoricalAccuracy(name="accuracy")

        @property
        def metrics(self):
            return [self.loss_tracker, self.hard_tracker, self.soft_tracker, self.acc]

        @property
        def trained_variables(self):
            """What the training step updates: the student's trainable variables (an online
            teacher's are tracked too). tinykd.resume builds the optimizer over this list to
            restore its state, as the first training step would build it."""
            return self.student.trainable_variables

        def call(self, x, training=False):
            return self.student(self._student_x(x), training=training)

        def _student_x(self, x):
            return x if self.student_input is None else self.student_input.tf(x)

        def _unpack(self, data):
            if len(data) == 3:
                return data
            x, y = data
            if self.teacher is None:
                raise ValueError("Distiller got (x, y) batches but has no teacher to compute outputs")
            xt = x if self.teacher_input is None else self.teacher_input.tf(x)
            return x, y, tf.stop_gradient(self.teacher(xt, training=False))

        def _update(self, y, z_s, total, hard, soft):
            self.loss_tracker.update_state(total)
            self.hard_tracker.update_state(hard)
            self.soft_tracker.update_state(soft)
            self.acc.update_state(y, z_s)
            return {m.name: m.result() for m in self.metrics}

        def train_step(self, data):
            x, y, t = self._unpack(data)
            with tf.GradientTape() as tape:
                z_s = self.student(self._student_x(x), training=True)
                total, hard, soft = kd_loss_terms(y, z_s, t, alpha=self.alpha, temperature=self.temperature,
                                                  teacher_outputs=self.teacher_outputs)
                reg = tf.add_n(self.student.losses) if self.student.losses else 0.0
                objective = total + reg
            variables = self.trained_variables
            grads = tape.gradient(objective, variables)
            self.optimizer.apply_gradients(zip(grads, variables))
            return self._update(y, z_s, total, hard, soft)

        def test_step(self, data):
            x, y, t = self._unpack(data)
            z_s = self.student(self._student_x(x), training=False)
            total, hard, soft = kd_loss_terms(y, z_s, t, alpha=self.alpha, temperature=self.temperature,
                                              teacher_outputs=self.teacher_outputs)
            return self._update(y, z_s, total, hard, soft)

    return Distiller


_DISTILLER = None


def Distiller(*args, **kwargs):  # noqa: N802 - behaves as the class (built lazily: keras import is slow)
    global _DISTILLER
    if _DISTILLER is None:
        _DISTILLER = _build_distiller_class()
    return _DISTILLER(*args, **kwargs)


def teacher_views(t_model, x: np.ndarray, *, views: int, seed: int, batch_size: int = 500, scaling=None):
    """The teacher's outputs on `views` fixed augmented copies of `x` (uint8), each image turned
    into the teacher's input by `scaling` (InputScaling; None = pixels / 255).

    Returns (outputs (n, views, k) float32, params (n, views, 3) int32), params as
    train.augment_params draws them for (seed, view): the student is later shown exactly these
    images, so a cached output always belongs to the image it is paired with.
    """
    from . import train as T
    from .data.scaling import resolve

    scaling = resolve(scaling)
    n = len(x)
    params = np.stack([T.augment_params(n, x.shape[1:], seed, v) for v in range(views)], axis=1)
    outs = []
    for v in range(views):
        part = []
        for i in range(0, n, batch_size):
            xb = scaling.tf(T.apply_augment(x[i:i + batch_size], params[i:i + batch_size, v]))
            part.append(np.asarray(t_model(xb, training=False), np.float32))
        outs.append(np.concatenate(part))
    return np.stack(outs, axis=1), params


def views_dataset(x, y, outputs, params, batch_size: int, seed: int, scaling=None):
    """(augmented image, label, teacher output) batches: each epoch every image is shown as one
    of its cached views, picked at random (stateless, from `seed`) per example and epoch. Images
    go through `scaling` (InputScaling; None = pixels / 255): the student's."""
    import tensorflow as tf

    from . import train as T
    from .data.scaling import resolve

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
        return scaling.tf(T.apply_augment(img, par)), lab, out

    return tf.data.Dataset.zip((ds, seeds)).map(pick, num_parallel_calls=tf.data.AUTOTUNE,
                                                deterministic=True).prefetch(tf.data.AUTOTUNE)


def distill(student, teacher, data: dict, *, alpha: float, temperature: float, teacher_outputs: str,
            epochs: int, batch_size: int, learning_rate: float, augment: bool, seed: int,
            views: int = 16, optimizer_name: str = "adam", live_dir=None, verbose: int = 2,
            on_teacher=None, teacher_input=None, student_input=None, resume_dir=None) -> dict:
    """Train `student` by distillation; returns test metrics (accuracy, hard/soft/total loss).

    `teacher_input` and `student_input` (tinykd.data.scaling.InputScaling, None = pixels / 255)
    say how each model takes its pixels; they may differ. The datasets carry pixel values and
    each model gets its own scaling: the teacher's in its cached and online outputs, the
    student's in its datasets and every evaluation. Only with the teacher online and the two
    scalings different do the batches carry pixel values, scaled per model in the Distiller
    (scaling inside the training step instead of the input pipeline rounds differently, so
    the usual case keeps the pipeline's arithmetic bit for bit).

    Without augmentation the teacher's outputs are computed once per training image. With it,
    they are computed once for each of `views` fixed augmented copies of every image and each
    epoch shows one of them (teacher cost paid once, not every epoch); `views: 0` runs the
    teacher on every augmented batch instead.

    With `resume_dir` (see tinykd.resume) a run killed mid-way continues from its last completed
    epoch when started again with the same settings, teacher and data.
    """
    from . import train as T
    from .data.scaling import PIXELS, resolve

    t_in, s_in = resolve(teacher_input), resolve(student_input)
    if views < 0:
        from .errors import ParamError

        raise ParamError("kd.views", views, "an integer >= 0")
    t_model = teacher_output_model(teacher, teacher_outputs)
    x, y = data["train"]
    if data.get("val") is not None and len(data["val"][0]) and on_teacher is not None:
        # Before training: a weak teacher is worth knowing about before an hour is spent on it.
        on_teacher(float((T.predict(t_model, data["val"][0], scaling=t_in).argmax(axis=1) == data["val"][1]).mean()))
    steps = int(np.ceil(len(x) / batch_size))
    online = augment and views == 0
    per_model = online and t_in != s_in
    distiller = Distiller(student, t_model if online else None, alpha=alpha, temperature=temperature,
                          teacher_outputs=teacher_outputs, student_input=s_in if per_model else None,
                          teacher_input=t_in if per_model else None)
    distiller.compile(optimizer=T.optimizer(learning_rate, epochs, steps, optimizer_name))
    if online:
        train_ds = T.make_dataset(x, y, batch_size, shuffle=True, augment=True, seed=seed,
                                  scaling=PIXELS if per_model else s_in)
    elif augment:
        outs, params = teacher_views(t_model, x, views=views, seed=seed, scaling=t_in)
        train_ds = views_dataset(x, y, outs, params, batch_size, seed, scaling=s_in)
    else:
        train_ds = T.make_dataset(x, y, batch_size, shuffle=True, augment=False, seed=seed,
                                  extra=T.predict(t_model, x, scaling=t_in), scaling=s_in)
    val_ds = None
    val_metrics = {}
    if data.get("val") is not None and len(data["val"][0]):
        xv, yv = data["val"]
        t_val = T.predict(t_model, xv, scaling=t_in)
        val_ds = T.make_dataset(xv, yv, 512, shuffle=False, augment=False, seed=seed, extra=t_val,
                                scaling=PIXELS if per_model else s_in)
        val_metrics["teacher_val_accuracy"] = float((t_val.argmax(axis=1) == yv).mean())
    resume = None
    if resume_dir is not None:
        from . import resume as R

        config = {"distill": [alpha, temperature, teacher_outputs, epochs, batch_size, float(learning_rate),
                              bool(augment), int(seed), views, optimizer_name],
                  "scaling": [t_in.as_dict(), s_in.as_dict()]}
        arrays = [x, y, *(data.get("val") or ()), *(np.asarray(w) for w in t_model.weights)]
        resume = R.Resume(resume_dir, R.fingerprint(config, distiller.student, arrays), live_dir)
    T._fit(distiller, train_ds, val_ds, epochs=epochs, live_dir=live_dir, verbose=verbose, resume=resume)

    if val_ds is not None:
        val_metrics["val_accuracy"] = T.score(T.predict(student, data["val"][0], scaling=s_in), data["val"][1],
                                              probabilities=False)["accuracy"]
    xt, yt = data["test"]
    z_s = T.predict(student, xt, scaling=s_in)
    t_test = T.predict(t_model, xt, scaling=t_in)
    total, hard, soft = (float(v) for v in kd_loss_terms(yt, z_s, t_test, alpha=alpha, temperature=temperature,
                                                          teacher_outputs=teacher_outputs))
    return {
        "test_accuracy": T.score(z_s, yt, probabilities=False)["accuracy"],
        "test_loss": hard,  # plain cross-entropy: comparable with baseline's test_loss
        "test_hard_loss": hard,
        "test_soft_loss": soft,
        "test_kd_loss": total,
        **val_metrics,
        "teacher_cached": not online,
        "augment": bool(augment),
        "views": views if augment and not online else 0,
    }
