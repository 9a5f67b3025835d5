"""The sampler benches' NAME:STEPS[:GUIDANCE[:specks|boxes]] settings and their text."""

import argparse

import pytest

from bench.sampler_settings import sampler_spec, spec_text


@pytest.mark.parametrize("text, specks, boxes", [("dpm++:25", False, False), ("ddim:50:2:specks", True, False),
                                                 ("dpm++:10:4:boxes", True, True)])
def test_a_spec_names_sampler_steps_guidance_and_vehicle_clean_up_and_reads_back(text, specks, boxes):
    settings = sampler_spec(text)
    assert (settings.remove_specks, settings.vehicle_boxes, settings.guidance_from) == (specks, boxes, None)
    assert sampler_spec(spec_text(settings)) == settings


@pytest.mark.parametrize("text, message", [("dpm++:25:4:tidy", "unknown vehicle clean-up 'tidy'"),
                                           ("euler:25", "unknown sampler"), ("dpm++:many", "invalid literal")])
def test_a_bad_spec_says_what_is_wrong(text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        sampler_spec(text)
