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
        """

        def __init__(self, student, teacher=None, *, alpha: float, temperature: float,
                     teacher_outputs: str = "logits", **kwargs):
            super().__init__(**kwargs)
            self.student = student
            self.teacher = teacher
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

        def call(self, x, training=False):
            return self.student(x, training=training)

        def _unpack(self, data):
            if len(data) == 3:
                return data
            x, y = data
            if self.teacher is None:
                raise ValueError("Distiller got (x, y) batches but has no teacher to compute outputs")
            return x, y, tf.stop_gradient(self.teacher(x, training=False))

        def _update(self, y, z_s, total, hard, soft):
            self.loss_tracker.update_state(total)
            self.hard_tracker.update_state(hard)
            self.soft_tracker.update_state(soft)
            self.acc.update_state(y, z_s)
            return {m.name: m.result() for m in self.metrics}

        def train_step(self, data):
            x, y, t = self._unpack(data)
            with tf.GradientTape() as tape:
                z_s = self.student(x, training=True)
                total, hard, soft = kd_loss_terms(y, z_s, t, alpha=self.alpha, temperature=self.temperature,
                                                  teacher_outputs=self.teacher_outputs)
                reg = tf.add_n(self.student.losses) if self.student.losses else 0.0
                objective = total + reg
            variables = self.student.trainable_variables
            grads = tape.gradient(objective, variables)
            self.optimizer.apply_gradients(zip(grads, variables))
            return self._update(y, z_s, total, hard, soft)

        def test_step(self, data):
            x, y, t = self._unpack(data)
            z_s = self.student(x, training=False)
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


def distill(student, teacher, data: dict, *, alpha: float, temperature: float, teacher_outputs: str,
            epochs: int, batch_size: int, learning_rate: float, augment: bool, seed: int,
            cache_teacher: bool | None = None, live_dir=None, verbose: int = 2) -> dict:
    """Train `student` by distillation; returns test metrics (accuracy, hard/soft/total loss).

    Teacher outputs are computed once and cached unless augmentation changes the images every
    epoch (then the teacher must see the same augmented batch as the student).
    """
    from . import train as T

    if cache_teacher is None:
        cache_teacher = not augment
    if cache_teacher and augment:
        raise ValueError("cached teacher outputs cannot follow augmented images")
    t_model = teacher_output_model(teacher, teacher_outputs)
    x, y = data["train"]
    steps = int(np.ceil(len(x) / batch_size))
    distiller = Distiller(student, None if cache_teacher else t_model, alpha=alpha, temperature=temperature,
                          teacher_outputs=teacher_outputs)
    distiller.compile(optimizer=T.optimizer(learning_rate, epochs, steps))
    extra = T.predict(t_model, x) if cache_teacher else None
    train_ds = T.make_dataset(x, y, batch_size, shuffle=True, augment=augment, seed=seed, extra=extra)
    val_ds = None
    if data.get("val") is not None and len(data["val"][0]):
        xv, yv = data["val"]
        val_ds = T.make_dataset(xv, yv, 512, shuffle=False, augment=False, seed=seed, extra=T.predict(t_model, xv))
    live = T.open_live(live_dir)
    callbacks = []
    if live is not None:
        from dvclive.keras import DVCLiveCallback

        callbacks.append(DVCLiveCallback(live=live))
    distiller.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=callbacks, verbose=verbose)
    if live is not None:
        live.end()

    xt, yt = data["test"]
    z_s = T.predict(student, xt)
    t_test = T.predict(t_model, xt)
    total, hard, soft = (float(v) for v in kd_loss_terms(yt, z_s, t_test, alpha=alpha, temperature=temperature,
                                                          teacher_outputs=teacher_outputs))
    return {
        "test_accuracy": T.score(z_s, yt, probabilities=False)["accuracy"],
        "test_loss": hard,  # plain cross-entropy: comparable with baseline's test_loss
        "test_hard_loss": hard,
        "test_soft_loss": soft,
        "test_kd_loss": total,
        "teacher_cached": bool(cache_teacher),
    }
