"""``autogt search`` and ``autogt report`` on the command line."""

from __future__ import annotations

import json

import optuna
import pytest

from autogt.cli import main


def test_search_json_contract(tmp_path, capsys):
    code = main(["search", "--data", "nasbench:arxiv", "--space", "nasbench_graph", "--trials", "6",
                 "--controller", "random", "--out", str(tmp_path), "--no-progress", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert {"study", "storage", "trials", "best", "pareto", "checkpoint", "report"} <= set(out)
    assert out["trials"] == 6 and out["checkpoint"] is None
    assert {"spec", "val", "test"} <= set(out["best"])
    assert out["best"]["spec"]["hidden"] == 128  # arxiv protocol: dim 128
    assert out["report"].endswith("report.html")
    study = optuna.load_study(study_name=out["study"], storage=out["storage"])
    assert len(study.trials) == 6


def test_search_multi_objective_and_human_output(tmp_path, capsys):
    code = main(["search", "--data", "nasbench:cs", "--space", "nasbench_graph", "--trials", "8",
                 "--controller", "nsga2", "--objectives", "metric,latency", "--out", str(tmp_path), "--no-progress"])
    assert code == 0
    text = capsys.readouterr().out
    for word in ("study", "best", "metric=", "latency=", "spec", "checkpoint", "report", str(tmp_path)):
        assert word in text


def test_report_command(tmp_path, capsys):
    main(["search", "--data", "nasbench:cora", "--space", "nasbench_graph", "--trials", "3", "--controller",
          "random", "--out", str(tmp_path), "--no-progress", "--json"])
    out = json.loads(capsys.readouterr().out)
    html = tmp_path / "again.html"
    assert main(["report", "--study", out["study"], "--storage", out["storage"], "--out", str(html), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["report"] == str(html)
    assert "Best specs" in html.read_text()


@pytest.mark.parametrize("argv, words", [
    (["--controller", "annealing"], ["unknown controller 'annealing'", "tpe", "nni:TUNER"]),
    (["--objectives", "metric,size"], ["'size' is not allowed", "latency"]),
    (["--space", "nope"], ["bundled:"]),
    (["--trials", "0"], ["--trials"]),
    (["--data", "nasbench:mnist"], ["choose one of cora"]),
])
def test_bad_input_exits_2_with_a_reason(tmp_path, capsys, argv, words):
    base = {"--data": "nasbench:cora", "--space": "nasbench_graph", "--trials": "2"}
    args = ["search", "--out", str(tmp_path), "--no-progress"]
    given = dict(zip(argv[::2], argv[1::2], strict=True))
    for key, value in {**base, **given}.items():
        args += [key, value]
    assert main(args) == 2
    err = capsys.readouterr().err
    for word in words:
        assert word in err
    if "--controller" in given:  # no empty study left behind
        assert optuna.get_all_study_names(f"sqlite:///{tmp_path / 'study.db'}") == []


def test_report_of_unknown_study_exits_2(tmp_path, capsys):
    assert main(["report", "--study", "nope", "--storage", f"sqlite:///{tmp_path}/x.db", "--out",
                 str(tmp_path / "r.html")]) == 2
    assert "not found" in capsys.readouterr().err
