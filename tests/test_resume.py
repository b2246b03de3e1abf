"""A training run killed after its second epoch and started again ends with the bytes an
uninterrupted run ends with: weights, optimizer state and the DVCLive curves (tinykd.resume)."""
import csv
import json

import numpy as np
import pytest

from tinykd import distill, models, resume, train

SHAPE = (16, 16, 3)


class Killed(BaseException):
    """Stands for SIGKILL: raised right after the backup of the epoch that ends the run."""


def _data(n=128, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n + 64, *SHAPE), dtype=np.uint8)
    y = rng.integers(0, 4, n + 64)
    return {"train": (x[:n], y[:n]), "val": (x[n:n + 32], y[n:n + 32]), "test": (x[n + 32:], y[n + 32:])}


def _kill_after(monkeypatch, epoch):
    save = resume.Resume._save

    def save_then_die(self, model, done):
        save(self, model, done)
        if done == epoch:
            raise Killed()

    monkeypatch.setattr(resume.Resume, "_save", save_then_die)


def _state(model) -> list[bytes]:
    """Every variable of the model and its optimizer (iterations, slots), as bytes."""
    return [np.asarray(v.numpy()).tobytes() for v in list(model.variables) + list(model.optimizer.variables)]


def _curves(live_dir) -> dict:
    """The DVCLive metric files without their wall-clock timestamps."""
    out = {}
    for tsv in sorted((live_dir / "plots" / "metrics").rglob("*.tsv")):
        rows = list(csv.DictReader(tsv.open(), delimiter="\t"))
        out[tsv.name] = [(r["step"], r[tsv.stem]) for r in rows]
    out["metrics.json"] = json.loads((live_dir / "metrics.json").read_text())
    return out


def _fit(data, tmp_path, name, **kw):
    train.seed_everything(3)
    model = models.build("cnn_small", SHAPE, 4)   # dropout, batch norm, augmentation: every kind of state
    live = tmp_path / f"live-{name}"
    train.fit(model, data, epochs=3, batch_size=32, learning_rate=0.01, augment=True, seed=3, verbose=0,
              live_dir=live, **kw)
    return model, live


@pytest.mark.slow
def test_a_killed_fit_resumes_to_the_bytes_of_an_uninterrupted_run(tmp_path, monkeypatch):
    data = _data()
    plain, plain_live = _fit(data, tmp_path, "plain")                    # no backup at all
    backup = tmp_path / ".m.resume"
    with monkeypatch.context() as m:
        _kill_after(m, 2)
        with pytest.raises(Killed):
            _fit(data, tmp_path, "killed", resume_dir=backup)
    assert (backup / resume.STATE).is_file() and (backup / "live-2").is_dir()
    resumed, _ = _fit(data, tmp_path, "resumed-run", resume_dir=backup)
    assert _state(resumed) == _state(plain)
    assert int(resumed.optimizer.iterations.numpy()) == 3 * 4
    assert not backup.exists()   # removed once the training completed
    # The resumed run's DVCLive folder starts from the killed run's copy: all three epochs.
    live = tmp_path / "live-resumed-run"
    assert _curves(live) == _curves(plain_live) and len(_curves(live)["loss.tsv"]) == 3


@pytest.mark.slow
def test_without_replaying_the_epochs_seeds_the_resumed_run_differs(tmp_path, monkeypatch):
    """The test above can fail: a restarted input pipeline shuffles and augments its epoch 3 as
    epoch 1, and that changes the weights."""
    data = _data()
    plain, _ = _fit(data, tmp_path, "plain")
    backup = tmp_path / ".m.resume"
    with monkeypatch.context() as m:
        _kill_after(m, 2)
        with pytest.raises(Killed):
            _fit(data, tmp_path, "killed", resume_dir=backup)
    monkeypatch.setattr(resume.Resume, "_replay", lambda self: None)
    resumed, _ = _fit(data, tmp_path, "resumed", resume_dir=backup)
    assert _state(resumed) != _state(plain)


@pytest.mark.slow
def test_a_backup_of_other_settings_is_discarded_and_training_starts_over(tmp_path, monkeypatch, capsys):
    data = _data()
    backup = tmp_path / ".m.resume"
    with monkeypatch.context() as m:
        _kill_after(m, 1)
        with pytest.raises(Killed):
            _fit(data, tmp_path, "killed", resume_dir=backup)
    capsys.readouterr()
    x, y = data["train"]
    other = dict(data, train=(x[:-1], y[:-1]))   # other data: the fingerprint differs
    resumed, _ = _fit(other, tmp_path, "other", resume_dir=backup)
    err = capsys.readouterr().err
    assert "discarding the training state" in err and "other settings, model or data" in err
    fresh, _ = _fit(other, tmp_path, "fresh")
    assert _state(resumed) == _state(fresh) and not backup.exists()


