"""Reduced precision in training: off on the CPU unless asked, and checked against float32 first."""

import pytest
import torch

from core.train.common import autocast_dtype, checked_autocast, precision_name, reduced_precision_faults
from core.types import InputError

CPU = torch.device("cpu")


def cancelling_model() -> torch.nn.Module:
    """A linear layer whose result is a difference of nearly equal terms: 1024·1 − 1023·1 = 1 in float32,
    but bfloat16 rounds 1023 to 1024 and gives 0, like a backend that computes a wrong result."""
    model = torch.nn.Sequential(torch.nn.Linear(2, 1, bias=False), torch.nn.ReLU())
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1024.0, -1023.0]]))
    return model


def test_the_cpu_trains_in_float32_unless_asked():
    assert autocast_dtype("auto", CPU) is None
    assert autocast_dtype("off", CPU) is None
    assert autocast_dtype("on", CPU) == torch.bfloat16
    assert precision_name(None) == "float32" and precision_name(torch.bfloat16) == "bfloat16"


def test_a_module_whose_reduced_precision_result_is_wrong_is_named():
    model = cancelling_model()
    faults = reduced_precision_faults(model, lambda: model(torch.ones(4, 2)), torch.bfloat16, CPU)
    assert len(faults) == 1 and faults[0].startswith("0 (Linear") and "relative error 1.00" in faults[0]


def test_an_ordinary_model_has_no_faults():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.SiLU(), torch.nn.Conv2d(8, 4, 2, stride=2),
                                torch.nn.Flatten(), torch.nn.LayerNorm(64), torch.nn.Linear(64, 5))
    assert reduced_precision_faults(model, lambda: model(torch.randn(2, 3, 8, 8)), torch.bfloat16, CPU) == []


def test_asking_for_reduced_precision_that_computes_wrong_results_is_an_error():
    model = cancelling_model()
    with pytest.raises(InputError, match=r"bfloat16 autocast computes wrong results.*0 \(Linear.*--amp off"):
        checked_autocast("on", CPU, model, lambda: model(torch.ones(4, 2)))


def test_checked_autocast_gives_the_precision_when_the_model_computes_right():
    model = torch.nn.Linear(4, 3)
    assert checked_autocast("on", CPU, model, lambda: model(torch.randn(2, 4))) == torch.bfloat16

    def never_called():
        raise AssertionError("no check without autocast")
    assert checked_autocast("auto", CPU, model, never_called) is None


@pytest.mark.parametrize("native", [True, False])
def test_bfloat16_on_a_cpu_without_its_instructions_is_warned_of(monkeypatch, capsys, native):
    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        monkeypatch.setattr(torch.cpu, name, lambda: native, raising=False)
    model = torch.nn.Linear(4, 3)
    assert checked_autocast("on", CPU, model, lambda: model(torch.randn(2, 4))) == torch.bfloat16
    warned = "no bfloat16 instructions" in capsys.readouterr().err
    assert warned != native
