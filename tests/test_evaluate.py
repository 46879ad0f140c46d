"""`keras-facesr evaluate` on LFW- and CelebA-layout fixtures built here, and its metrics."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from conftest import run_cli, smooth_face_like
from test_losses import _conv_encoder

from keras_facesr.evaluate import EvaluateError, read_faces, roc_auc, tar_at_far


def _person(rng: np.random.Generator, base: np.ndarray) -> np.ndarray:
    """Another 'photo' of the person ``base``: small noise and brightness change."""
    noisy = base.astype(np.float32) * rng.uniform(0.9, 1.1) + rng.normal(0, 6, base.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def _identities(n_people=4, per_person=3, seed=0):
    rng = np.random.default_rng(seed)
    return {f"person_{p}": [_person(rng, b) for _ in range(per_person)]
            for p, b in enumerate(smooth_face_like(rng, 64) for _ in range(n_people))}


@pytest.fixture
def lfw_tree(tmp_path):
    root = tmp_path / "lfw"
    people = _identities()
    lines = []
    for name, images in people.items():
        (root / name).mkdir(parents=True)
        for k, img in enumerate(images, 1):
            cv2.imwrite(str(root / name / f"{name}_{k:04d}.jpg"), img)
        lines += [f"{name}\t1\t2", f"{name}\t2\t3"]
    names = list(people)
    lines += [f"{a}\t1\t{b}\t2" for a, b in zip(names, names[1:] + names[:1], strict=True)]
    (root / "pairs.txt").write_text(f"1\t{len(lines)}\n" + "\n".join(lines) + "\n")
    return root


@pytest.fixture
def celeba_tree(tmp_path):
    root = tmp_path / "celeba"
    (root / "img_align_celeba").mkdir(parents=True)
    rows, k = [], 1
    for identity, images in enumerate(_identities(seed=1).values()):
        for img in images:
            cv2.imwrite(str(root / "img_align_celeba" / f"{k:06d}.jpg"), img)
            rows.append(f"{k:06d}.jpg {identity + 100}")
            k += 1
    (root / "identity_CelebA.txt").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture
def judge(tmp_path):
    path = tmp_path / "judge.keras"
    _conv_encoder().save(path)
    path.with_suffix(".keras.json").write_text(json.dumps({"normalisation": "-1_1"}))
    return path


@pytest.fixture(scope="module")
def generator(tmp_path_factory):
    from keras_facesr.models.archs.generator import build_generator
    from keras_facesr.models.info import ModelInfo, write_model_info

    path = tmp_path_factory.mktemp("g") / "tiny.keras"
    build_generator("edge", 4).save(path)
    write_model_info(path, ModelInfo("tiny-x4", 4, 16, identity_encoder="sface"))
    return path


def test_layouts_are_recognised(lfw_tree, celeba_tree, tmp_path):
    lfw = read_faces(lfw_tree)
    assert lfw.layout == "lfw" and len(lfw.files) == 12 and len(lfw.pairs) == 12
    assert sum(g for *_, g in lfw.pairs) == 8
    celeba = read_faces(celeba_tree)
    assert celeba.layout == "celeba" and len(celeba.files) == 12
    assert all((celeba.identities[i] == celeba.identities[j]) == g for i, j, g in celeba.pairs)
    (lfw_tree / "pairs.txt").write_text("1\t1\nperson_0\t1\n")
    with pytest.raises(EvaluateError, match=r"pairs.txt:2: expected"):
        read_faces(lfw_tree)


def test_verification_metrics():
    genuine = np.array([0.9, 0.8, 0.7, 0.3])
    impostor = np.array([0.1, 0.2, 0.4, 0.35])
    assert roc_auc(genuine, impostor) == pytest.approx(14 / 16)  # 0.3 loses to 0.4 and 0.35
    assert roc_auc(np.array([1.0]), np.array([1.0])) == 0.5
    assert tar_at_far(genuine, impostor, far=0.01) == pytest.approx(0.75)


@pytest.mark.parametrize("layout", ["lfw", "celeba"])
def test_cli_reports_every_method_and_metric(layout, lfw_tree, celeba_tree, judge, generator, tmp_path):
    data = lfw_tree if layout == "lfw" else celeba_tree
    out = tmp_path / "result.json"
    proc = run_cli("evaluate", str(data), "--model", str(generator), "--judge", str(judge),
                   "--aligned", "--hr-size", "64", "--json", str(out), "--roc", str(tmp_path / "roc.png"))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert set(result["methods"]) == {"hr", "bicubic", "tiny-x4"}
    for method in ("bicubic", "tiny-x4"):
        assert {"psnr", "ssim", "id_cosine", "roc_auc", "tar_at_far"} <= set(result["methods"][method])
    assert {"roc_auc", "tar_at_far"} <= set(result["methods"]["hr"])
    # the untrained edge generator is exactly bilinear: a little below bicubic, never equal
    assert result["methods"]["tiny-x4"]["psnr"] != result["methods"]["bicubic"]["psnr"]
    assert "psnr" not in result["methods"]["hr"]  # the reference itself
    expected = {"genuine": 8, "impostor": 4} if layout == "lfw" else {"genuine": 12, "impostor": 12}
    assert result["pairs"] == expected
    assert "bicubic" in proc.stdout and "roc_auc" in proc.stdout
    assert cv2.imread(str(tmp_path / "roc.png")).shape == (520, 520, 3)


def test_without_model_the_hr_and_bicubic_rows_and_auto_judge_refusal(lfw_tree, judge, generator):
    proc = run_cli("evaluate", str(lfw_tree), "--judge", str(judge), "--aligned", "--hr-size", "64")
    assert proc.returncode == 0, proc.stderr
    rows = [line.split()[0] for line in proc.stdout.splitlines()[3:]]
    assert rows == ["-------", "hr", "bicubic"] or rows == ["hr", "bicubic"]
    # auto judge: none is installed in the tests, and the model's own encoder is never chosen
    proc = run_cli("evaluate", str(lfw_tree), "--model", str(generator), "--aligned")
    assert proc.returncode == 1 and "no judge encoder is available" in proc.stderr
    proc = run_cli("evaluate", str(lfw_tree / "missing"), "--judge", "none")
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1].endswith("no such file or folder")


def test_fidelity_rows_several_folders_and_misframing(lfw_tree, celeba_tree, judge, generator,
                                                      monkeypatch):
    """Several folders form one set; each --fidelity is a row (0 = bicubic exactly); --jitter
    misframes the faces reproducibly; --mirror gives mirror-averaged rows."""
    from keras_facesr.evaluate import evaluate

    folders = [lfw_tree / "person_0", celeba_tree / "img_align_celeba"]
    result = evaluate(folders, [generator], 4, 64, "area", str(judge), aligned=True,
                      fidelity=(1.0, 0.5, 0.0), back_project=2, echo=lambda m: None)
    assert result["faces"] == 3 + 12
    rows = result["methods"]
    assert {"tiny-x4 bp2", "tiny-x4 w=0.5 bp2", "tiny-x4 w=0 bp2"} <= set(rows)
    plain = evaluate(folders, [generator], 4, 64, "area", str(judge), aligned=True,
                     fidelity=(0.0,), echo=lambda m: None)["methods"]
    assert plain["tiny-x4 w=0"]["psnr"] == pytest.approx(plain["bicubic"]["psnr"], abs=0.05)
    shaken = [evaluate(folders[:1], [], 4, 64, "area", str(judge), aligned=True, jitter=0.1,
                       echo=lambda m: None)["methods"]["bicubic"]["psnr"] for _ in range(2)]
    still = evaluate(folders[:1], [], 4, 64, "area", str(judge), aligned=True,
                     echo=lambda m: None)["methods"]["bicubic"]["psnr"]
    assert shaken[0] == shaken[1] != still
    from keras_facesr.pipeline import sr

    calls = []

    def spy(model, lr, mirror=False):
        calls.append(mirror)
        return real(model, lr, mirror)

    real = sr.super_resolve
    monkeypatch.setattr(sr, "super_resolve", spy)
    raw, mirrored = (evaluate(folders[:1], [generator], 4, 64, "area", str(judge), aligned=True,
                              fidelity=(1.0,), mirror=on, echo=lambda m: None) for on in (False, True))
    assert calls == [False, True] and mirrored["mirror"] and not raw["mirror"]
    assert set(mirrored["methods"]) - set(raw["methods"]) == {"tiny-x4 mirror"}


def test_two_models_of_one_name_keep_a_row_each(lfw_tree, judge, generator, tmp_path):
    """A copied sidecar gives two files one model name: each keeps its row, named by its file."""
    import shutil

    from keras_facesr.evaluate import evaluate

    twin = tmp_path / "twin.keras"
    shutil.copy(generator, twin)
    shutil.copy(f"{generator}.json", f"{twin}.json")
    rows = evaluate(lfw_tree / "person_0", [generator, twin], 4, 64, "area", str(judge), aligned=True,
                    fidelity=(0.5,), echo=lambda m: None)["methods"]
    assert {f"tiny-x4 ({generator}) w=0.5", f"tiny-x4 ({twin}) w=0.5"} <= set(rows)
    assert rows[f"tiny-x4 ({generator}) w=0.5"]["psnr"] == rows[f"tiny-x4 ({twin}) w=0.5"]["psnr"]
