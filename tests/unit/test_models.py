"""Presets and the offline tokenizer: sizes, determinism, and loading through transformers."""

from __future__ import annotations

import json

import pytest

from accelctl.errors import InputError
from accelctl.models import presets, resolve
from accelctl.models import tokenizer as tok


def test_vocabulary_is_deterministic_and_covers_every_byte():
    vocab, merges = tok.vocabulary()
    assert (vocab, merges) == tok.vocabulary()
    assert len(vocab) == len(set(vocab.values())) == tok.vocab_size()
    table = tok.bytes_to_unicode()
    assert all(table[b] in vocab and table[b] + "</w>" in vocab for b in range(256))
    assert vocab[tok.EOS] == len(vocab) - 1


def test_transformers_clip_tokenizer_reads_the_files(tmp_path):
    from transformers import CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(str(tok.write_tokenizer(tmp_path)))
    ids = tokenizer("An astronaut riding a horse, ZEBRA-42!", padding="max_length", max_length=77).input_ids
    assert len(ids) == 77 and ids[0] == tokenizer.bos_token_id
    words = tokenizer.convert_ids_to_tokens(ids[1:4])
    assert words == ["an</w>", "astronaut</w>", "ri"]  # listed words are one token each
    # Words outside the list still tokenize, by bytes; decoding gives the (lower-cased) text back.
    text = tokenizer.decode(ids, skip_special_tokens=True)
    assert "zebra-42" in text.replace(" ", "")
    assert tokenizer.pad_token == "!"


def test_tokenizer_config_is_plain_json_for_both_transformers_majors(tmp_path):
    config = json.loads((tok.write_tokenizer(tmp_path) / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "CLIPTokenizer" and config["model_max_length"] == 77


def _params_on_meta(config: dict, kind: str) -> int:
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    with torch.device("meta"):
        module = {
            "unet": lambda: UNet2DConditionModel(**config),
            "vae": lambda: AutoencoderKL(**config),
            "text": lambda: CLIPTextModel(CLIPTextConfig(**config)),
        }[kind]()
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    ("name", "unet_millions"),
    [("tiny", (0.8, 1.5)), ("small", (90, 98)), ("sd21-random", (860, 870))],
)
def test_preset_sizes_match_their_descriptions(name, unet_millions):
    preset = presets.PRESETS[name]
    low, high = unet_millions
    assert low <= _params_on_meta(preset.unet, "unet") / 1e6 <= high
    if name == "tiny":
        total = sum(_params_on_meta(getattr(preset, k), k) for k in ("unet", "vae", "text"))
        assert 1.4e6 <= total <= 2.5e6


def test_sd21_random_keeps_the_sd21_base_architecture():
    unet = presets.PRESETS["sd21-random"].unet
    assert unet["block_out_channels"] == [320, 640, 1280, 1280]
    assert unet["cross_attention_dim"] == 1024 and unet["use_linear_projection"] is True
    assert presets.PRESETS["sd21-random"].text["num_hidden_layers"] == 23


def test_preset_folder_loads_through_from_pretrained_and_is_reused(monkeypatch, tmp_path):
    monkeypatch.setenv("ACCELCTL_CACHE", str(tmp_path))
    source = resolve("tiny")
    assert source.kind == "preset" and source.path.parent == tmp_path / "presets"
    assert (source.path / "tokenizer" / "merges.txt").is_file()
    again = resolve("tiny")
    assert again.content_sha256 == source.content_sha256  # same seed, same files: not regenerated
    from accelctl.models import load

    pipe = load(source.path)
    assert pipe.unet.config.cross_attention_dim == pipe.text_encoder.config.hidden_size


def test_local_folder_without_model_index_is_input_error(tmp_path):
    with pytest.raises(InputError, match="not a diffusers pipeline folder"):
        resolve(str(tmp_path))


def test_unknown_name_is_input_error_naming_the_choices():
    with pytest.raises(InputError, match="not a preset .*tiny, small, sd21-random"):
        resolve("no-such-model")


def test_uncached_hub_id_offline_fails_with_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(InputError, match="HF_HUB_OFFLINE=1 it must already be cached"):
        resolve("someone/some-model")


def test_cached_hub_id_resolves_offline_to_its_snapshot(monkeypatch, tmp_path):
    import shutil

    import huggingface_hub.constants as constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--acme--tiny-sd"
    shutil.copytree(presets.ensure_preset("tiny"), repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    source = resolve("acme/tiny-sd")
    assert (source.kind, source.name, source.revision) == ("hub", "acme--tiny-sd", commit)
    assert (source.path / "model_index.json").is_file()