def test_a_folder_not_written_by_tinykd_is_refused_and_left_alone(tmp_path):
    from tinykd.errors import TinykdError

    backup = tmp_path / ".m.resume"
    backup.mkdir()
    (backup / "notes.txt").write_text("mine")
    with pytest.raises(TinykdError, match="not a tinykd training backup"):
        _fit(_data(64), tmp_path, "x", resume_dir=backup)
    assert (backup / "notes.txt").read_text() == "mine"


def test_finish_leaves_files_it_did_not_write(tmp_path):
    r = resume.Resume(tmp_path / "b", "f")
    r.folder.mkdir()
    (r.folder / resume.MARKER).write_text(resume.MARKER_TEXT)
    (r.folder / resume.STATE).write_bytes(b"x")
    (r.folder / "notes.txt").write_text("mine")
    r.finish()
    assert sorted(p.name for p in r.folder.iterdir()) == ["notes.txt"]


def test_backup_folder_sits_beside_the_model():
    assert resume.backup_dir_for("models/teacher.keras").as_posix() == "models/.teacher.resume"


@pytest.mark.slow
@pytest.mark.parametrize("views", [2, 0], ids=["cached-views", "online-teacher"])
def test_a_killed_distillation_resumes_to_the_same_bytes(tmp_path, monkeypatch, views):
    data = _data(96)

    def run(name, **kw):
        train.seed_everything(5)
        teacher = models.build("tiny_cnn", SHAPE, 4)
        student = models.build("cnn_small", SHAPE, 4)
        m = distill.distill(student, teacher, data, alpha=0.4, temperature=3.0, teacher_outputs="logits",
                            epochs=3, batch_size=32, learning_rate=0.01, augment=True, seed=5, views=views,
                            verbose=0, live_dir=tmp_path / f"live-{name}", **kw)
        return student, m

    plain, plain_metrics = run("plain")
    backup = tmp_path / ".s.resume"
    with monkeypatch.context() as m:
        _kill_after(m, 2)
        with pytest.raises(Killed):
            run("killed", resume_dir=backup)
    resumed, metrics = run("resumed", resume_dir=backup)
    assert [np.asarray(v.numpy()).tobytes() for v in resumed.variables] == \
           [np.asarray(v.numpy()).tobytes() for v in plain.variables]
    assert metrics == plain_metrics and not backup.exists()


@pytest.mark.slow
def test_the_baseline_stage_killed_with_sigkill_reruns_to_the_same_files(tmp_path):
    """The stage as DVC runs it: SIGKILL as soon as an epoch's backup exists, run again, and the
    model and metrics files are byte for byte those of an uninterrupted run."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    import yaml

    from tinykd.data.store import write_dataset

    repo = Path(__file__).resolve().parents[1]
    d = _data(192)
    write_dataset(tmp_path / "data", d, {"shape": list(SHAPE), "num_classes": 4})
    p = yaml.safe_load((repo / "params.yaml").read_text())
    p["seed"] = 7
    p["student"].update(arch="cnn_small", epochs=6, batch_size=32, learning_rate=0.01, augment=True)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))

    def cmd(name):
        return [sys.executable, str(repo / "stages" / "baseline.py"), "--params", "params.yaml", "--data", "data",
                "--model", f"{name}/baseline.keras", "--metrics", f"{name}/baseline.json", "--live", f"{name}/live"]

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    subprocess.run(cmd("plain"), cwd=tmp_path, env=env, check=True, capture_output=True, timeout=1200)
    state = tmp_path / "run" / ".baseline.resume" / resume.STATE
    proc = subprocess.Popen(cmd("run"), cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not state.exists() and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the stage completed before it could be killed"
    assert not (tmp_path / "run" / "baseline.keras").exists()
    again = subprocess.run(cmd("run"), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resume: continuing after epoch" in again.stderr
    for name in ("baseline.keras", "baseline.json"):
        assert (tmp_path / "run" / name).read_bytes() == (tmp_path / "plain" / name).read_bytes(), name
    assert not (tmp_path / "run" / ".baseline.resume").exists()
