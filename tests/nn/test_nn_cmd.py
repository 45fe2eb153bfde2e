"""`attento neuron` and `attento nn-demo` through the CLI entry point."""

from __future__ import annotations

import json
import math

import pytest

from attento.cli import main


def test_neuron_json_is_the_weighted_sum_and_both_activations(capsys) -> None:
    rc = main(
        [
            "neuron",
            "--inputs=-1,0.5,2",
            "--weights",
            "0.3,0.8,-0.25",
            "--bias",
            "0.2",
            "--activation",
            "tanh",
            "--json",
        ]
    )
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["products"] == pytest.approx([-0.3, 0.4, -0.5])
    assert out["z"] == pytest.approx(-0.3 + 0.4 - 0.5 + 0.2)
    assert out["fires"] == 0  # z = -0.2 does not exceed the threshold 0
    assert out["output"] == pytest.approx(math.tanh(-0.2))
    assert out["derivative"] == pytest.approx(1 - math.tanh(-0.2) ** 2)


def test_neuron_threshold_decides_all_or_nothing(capsys) -> None:
    main(["neuron", "--inputs", "1,1", "--weights", "0.5,0.5", "--bias", "0", "--threshold", "0.9"])
    text = capsys.readouterr().out
    assert "1 × 0.5 = 0.5" in text
    assert "-> 1 (fires)" in text
    main(["neuron", "--inputs", "1,1", "--weights", "0.5,0.5", "--bias", "0", "--threshold", "1.5"])
    assert "-> 0 (stays silent)" in capsys.readouterr().out


def test_neuron_default_text_shows_each_step(capsys) -> None:
    assert main(["neuron", "--activation", "gelu"]) == 0
    text = capsys.readouterr().out
    for needle in ["x1 · w1", "Σ", "step (all or nothing)", "gelu(z) ="]:
        assert needle in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--inputs", "1,a"], "--inputs must be comma-separated numbers, got 'a'"),
        (["--inputs", "1,2", "--weights", "1,2,3"], "2 inputs but 3 weights"),
        (["--inputs", "1,inf", "--weights", "1,2"], "finite numbers"),
        (["--weights", "1,,2"], "--weights must be comma-separated numbers"),
    ],
)
def test_neuron_bad_input_is_one_line_and_exit_2(capsys, argv, message) -> None:
    assert main(["neuron", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_nn_demo_json_summary_and_pngs(tmp_path, capsys) -> None:
    rc = main(["nn-demo", "--out", str(tmp_path), "--steps", "200", "--points", "40", "--json"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["xor"]["tanh"] == 1.0
    assert summary["xor"]["linear"] <= 0.75
    assert {"linear", "step", "tanh", "relu", "gelu_tanh"} <= set(summary["spirals"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["activations.png", "spirals_boundary.png"]


def test_nn_demo_rejects_zero_steps(capsys) -> None:
    assert main(["nn-demo", "--steps", "0"]) == 2
    assert "--steps" in capsys.readouterr().err


def test_nn_demo_bad_points_are_said_in_the_chosen_language(tmp_path, capsys) -> None:
    out = tmp_path / "nn"
    assert main(["nn-demo", "--points", "1", "--lang", "it", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--points almeno 2" in err and err.count("\n") == 1
    assert not out.exists()


def test_neuron_defaults_are_its_settings(capsys) -> None:
    from attento.nn.neuron import NeuronSettings

    assert main(["neuron", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    s = NeuronSettings()
    assert (tuple(out["inputs"]), tuple(out["weights"])) == (s.inputs, s.weights)
    assert (out["bias"], out["threshold"], out["activation"]) == (s.bias, s.threshold, s.activation)
